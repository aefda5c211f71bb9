"""`mpy-mnist bench`: how fast and how big our engine is, next to the TFLM runtime.

Figures, for one .tflite model:
- MACs of each op, from the model's shapes (LiteRT's interpreter reads them);
- instructions of each op on the emulated Cortex-M7 (QEMU mps2-an500, exact counts from our TCG plugin): the
  whole engine built as for the firmware (-Os, hard float) into a bare-metal program, once with the DSP kernels
  (the device build) and once with the reference kernels (TFL_NO_DSP), two invokes each (they must agree);
- instructions per MAC, and the floor of the whole inference at 2 MACs a cycle (SMLAD's rate);
- arena bytes: ours (host build, and the Cortex-M7 DSP and reference builds) and the TFLM runtime's;
- flash bytes: the model, and the engine's code and constants for the Cortex-M7 (arm-none-eabi-size);
- host time per inference: our engine (engine.py) against the TFLM runtime, in the same run.
A piece that cannot be measured says why and how to get it, and the rest still prints.
"""

import ctypes
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import baremetal, engine, insn_plugin, paths

MACS_PER_CYCLE = 2  # SMLAD: two 16-bit multiply-accumulates per instruction, one per cycle on the Cortex-M7
MAC_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")


class BenchError(RuntimeError):
    """The model cannot be benchmarked at all (unreadable, or not a model)."""


@dataclass
class OpFigures:
    name: str
    macs: int
    dsp: int | None = None        # Cortex-M7 instructions with the DSP kernels
    reference: int | None = None  # ... with the reference kernels
    micropython: int | None = None  # ... inside MicroPython on the emulator firmware (DSP kernels)


@dataclass
class Figures:
    model_path: Path
    model_bytes: int
    ops: list = field(default_factory=list)
    notes: list = field(default_factory=list)  # what could not be measured, and how to get it
    deterministic: bool | None = None
    micropython_firmware: Path | None = None
    arena_ours_host: int | None = None
    arena_ours_m7: int | None = None
    arena_ours_m7_reference: int | None = None
    arena_tflm: int | None = None
    engine_flash: int | None = None
    host_ours_us: float | None = None
    host_tflm_us: float | None = None

    @property
    def macs(self) -> int:
        return sum(op.macs for op in self.ops)


# ---- MACs from the model ----

def op_macs(model: bytes) -> list:
    """(op name, MACs) of every operator of the first subgraph, in graph order, read with the TFLite schema."""
    from ai_edge_litert import schema_py_generated as schema
    try:
        parsed = schema.ModelT.InitFromObj(schema.Model.GetRootAs(model, 0))
        graph = parsed.subgraphs[0]
    except Exception as error:  # the flatbuffer library raises anything on garbage
        raise BenchError(f"not a .tflite model: {error!r}") from error
    names = {code: name for name, code in vars(schema.BuiltinOperator).items() if not name.startswith("_")}
    shapes = [list(tensor.shape if tensor.shape is not None else []) for tensor in graph.tensors]
    ops = []
    for op in graph.operators:
        code = parsed.operatorCodes[op.opcodeIndex]
        name = names.get(max(code.builtinCode, code.deprecatedBuiltinCode), "CUSTOM")
        out_elements = int(np.prod(shapes[op.outputs[0]])) if len(op.outputs) else 0
        macs = 0
        if name == "CONV_2D":
            _, filter_h, filter_w, in_c = shapes[op.inputs[1]]
            macs = out_elements * filter_h * filter_w * in_c
        elif name == "DEPTHWISE_CONV_2D":
            _, filter_h, filter_w, _ = shapes[op.inputs[1]]
            macs = out_elements * filter_h * filter_w
        elif name == "FULLY_CONNECTED":
            macs = out_elements * shapes[op.inputs[1]][-1]
        ops.append((name, macs))
    return ops


# ---- instructions on the emulated Cortex-M7 ----

def _model_source(model: bytes) -> Path:
    """The model as a C array in a generated file, for the bare-metal program."""
    digest = hashlib.sha256(model).hexdigest()[:16]
    source = paths.cache_dir() / "baremetal" / "models" / f"model-{digest}.c"
    if not source.exists():
        source.parent.mkdir(parents=True, exist_ok=True)
        rows = ",\n".join(",".join(str(b) for b in model[i:i + 32]) for i in range(0, len(model), 32))
        source.write_text("const unsigned char model_data[] __attribute__((aligned(16))) = {\n" + rows +
                          f"\n}};\nconst unsigned int model_size = {len(model)};\n")
    return source


