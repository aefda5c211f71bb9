"""Our C engine (cmodules/tflite/engine) on the host, through ctypes, with the API shape of the TFLM runtime's
`tflite_micro.runtime.Interpreter`, so tests and benchmarks can run both side by side:

    from mpy_mnist import engine
    it = engine.Interpreter.from_bytes(model_bytes)          # arena_size=None: exactly what the model needs
    it.set_input(np.array(..., dtype=np.int8), 0)
    it.invoke()
    scores = it.get_output(0)                                # a numpy copy
    it.arena_used                                            # bytes of arena in use

The shared library is built on first use with `cc` from PATH into the cache (paths.cache_dir()/engine/), keyed by
a hash of the engine's sources, so an edit to any kernel rebuilds it. `sanitize=True` builds an ASan/UBSan
variant, which only loads into a process started with libasan preloaded (see `asan_environment()`).
"""

import ctypes
import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from . import paths

# Status codes of tfl_kernel.h, and the Python exception for each.
OK, ERR_BAD_MODEL, ERR_UNSUPPORTED, ERR_ARENA, ERR_BAD_ARGUMENT = range(5)
_EXCEPTIONS = {ERR_BAD_MODEL: ValueError, ERR_UNSUPPORTED: NotImplementedError, ERR_ARENA: MemoryError,
               ERR_BAD_ARGUMENT: ValueError}

# TensorType codes the engine handles -> numpy dtypes.
DTYPES = {0: np.float32, 2: np.int32, 3: np.uint8, 4: np.int64, 7: np.int16, 9: np.int8}

# -O3: the int8 kernels' dot products and pooling are written for the vectoriser (portable baseline code, no
# -march=native in a cached library). -ffp-contract=off as in the firmware build (cmodules/tflite/micropython.mk):
# float kernels round each product and sum as the reference does; -O3 never reorders float sums on its own.
CFLAGS = ["-std=c99", "-O3", "-ffp-contract=off", "-g", "-Wall", "-Wextra", "-fPIC", "-shared"]
SANITIZE_FLAGS = ["-fsanitize=address,undefined", "-fno-sanitize-recover=undefined", "-fno-omit-frame-pointer"]


SOURCES_LIST = paths.ENGINE_DIR / "sources.txt"


def engine_sources() -> list[Path]:
    """The engine's C files as engine/sources.txt lists them: the one list every builder reads (this library,
    the bare-metal programs, the firmware's micropython.mk and .cmake). The Cortex-M variants (kernels/arm/)
    compile to nothing on other targets."""
    return [paths.ENGINE_DIR / line for line in SOURCES_LIST.read_text().split()]


