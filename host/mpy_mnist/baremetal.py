"""Bare-metal Cortex-M7 programs (benchmarks/baremetal/) on QEMU's mps2-an500, with exact instruction counts.

A program is one C file from benchmarks/baremetal plus engine sources it tests; it prints through semihosting and
its exit status is QEMU's. Counting uses our TCG plugin (insn_plugin.py) with the engine's region marker
(profile.c), so the same protocol serves these programs and the MicroPython firmware.
"""

import hashlib
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from . import engine, firmware, insn_plugin, paths

HARNESS_DIR = paths.REPO_ROOT / "benchmarks" / "baremetal"
CFLAGS = ["-mcpu=cortex-m7", "-mthumb", "-O2", "-std=c99", "-Wall", "-Wextra", "-ffunction-sections"]
# Exactly as the firmware compiles the engine: the boards' flags (firmware.DISCO_CFLAGS; the emulator board uses
# the same machine flags), -fno-single-precision-constant as both boards give the tflite objects (its quantisation
# maths is double, like TFLM's) and -ffp-contract=off as cmodules/tflite/micropython.mk adds (no fused
# multiply-adds, like TFLM). Harness files compile with them too.
FIRMWARE_CFLAGS = [*firmware.DISCO_CFLAGS, "-fno-single-precision-constant", "-ffp-contract=off"]
QEMU_TIMEOUT = 600


class BaremetalError(RuntimeError):
    """A program failed to build or to run; the message carries the compiler's or the program's output."""


def _tool(name: str, package: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise BaremetalError(f"{name} not found: apt-get install {package}")
    return path


def build(program: str, harness_sources=(), engine_sources=(), defines=(), cflags=CFLAGS) -> Path:
    """Compile benchmarks/baremetal/<program>.c with startup code, other harness files (names without .c, or
    paths of generated files) and
    engine sources into an ELF in the cache, rebuilt whenever a source or flag changes. An engine source is a
    path (absolute, or relative to the engine directory), or (path, extra flags) to compile that file its own
    way."""
    gcc = _tool("arm-none-eabi-gcc", "gcc-arm-none-eabi libnewlib-arm-none-eabi")
    units = [(HARNESS_DIR / f"{name}.c" if isinstance(name, str) else Path(name), ())
             for name in (program, "startup", *harness_sources)]
    for source in ["profile.c", *engine_sources]:  # the region marker, in every program
        path, extra = (source, ()) if isinstance(source, (str, Path)) else source
        if (paths.ENGINE_DIR / path, tuple(extra)) not in units:
            units.append((paths.ENGINE_DIR / path, tuple(extra)))
    flags = list(cflags) + [f"-D{define}" for define in defines] + [f"-I{HARNESS_DIR}", f"-I{paths.ENGINE_DIR}"]
    digest = hashlib.sha256(repr((flags, [(str(path), extra) for path, extra in units])).encode())
    for path in [path for path, _ in units] + sorted(HARNESS_DIR.glob("*.h")) + sorted(paths.ENGINE_DIR.rglob("*.h")):
        digest.update(path.read_bytes())
    elf = paths.cache_dir() / "baremetal" / f"{program}-{digest.hexdigest()[:12]}.elf"
    if elf.exists():
        return elf
    objects_dir = elf.with_suffix(".objects")
    objects_dir.mkdir(parents=True, exist_ok=True)
    objects = []
    for index, (path, extra) in enumerate(units):
        obj = objects_dir / f"{index}-{path.stem}.o"
        _compile([gcc, *flags, *extra, "-c", "-o", str(obj), str(path)], program)
        objects.append(str(obj))
    _compile([gcc, *cflags, "-nostartfiles", "-Wl,--gc-sections", f"-T{HARNESS_DIR / 'mps2_an500.ld'}",
              "-o", str(elf), *objects, "-lm", "-lc", "-lgcc"], program)
    return elf


def _compile(command: list, program: str) -> None:
    run = subprocess.run(command, capture_output=True, text=True)
    if run.returncode != 0:
        raise BaremetalError(f"building {program} failed:\n{run.stderr}")


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


# The reference kernels that have DSP variants (kernels/arm/): kernel_check links both and runs each pair.
CHECKED_KERNELS = ("conv", "fully_connected", "depthwise_conv", "pooling")


def kernel_check(cases: int, seed: int) -> str:
    """Run benchmarks/baremetal/kernel_check.c (DSP against reference kernels on random cases); its output."""
    variants = [source for source in engine.engine_sources() if source.parent.name == "arm"]
    sources = ["quant.c", "kernels/common.c", *[f"kernels/{name}.c" for name in CHECKED_KERNELS], *variants]
    elf = build("kernel_check", (), sources, defines=(f"CASES={cases}", f"SEED={seed}"), cflags=FIRMWARE_CFLAGS)
    return run(elf, count=False).output