@dataclass
class M7Run:
    ops: list       # op code per node
    arena: int
    windows: list   # insn_plugin.Window per invoke
    elf: Path


def run_on_m7(model: bytes, dsp: bool) -> M7Run:
    """The model through the whole engine on the emulated Cortex-M7, counted per node."""
    elf = baremetal.build("model_bench", [_model_source(model)], engine.engine_sources(),
                          defines=() if dsp else ("TFL_NO_DSP",), cflags=baremetal.FIRMWARE_CFLAGS)
    run = baremetal.run(elf)
    fields = [line.split() for line in run.output.splitlines()]
    return M7Run([int(f[1]) for f in fields if f[0] == "op"], next(int(f[1]) for f in fields if f[0] == "arena"),
                 run.windows, elf)


def engine_flash_bytes(elf: Path) -> int:
    """text + data of the engine's objects (not the harness's, not the model) as compiled for the firmware."""
    size = shutil.which("arm-none-eabi-size")
    objects = sorted(elf.with_suffix(".objects").glob("*.o"))
    engine_names = {source.stem for source in engine.engine_sources()}
    objects = [o for o in objects if o.stem.split("-", 1)[1] in engine_names]
    listing = subprocess.run([size, *map(str, objects)], capture_output=True, text=True, check=True).stdout
    total = 0
    for line in listing.splitlines()[1:]:
        text, data = line.split()[:2]
        total += int(text) + int(data)
    return total


# ---- inside MicroPython on the emulator firmware ----

class Unavailable(RuntimeError):
    """A figure cannot be measured here; the message says how to make it possible."""


def emulator_firmware() -> Path:
    """The emulator firmware already built from this checkout (the bench never starts a firmware build)."""
    from . import firmware
    elf = firmware.build_dir("emulator") / "firmware.elf"
    if not elf.is_file():
        raise Unavailable(f"no emulator firmware at {elf}: build it with `mpy-mnist firmware build --board emulator`")
    return elf


def run_in_micropython(model: bytes, elf: Path) -> list:
    """Two invokes of the model through the `tflite` module on the emulator firmware, on the same input, counted
    per node by the plugin (the interpreter's markers); the plugin's windows."""
    from . import board, emulator
    report = paths.cache_dir() / "bench" / "micropython.insns"
    report.parent.mkdir(parents=True, exist_ok=True)
    report.unlink(missing_ok=True)
    plugin = insn_plugin.plugin_arguments(insn_plugin.build_plugin(), insn_plugin.read_symbols(elf), report,
                                          "tfl_profile_mark", "tfl_profile_sink")
    script = (f"MODEL = {model!r}\n"
              "import tflite\n"
              "interpreter = tflite.Interpreter(MODEL)\n"
              "data = interpreter.input(0)\n"
              "for run in range(2):\n"  # the same input each time: the engine reuses the input's memory
              "    for i in range(len(data)):\n"
              "        data[i] = ((i * 37) & 255) - 128\n"
              "    interpreter.invoke()\n"
              "print('invoked')\n")
    printed = []
    # icount: virtual time follows instructions, so the SysTick interrupts counted inside the ops come every so
    # many instructions, a handful per op, rather than with the host's load
    with emulator.start(elf, icount=True, extra_args=["-plugin", plugin]) as emu:
        board.run(emu.port, script, output=printed.append)
    if b"invoked" not in b"".join(printed):
        raise RuntimeError(f"the bench script did not finish on the emulator: {b''.join(printed)!r}")
    return insn_plugin.read_report(report)


# ---- host: our engine against the TFLM runtime ----

def _tflm_arena(model: bytes) -> int:
    """The TFLM runtime's arena in use, from its allocation report."""
    from tflite_micro.python.tflite_micro import runtime
    interpreter = runtime.Interpreter.from_bytes(model)
    with tempfile.TemporaryFile() as capture:  # the report goes to the C streams, stderr or stdout
        sys.stdout.flush()
        sys.stderr.flush()
        saved = [os.dup(1), os.dup(2)]
        os.dup2(capture.fileno(), 1)
        os.dup2(capture.fileno(), 2)
        try:
            interpreter.print_allocations()
            ctypes.CDLL(None).fflush(None)
        finally:
            for fd, copy in ((1, saved[0]), (2, saved[1])):
                os.dup2(copy, fd)
                os.close(copy)
        capture.seek(0)
        report = capture.read().decode(errors="replace")
    match = re.search(r"Arena allocation total (\d+) bytes", report)
    if match is None:
        raise RuntimeError("the TFLM runtime's allocation report has no arena total")
    return int(match.group(1))