def _hash_sources(extra: list[str]) -> str:
    digest = hashlib.sha256(" ".join(extra).encode())
    engine = paths.ENGINE_DIR
    for path in sorted(engine.rglob("*.[ch]")):
        digest.update(str(path.relative_to(engine)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _build_cached(compiler: str, flags: list[str], main_source: Path, name: str, what: str) -> Path:
    """The engine's sources plus `main_source`, compiled and linked by `compiler` with `flags` into
    cache/engine/<hash of sources and flags>/<name>; an existing result is reused. Raises RuntimeError with the
    compiler's output when the build fails."""
    out_dir = paths.cache_dir() / "engine" / _hash_sources(flags)
    result_path = out_dir / name
    if result_path.exists():
        return result_path
    out_dir.mkdir(parents=True, exist_ok=True)
    sources = engine_sources() + [main_source]
    with tempfile.TemporaryDirectory(dir=out_dir) as tmp:
        temporary = Path(tmp) / name
        result = subprocess.run([compiler, *flags, "-o", str(temporary), *map(str, sources), "-lm"],
                                capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError(f"building {what} failed:\n{result.stderr}")
        os.replace(temporary, result_path)  # atomic: concurrent builders never see half a file
    return result_path


def build_library(sanitize: bool = False) -> Path:
    """Compile the engine (plus the ctypes accessors) into a shared library in the cache; reuse it when the
    sources have not changed. Raises RuntimeError with the compiler's output when the build fails."""
    cc = shutil.which(os.environ.get("CC", "cc"))
    if cc is None:
        raise RuntimeError("no C compiler: install gcc (scripts/setup.sh does) or set CC")
    return _build_cached(cc, CFLAGS + (SANITIZE_FLAGS if sanitize else []), paths.ENGINE_DIR / "host" / "ctypes_api.c",
                         "libtflengine-asan.so" if sanitize else "libtflengine.so", "the engine")


def build_fuzzer() -> Path:
    """The libFuzzer target (engine/fuzz/fuzz_engine.c) over the engine, with ASan and UBSan; needs clang and
    libclang-rt-dev. Cached like the library."""
    clang = shutil.which("clang")
    if clang is None:
        raise RuntimeError("clang not found: install clang and libclang-rt-dev (scripts/setup.sh does)")
    flags = ["-std=c99", "-g", "-O1", "-fsanitize=fuzzer,address,undefined", "-fno-sanitize-recover=undefined"]
    return _build_cached(clang, flags, paths.ENGINE_DIR / "fuzz" / "fuzz_engine.c", "fuzz_engine", "the fuzzer")


def asan_environment() -> dict:
    """Environment for a subprocess that loads the sanitize=True library (ASan must be first in the process)."""
    cc = shutil.which(os.environ.get("CC", "cc")) or "cc"
    libasan = subprocess.run([cc, "-print-file-name=libasan.so"], capture_output=True, text=True).stdout.strip()
    env = dict(os.environ)
    env["LD_PRELOAD"] = libasan
    env["ASAN_OPTIONS"] = "detect_leaks=0:abort_on_error=1"
    env["UBSAN_OPTIONS"] = "print_stacktrace=1:halt_on_error=1"
    env["MPY_MNIST_ENGINE_SANITIZE"] = "1"
    return env


_libraries: dict[bool, ctypes.CDLL] = {}


def load_library(sanitize: bool | None = None) -> ctypes.CDLL:
    if sanitize is None:
        sanitize = os.environ.get("MPY_MNIST_ENGINE_SANITIZE") == "1"
    if sanitize not in _libraries:
        lib = ctypes.CDLL(str(build_library(sanitize)))
        p, i, sz, f = ctypes.c_void_p, ctypes.c_int, ctypes.c_size_t, ctypes.c_float
        signatures = {
            "tfl_init": (i, [p, p, sz, p, sz]), "tfl_invoke": (i, [p]),
            "tfl_inputs_count": (i, [p]), "tfl_outputs_count": (i, [p]),
            "tfl_arena_used": (sz, [p]), "tfl_arena_needed": (sz, [p]),
            "tfl_arena_required": (i, [p, p, sz, p, sz, ctypes.POINTER(sz)]),
            "tfl_format_error": (ctypes.c_char_p, [p, ctypes.c_char_p, sz]),
            "tfl_op_name": (ctypes.c_char_p, [i]), "tfl_nodes_count": (i, [p]), "tfl_node_op": (i, [p, i]),
            "tflh_persistent_bytes": (sz, [p]), "tflh_activation_bytes": (sz, [p]),
            "tflh_plan_bytes": (sz, [p]), "tflh_scratch_bytes": (sz, [p]),
            "tflh_plan_violations": (i, [p]),
            "tflh_kernels_count": (i, []), "tflh_kernel_name": (ctypes.c_char_p, [i]),
            "tflh_interpreter_size": (sz, []), "tflh_data": (p, [p, i, i]), "tflh_bytes": (ctypes.c_long, [p, i, i]),
            "tflh_type": (i, [p, i, i]), "tflh_dims_count": (i, [p, i, i]), "tflh_dim": (i, [p, i, i, i]),
            "tflh_quant_count": (i, [p, i, i]), "tflh_quant_dimension": (i, [p, i, i]),
            "tflh_quant_scale": (f, [p, i, i, i]), "tflh_quant_zero_point": (i, [p, i, i, i]),
        }
        for name, (restype, argtypes) in signatures.items():
            fn = getattr(lib, name)
            fn.restype, fn.argtypes = restype, argtypes
        _libraries[sanitize] = lib
    return _libraries[sanitize]


def supported_ops() -> list[str]:
    """Names of the ops the engine runs, from its kernel table."""
    lib = load_library()
    return [lib.tflh_kernel_name(i).decode() for i in range(lib.tflh_kernels_count())]


class Interpreter:
    """One interpreter of our engine, owning its arena. Mirrors tflite_micro.runtime.Interpreter."""

    def __init__(self, model: bytes, arena_size: int | None = None, sanitize: bool | None = None):
        self._lib = load_library(sanitize)
        self._model = bytes(model)  # kept alive: constant tensors point into it
        self._it = ctypes.create_string_buffer(self._lib.tflh_interpreter_size())
        if arena_size is None:
            self._init(self._required_arena())
            return
        try:
            self._init(arena_size)
        except MemoryError:
            raise MemoryError(f"arena_size={arena_size} is too small: this model needs {self._required_arena()} "
                              "bytes (or pass arena_size=None)") from None

    @classmethod
    def from_bytes(cls, model: bytes, arena_size: int | None = None, sanitize: bool | None = None) -> "Interpreter":
        return cls(model, arena_size, sanitize)

    @classmethod
    def from_file(cls, path, arena_size: int | None = None, sanitize: bool | None = None) -> "Interpreter":
        return cls(Path(path).read_bytes(), arena_size, sanitize)

    def _required_arena(self) -> int:
        """The plan-only answer: grow a work buffer until the engine can say exactly what it needs."""
        size = 1024
        required = ctypes.c_size_t()
        while True:
            work = ctypes.create_string_buffer(size)
            status = self._lib.tfl_arena_required(self._it, self._model, len(self._model), work, size,
                                                  ctypes.byref(required))
            if status == OK:
                return required.value
            if status != ERR_ARENA:
                self._check(status)  # the model's own error
            size = max(required.value, size + size // 4)  # required > size: each round progresses

    def _init(self, arena_size: int) -> None:
        self._arena = ctypes.create_string_buffer(max(arena_size, 1))
        self.arena_size = arena_size
        status = self._lib.tfl_init(self._it, self._model, len(self._model), self._arena, arena_size)
        if status == ERR_ARENA and arena_size == self._lib.tfl_arena_needed(self._it):
            # Same size but the buffer was not 16-byte aligned: give the engine room to align it.
            return self._init(arena_size + 15)
        self._check(status)

    def _check(self, status: int) -> None:
        if status != OK:
            message = ctypes.create_string_buffer(1024)
            self._lib.tfl_format_error(self._it, message, len(message))
            raise _EXCEPTIONS.get(status, RuntimeError)(message.value.decode())

    @property
    def arena_used(self) -> int:
        return self._lib.tfl_arena_used(self._it)

    @property
    def persistent_bytes(self) -> int:
        """Arena bytes of the persistent part: tensor and node structures, kernels' data."""
        return self._lib.tflh_persistent_bytes(self._it)

    @property
    def activation_bytes(self) -> int:
        """Arena bytes of the planned part: activations and scratch, shared by lifetime."""
        return self._lib.tflh_activation_bytes(self._it)

    @property
    def plan_bytes(self) -> int:
        """What the activation plan spans (activation_bytes is larger only when the planner's own working memory,
        which the activations reuse afterwards, needs more)."""
        return self._lib.tflh_plan_bytes(self._it)

    @property
    def scratch_bytes(self) -> int:
        """Scratch all nodes asked for, each rounded to the arena alignment (part of the plan)."""
        return self._lib.tflh_scratch_bytes(self._it)

    def plan_violations(self) -> int:
        """Pairs of tensors the plan put in overlapping memory while both are alive (an independent check for
        tests; 0 for a correct plan)."""
        return self._lib.tflh_plan_violations(self._it)

    @property
    def ops(self) -> list[str]:
        return [self._lib.tfl_op_name(self._lib.tfl_node_op(self._it, i)).decode()
                for i in range(self._lib.tfl_nodes_count(self._it))]

    def _tensor(self, which: int, index: int) -> np.ndarray:
        """A numpy view (no copy) of an input (which=0) or output (which=1) tensor's arena memory."""
        count = self._lib.tfl_outputs_count(self._it) if which else self._lib.tfl_inputs_count(self._it)
        if not 0 <= index < count:
            kind = "output" if which else "input"
            raise ValueError(f"{kind} index {index} out of range: the model has {count} {kind}(s)")
        dtype = np.dtype(DTYPES[self._lib.tflh_type(self._it, which, index)])
        shape = tuple(self._lib.tflh_dim(self._it, which, index, i)
                      for i in range(self._lib.tflh_dims_count(self._it, which, index)))
        nbytes = self._lib.tflh_bytes(self._it, which, index)
        raw = (ctypes.c_uint8 * nbytes).from_address(self._lib.tflh_data(self._it, which, index)) if nbytes else b""
        return np.frombuffer(raw, dtype=dtype).reshape(shape)

    def _details(self, which: int, index: int) -> dict:
        tensor = self._tensor(which, index)
        count = self._lib.tflh_quant_count(self._it, which, index)
        return {
            "dtype": tensor.dtype.type,
            "shape": np.array(tensor.shape, dtype=np.int32),
            "quantization_parameters": {
                "scales": np.array([self._lib.tflh_quant_scale(self._it, which, index, i) for i in range(count)],
                                   dtype=np.float32),
                "zero_points": np.array([self._lib.tflh_quant_zero_point(self._it, which, index, i)
                                         for i in range(count)], dtype=np.int32),
                "quantized_dimension": self._lib.tflh_quant_dimension(self._it, which, index),
            },
        }

    @property
    def inputs_count(self) -> int:
        return self._lib.tfl_inputs_count(self._it)

    @property
    def outputs_count(self) -> int:
        return self._lib.tfl_outputs_count(self._it)

    def input(self, index: int) -> np.ndarray:
        """The input tensor's own memory as a numpy view: fill it in place (valid while the interpreter lives)."""
        return self._tensor(0, index)

    def output(self, index: int) -> np.ndarray:
        """The output tensor's own memory as a numpy view (overwritten by the next invoke)."""
        return self._tensor(1, index)

    def get_input_details(self, index: int) -> dict:
        return self._details(0, index)

    def get_output_details(self, index: int) -> dict:
        return self._details(1, index)

    def set_input(self, value, index: int) -> None:
        tensor = self._tensor(0, index)
        value = np.asarray(value)
        if value.dtype != tensor.dtype or value.size != tensor.size:
            raise ValueError(f"input {index} must be {tensor.dtype} with shape {tensor.shape}, "
                             f"got {value.dtype} with shape {value.shape}")
        tensor[...] = value.reshape(tensor.shape)

    def invoke(self) -> None:
        self._check(self._lib.tfl_invoke(self._it))

    def get_output(self, index: int) -> np.ndarray:
        return self._tensor(1, index).copy()


def tflm_arena(model: bytes) -> dict:
    """The TFLM runtime's arena figures for `model`, from its recording allocator's report: 'total', 'head'
    (activations and scratch) and 'tail' (persistent). The report goes to the C stderr, so file descriptor 2 is
    redirected around it."""
    import re
    import sys

    from tflite_micro.python.tflite_micro import runtime

    interpreter = runtime.Interpreter.from_bytes(model)
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+") as captured:
        os.dup2(captured.fileno(), 2)
        try:
            interpreter.print_allocations()
        finally:
            ctypes.CDLL(None).fflush(None)  # the runtime's stdio buffers, before fd 2 goes back
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
        captured.seek(0)
        report = captured.read()
    figures = {part: re.search(rf"Arena allocation {part} (\d+) bytes", report) for part in ("total", "head", "tail")}
    if not all(figures.values()):
        raise RuntimeError(f"unexpected TFLM allocation report:\n{report}")
    return {part: int(match.group(1)) for part, match in figures.items()}


def tflm_arena_used(model: bytes) -> int:
    """Arena bytes the TFLM runtime uses for `model` (its "Arena allocation total")."""
    return tflm_arena(model)["total"]
