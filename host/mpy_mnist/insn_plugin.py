"""Our QEMU instruction-counting plugin (tools/qemu-insn-plugin/insn_count.c): build it, describe a firmware's
functions to it, read its report.

The plugin is compiled against include/qemu/qemu-plugin.h of the QEMU that runs it (Debian bookworm's 7.2). We
vendor nothing: the first build fetches Debian's `qemu` source package with apt (a temporary deb-src list built
from the machine's own apt sources) and keeps only that header in the cache.
"""

import re
import shutil
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from . import paths

PLUGIN_SOURCE = paths.REPO_ROOT / "tools" / "qemu-insn-plugin" / "insn_count.c"
HEADER_NAME = "qemu-plugin.h"
DEBIAN_SUITE = "bookworm"


class PluginError(RuntimeError):
    """The plugin cannot be built or its report cannot be read; the message says why and what to do."""


def plugin_dir() -> Path:
    return paths.cache_dir() / "qemu-insn-plugin"


def _apt_source_uri() -> str:
    """The Debian mirror this machine already uses, read from its apt configuration."""
    for sources in sorted(Path("/etc/apt/sources.list.d").glob("*.sources")):
        match = re.search(r"^URIs:\s*(\S+/debian)/?\s*$", sources.read_text(), re.MULTILINE)
        if match:
            return match.group(1)
    for line in Path("/etc/apt/sources.list").read_text().splitlines() if Path("/etc/apt/sources.list").exists() else []:
        match = re.match(r"deb\s+(?:\[[^]]*\]\s+)?(\S+/debian)/?\s", line)
        if match:
            return match.group(1)
    raise PluginError("no Debian mirror found in /etc/apt: cannot fetch QEMU's plugin header")


def _fetch_header(destination: Path) -> None:
    """apt-get source --download-only qemu into a scratch directory, keep include/qemu/qemu-plugin.h."""
    if shutil.which("apt-get") is None:
        raise PluginError("apt-get not found: the plugin header comes from Debian's qemu source package")
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        (root / "lists" / "partial").mkdir(parents=True)
        (root / "cache").mkdir()
        (root / "parts").mkdir()
        (root / "sources.list").write_text(
            f"deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] {_apt_source_uri()} "
            f"{DEBIAN_SUITE} main\n")
        options = ["-o", f"Dir::Etc::SourceList={root / 'sources.list'}", "-o", f"Dir::Etc::SourceParts={root / 'parts'}",
                   "-o", f"Dir::State::Lists={root / 'lists'}", "-o", f"Dir::Cache={root / 'cache'}", "-q"]
        for command in (["apt-get", *options, "update"], ["apt-get", *options, "source", "--download-only", "qemu"]):
            run = subprocess.run(command, cwd=root, capture_output=True, text=True)
            if run.returncode != 0:
                raise PluginError(f"{' '.join(command[:1] + command[-2:])} failed:\n{run.stderr.strip()}")
        tarballs = sorted(root.glob("qemu_*.orig.tar.*"))
        if not tarballs:
            raise PluginError("apt-get source qemu gave no .orig tarball")
        with tarfile.open(tarballs[0]) as tar:
            for member in tar:
                if member.name.endswith("/include/qemu/" + HEADER_NAME):
                    destination.write_bytes(tar.extractfile(member).read())
                    return
    raise PluginError(f"{HEADER_NAME} not found in {tarballs[0].name}")


def build_plugin() -> Path:
    """Path of insn_count.so, compiled if missing or older than its source."""
    directory = plugin_dir()
    directory.mkdir(parents=True, exist_ok=True)
    header = directory / "include" / HEADER_NAME
    if not header.exists():
        header.parent.mkdir(exist_ok=True)
        _fetch_header(header)
    library = directory / "insn_count.so"
    if library.exists() and library.stat().st_mtime >= PLUGIN_SOURCE.stat().st_mtime:
        return library
    compiler = shutil.which("gcc") or shutil.which("cc")
    if compiler is None:
        raise PluginError("no host C compiler: apt-get install gcc")
    run = subprocess.run([compiler, "-O2", "-Wall", "-Wextra", "-shared", "-fPIC", f"-I{header.parent}",
                          "-o", str(library), str(PLUGIN_SOURCE)], capture_output=True, text=True)
    if run.returncode != 0:
        raise PluginError(f"building the plugin failed:\n{run.stderr}")
    return library


@dataclass
class Symbols:
    """Where a firmware's functions and the profiling marker sit."""
    functions: list  # (start, end, name), sorted by start
    addresses: dict  # name -> address (data and code, Thumb bit cleared)

    def function_range(self, name: str) -> tuple:
        for start, end, function in self.functions:
            if function == name:
                return start, end
        raise PluginError(f"function {name} not in the firmware's symbol table")


def read_symbols(elf: Path) -> Symbols:
    """Functions (with sizes) and all symbol addresses of an ARM ELF, from arm-none-eabi-nm."""
    nm = shutil.which("arm-none-eabi-nm")
    if nm is None:
        raise PluginError("arm-none-eabi-nm not found: apt-get install binutils-arm-none-eabi")
    listing = subprocess.run([nm, "-S", "-n", "--defined-only", str(elf)], capture_output=True, text=True, check=True)
    functions, addresses = [], {}
    for line in listing.stdout.splitlines():
        fields = line.split()
        if len(fields) == 4:
            address, size, kind, name = int(fields[0], 16) & ~1, int(fields[1], 16), fields[2], fields[3]
            if kind in "Tt" and size > 0:
                functions.append((address, address + size, name))
        elif len(fields) == 3:
            address, kind, name = int(fields[0], 16) & ~1, fields[1], fields[2]
        else:
            continue
        addresses[name] = address
    functions.sort()
    return Symbols(functions, addresses)


def plugin_arguments(library: Path, symbols: Symbols, report: Path, marker: str, sink: str) -> str:
    """The value of QEMU's -plugin option: count by function, split into regions by the guest's marker."""
    function_map = report.with_suffix(".funcs")
    function_map.write_text("".join(f"{start:x} {end:x} {name}\n" for start, end, name in symbols.functions))
    low, high = symbols.function_range(marker)
    return f"{library},out={report},funcs={function_map},marker={low:x}-{high:x},sink={symbols.addresses[sink]:x}"


@dataclass
class Window:
    """One measured stretch of guest execution: instructions per region and per function inside each region."""
    regions: dict = field(default_factory=dict)    # region -> instructions
    functions: dict = field(default_factory=dict)  # region -> {function name: instructions}

    @property
    def total(self) -> int:
        return sum(self.regions.values())


def read_report(report: Path) -> list:
    """The complete windows in a plugin report, oldest first."""
    windows, current = [], None
    for line in report.read_text().splitlines() if report.exists() else []:
        fields = line.split()
        if fields[0] == "window":
            current = Window()
        elif fields[0] == "region":
            current.regions[int(fields[1])] = int(fields[2])
        elif fields[0] == "func":
            current.functions.setdefault(int(fields[1]), {})[fields[3]] = int(fields[2])
        elif fields[0] == "end":
            windows.append(current)
    return windows