def _time_invokes(invoke, seconds: float) -> float:
    """Fastest single invoke in microseconds over about `seconds`: the figure least disturbed by other work on
    the machine."""
    invoke()
    best = float("inf")
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        start = time.perf_counter()
        invoke()
        best = min(best, time.perf_counter() - start)
    return best * 1e6


def host_figures(model: bytes, figures: Figures, seconds: float) -> None:
    from tflite_micro.python.tflite_micro import runtime

    ours = engine.Interpreter.from_bytes(model)
    tflm = runtime.Interpreter.from_bytes(model)
    details = tflm.get_input_details(0)
    rng = np.random.default_rng(0)
    info = np.iinfo(details["dtype"]) if np.issubdtype(details["dtype"], np.integer) else None
    data = (rng.integers(info.min, info.max + 1, size=details["shape"]) if info else
            rng.random(details["shape"])).astype(details["dtype"])
    ours.set_input(data, 0)
    tflm.set_input(data, 0)
    figures.arena_ours_host = ours.arena_used
    figures.arena_tflm = _tflm_arena(model)
    # alternate the two, so that both see the same machine load
    ours_times, tflm_times = [], []
    for _ in range(5):
        ours_times.append(_time_invokes(ours.invoke, seconds / 10))
        tflm_times.append(_time_invokes(tflm.invoke, seconds / 10))
    figures.host_ours_us, figures.host_tflm_us = min(ours_times), min(tflm_times)


# ---- everything ----

def measure(model_path: Path, host_seconds: float = 3.0) -> Figures:
    model_path = Path(model_path)
    if not model_path.is_file():
        raise BenchError(f"model {model_path} not found: train and export one (mpy-mnist train, export) or pass "
                         "--model PATH")
    model = model_path.read_bytes()
    from . import engine
    try:
        engine.Interpreter.from_bytes(model)  # the engine's own reason, before any build or emulator starts
    except (ValueError, NotImplementedError, MemoryError) as error:
        raise BenchError(f"{model_path}: our engine cannot run this model: {error}") from None
    figures = Figures(model_path, len(model), [OpFigures(name, macs) for name, macs in op_macs(model)])
    try:
        dsp, reference = run_on_m7(model, dsp=True), run_on_m7(model, dsp=False)
        for run, attribute in ((dsp, "dsp"), (reference, "reference")):
            last = run.windows[-1]
            for index, op in enumerate(figures.ops):
                setattr(op, attribute, last.regions.get(index + 1, 0))
        figures.deterministic = all(len(r.windows) == 2 and r.windows[0].regions == r.windows[1].regions
                                    for r in (dsp, reference))
        figures.arena_ours_m7, figures.arena_ours_m7_reference = dsp.arena, reference.arena
        figures.engine_flash = engine_flash_bytes(dsp.elf)
    except (baremetal.BaremetalError, RuntimeError, OSError) as error:
        figures.notes.append(f"Cortex-M7 instruction counts unavailable: {error}")
    try:
        figures.micropython_firmware = emulator_firmware()
        windows = run_in_micropython(model, figures.micropython_firmware)
        for index, op in enumerate(figures.ops):
            op.micropython = windows[-1].regions.get(index + 1, 0)
    except Unavailable as error:
        figures.notes.append(f"MicroPython on the emulator unavailable: {error}")
    except Exception as error:  # the emulator, mpremote or the board script: report, keep the other figures
        figures.notes.append(f"MicroPython on the emulator failed: {error}")
    try:
        host_figures(model, figures, host_seconds)
    except ImportError as error:
        figures.notes.append(f"host timing unavailable: {error} (install the package's dependencies: "
                             "bash scripts/setup.sh)")
    except (RuntimeError, ValueError, OSError) as error:
        figures.notes.append(f"host timing unavailable: {error}")
    return figures


def _ratio(a, b) -> str:
    return f"{a / b:.2f}" if a is not None and b else "-"


