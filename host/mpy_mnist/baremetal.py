"""Bare-metal Cortex-M7 programs (benchmarks/baremetal/) on QEMU's mps2-an500, with exact instruction counts.

A program is one C file from benchmarks/baremetal plus engine sources it tests; it prints through semihosting and
its exit status is QEMU's. Counting uses our TCG plugin (insn_plugin.py) with the engine's region marker
(kernels/arm/profile.c), so the same protocol serves these programs and the MicroPython firmware.
"""

import hashlib
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from . import insn_plugin, paths

HARNESS_DIR = paths.REPO_ROOT / "benchmarks" / "baremetal"
CFLAGS = ["-mcpu=cortex-m7", "-mthumb", "-O2", "-std=c99", "-Wall", "-Wextra", "-ffunction-sections"]
QEMU_TIMEOUT = 600


class BaremetalError(RuntimeError):
    """A program failed to build or to run; the message carries the compiler's or the program's output."""


def _tool(name: str, package: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise BaremetalError(f"{name} not found: apt-get install {package}")
    return path


def build(program: str, harness_sources=(), engine_sources=(), defines=()) -> Path:
    """Compile benchmarks/baremetal/<program>.c with startup code, other harness files (names without .c) and
    engine sources (paths relative to the engine directory) into an ELF in the cache, rebuilt whenever a source
    or flag changes."""
    gcc = _tool("arm-none-eabi-gcc", "gcc-arm-none-eabi libnewlib-arm-none-eabi")
    sources = [HARNESS_DIR / f"{program}.c", HARNESS_DIR / "startup.c",
               paths.ENGINE_DIR / "kernels" / "arm" / "profile.c"]
    sources += [HARNESS_DIR / f"{name}.c" for name in harness_sources]
    sources += [paths.ENGINE_DIR / source for source in engine_sources]
    flags = CFLAGS + [f"-D{define}" for define in defines] + [f"-I{HARNESS_DIR}", f"-I{paths.ENGINE_DIR}"]
    digest = hashlib.sha256(" ".join(flags).encode())
    for source in sources + sorted(HARNESS_DIR.glob("*.h")) + sorted(paths.ENGINE_DIR.rglob("*.h")):
        digest.update(source.read_bytes())
    elf = paths.cache_dir() / "baremetal" / f"{program}-{digest.hexdigest()[:12]}.elf"
    if elf.exists():
        return elf
    elf.parent.mkdir(parents=True, exist_ok=True)
    command = [gcc, *flags, "-nostartfiles", "-Wl,--gc-sections", f"-T{HARNESS_DIR / 'mps2_an500.ld'}",
               "-o", str(elf), *map(str, sources), "-lc", "-lgcc"]
    run = subprocess.run(command, capture_output=True, text=True)
    if run.returncode != 0:
        raise BaremetalError(f"building {program} failed:\n{run.stderr}")
    return elf


@dataclass
class Run:
    output: str
    windows: list  # insn_plugin.Window per measured window, when counted


def run(elf: Path, count: bool = True, timeout: float = QEMU_TIMEOUT) -> Run:
    """Run a program to its exit; with `count`, the plugin's windows (one per return to region 0)."""
    qemu = _tool("qemu-system-arm", "qemu-system-arm")
    output = elf.with_suffix(".out")
    output.unlink(missing_ok=True)
    command = [qemu, "-M", "mps2-an500", "-display", "none", "-monitor", "none", "-serial", "none",
               "-chardev", f"file,id=semihosting,path={output}",
               "-semihosting-config", "enable=on,target=native,chardev=semihosting", "-kernel", str(elf)]
    report = elf.with_suffix(".insns")
    if count:
        symbols = insn_plugin.read_symbols(elf)
        command += ["-plugin", insn_plugin.plugin_arguments(insn_plugin.build_plugin(), symbols, report,
                                                            "tfl_profile_mark", "tfl_profile_sink")]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as timeout_error:
        raise BaremetalError(f"{elf.name} did not finish within {timeout} s") from timeout_error
    printed = output.read_text() if output.exists() else ""
    if done.returncode != 0:
        raise BaremetalError(f"{elf.name} exited with status {done.returncode}:\n{printed}{done.stderr}")
    return Run(printed, insn_plugin.read_report(report) if count else [])