def _number(value) -> str:
    return f"{value:,}" if value is not None else "-"


def format_table(figures: Figures) -> str:
    lines = [f"model: {figures.model_path} ({figures.model_bytes:,} bytes)", ""]
    header = f"{'#':>3} {'op':<20} {'MACs':>10} {'insns (DSP)':>12} {'insn/MAC':>9} {'insns (ref)':>12} {'insn/MAC':>9}"
    lines += [header, "-" * len(header)]
    for index, op in enumerate(figures.ops):
        mac_ratio = (lambda n: _ratio(n, op.macs)) if op.macs else (lambda n: "-")
        lines.append(f"{index:>3} {op.name:<20} {op.macs:>10,} {_number(op.dsp):>12} {mac_ratio(op.dsp):>9} "
                     f"{_number(op.reference):>12} {mac_ratio(op.reference):>9}")
    total_dsp = sum(op.dsp for op in figures.ops) if figures.ops and figures.ops[0].dsp is not None else None
    total_ref = sum(op.reference for op in figures.ops) if total_dsp is not None else None
    lines.append("-" * len(header))
    lines.append(f"{'':>3} {'total':<20} {figures.macs:>10,} {_number(total_dsp):>12} "
                 f"{_ratio(total_dsp, figures.macs):>9} {_number(total_ref):>12} {_ratio(total_ref, figures.macs):>9}")
    lines.append("")
    floor = figures.macs / MACS_PER_CYCLE
    lines.append(f"floor at {MACS_PER_CYCLE} MACs a cycle: {floor:,.0f} cycles; DSP inference = "
                 f"{_ratio(total_dsp, floor)} x floor")
    if figures.ops and figures.ops[0].micropython is not None:
        inside = sum(op.micropython for op in figures.ops)
        lines.append(f"inside MicroPython (tflite module on the emulator firmware, {figures.micropython_firmware}): "
                     f"{inside:,} instructions in the ops per invoke ({_ratio(inside, figures.macs)} per MAC)")
    if figures.deterministic is not None:
        lines.append("instruction counts deterministic (two invokes, same counts per op): "
                     + ("yes" if figures.deterministic else "NO"))
    lines.append(f"arena bytes: ours {_number(figures.arena_ours_m7)} (Cortex-M7 DSP build), "
                 f"{_number(figures.arena_ours_m7_reference)} (Cortex-M7 reference build), "
                 f"{_number(figures.arena_ours_host)} (host); TFLM runtime {_number(figures.arena_tflm)}")
    lines.append(f"flash bytes: model {figures.model_bytes:,}; engine code for the Cortex-M7 "
                 f"{_number(figures.engine_flash)}")
    if figures.host_ours_us is not None:
        lines.append(f"host time per inference: ours {figures.host_ours_us:.1f} us, TFLM runtime "
                     f"{figures.host_tflm_us:.1f} us: ours is {_ratio(figures.host_tflm_us, figures.host_ours_us)}x "
                     "faster")
    for note in figures.notes:
        lines.append(f"note: {note}")
    return "\n".join(lines)


def plot_instructions(figures: Figures, path: Path) -> Path:
    """Bar chart of Cortex-M7 instructions per layer, DSP against reference kernels (log scale)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ops = [op for op in figures.ops if op.dsp is not None]
    if not ops:
        raise BenchError("no instruction counts to plot (see the notes above)")
    labels = [f"{i} {op.name}" for i, op in enumerate(ops)]
    positions = np.arange(len(ops))
    figure, axes = plt.subplots(figsize=(9, 4.5))
    axes.bar(positions - 0.2, [op.reference for op in ops], 0.4, label="reference C kernels")
    axes.bar(positions + 0.2, [op.dsp for op in ops], 0.4, label="DSP kernels (SMLAD)")
    for x, op in zip(positions, ops):
        if op.macs:
            axes.annotate(f"{op.dsp / op.macs:.2f}/MAC", (x + 0.2, op.dsp), ha="center", va="bottom", fontsize=7)
    axes.set_yscale("log")
    axes.set_xticks(positions, labels, rotation=30, ha="right", fontsize=8)
    axes.set_ylabel("instructions (emulated Cortex-M7)")
    axes.set_title(f"Instructions per layer, one inference of {figures.model_path.name}")
    axes.legend()
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path
