"""tflite.mpy for armv7emsp on the emulated board running stock firmware (our EMULATOR_M7 without the tflite module
and without the frozen app): the install step (real `mpremote mip install` over the emulator's pty) brings the
engine, the app, the model and the digits; demo.py and a run over every exported digit predict as the TFLM runtime
does; an inference costs the same instructions as with the built-in module; the install step refuses a .mpy of
another architecture and a firmware that cannot load native code, before writing anything."""

import os
import re
import subprocess
import sys

import pytest

from mpy_mnist import board, emulator, insn_plugin, natmod, paths

from test_natmod_unix import RUN_CASES, test_loader, tflm_outputs as tflm_case_outputs

sys.path.insert(0, str(paths.REPO_ROOT / "tests" / "device"))
from test_device_app import LINE, default_model, tflm_outputs  # noqa: E402
from test_device_emulator import mpremote  # noqa: E402

pytestmark = pytest.mark.emulator

DIGITS = default_model()[1]
RUN_ALL = f"import mnist\nmnist.run(count={len(DIGITS)}, delay_ms=0, sequential=True)\n"


@pytest.fixture(scope="module")
def stock_board(stock_emulator_firmware):
    with emulator.start(stock_emulator_firmware) as running:
        yield running


@pytest.fixture(scope="module")
def installed(stock_board, natmod_armv7emsp, tmp_path_factory):
    """The app installed on the stock board from the default model's export (firmware/default_model)."""
    work = tmp_path_factory.mktemp("work")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MPY_MNIST_WORK", str(work))
        log = []
        package = natmod.install(stock_board.port, paths.DEFAULT_MODEL_DIR, natmod_armv7emsp, log=log.append)
    return package, log


def predictions(out: str) -> list[tuple]:
    return [tuple(map(int, m.groups()[:3])) for m in LINE.finditer(out)]


def check_against_tflm(lines):
    model_bytes, labels, packed = default_model()
    indices = [index for index, _, _ in lines]
    _, outputs = tflm_outputs(model_bytes, packed, indices)
    assert [label for _, label, _ in lines] == [labels[i] for i in indices]
    assert [predicted for _, _, predicted in lines] == list(outputs.argmax(axis=1))


def test_the_board_has_no_engine_of_its_own(stock_board):
    out = mpremote(stock_board, "exec", "import sys\ntry:\n import tflite\n print(tflite.__file__)\n"
                                        "except ImportError:\n print('no tflite')")
    assert "no tflite" in out or "tflite.mpy" in out  # before or after the install


def test_mip_install_then_demo_and_every_digit_predict_like_tflm(stock_board, installed):
    package, log = installed
    assert any("`import tflite` works" in line for line in log), log
    files = mpremote(stock_board, "exec", "import os; print(sorted(os.listdir('/flash')))")
    for name in ("tflite.mpy", "mnist", "display", paths.MODEL_FILE, paths.DIGITS_FILE):
        assert f"'{name}'" in files, files
    out = mpremote(stock_board, "exec", "import tflite; print(tflite.__file__)")
    assert out.strip() in ("tflite.mpy", "/flash/tflite.mpy")  # the current directory is /flash

    demo = mpremote(stock_board, "run", str(paths.DEVICE_PYTHON_DIR / "demo.py"))
    assert "display: emulator" in demo and f"model: {paths.DEVICE_DIR}/{paths.MODEL_FILE}" in demo, demo
    assert len(predictions(demo)) == 10
    check_against_tflm(predictions(demo))

    every = mpremote(stock_board, "exec", RUN_ALL)
    lines = predictions(every)
    assert [index for index, _, _ in lines] == list(range(len(DIGITS)))
    check_against_tflm(lines)


def test_a_wrong_arch_mpy_is_refused_before_writing(stock_board, installed, natmod_x64, tmp_path):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MPY_MNIST_WORK", str(tmp_path))
        with pytest.raises(natmod.InstallError, match="built for x64 but the board on .* runs armv7emsp code"):
            natmod.install(stock_board.port, paths.DEFAULT_MODEL_DIR, natmod_x64)
    assert not (tmp_path / natmod.PACKAGE_DIR_NAME).exists()
    # the CLI says the same in one line and exits 1
    result = subprocess.run([sys.executable, "-m", "mpy_mnist", "push", "--port", stock_board.port, "--from",
                             str(paths.DEFAULT_MODEL_DIR), "--natmod", "--mpy", str(natmod_x64)],
                            capture_output=True, text=True, timeout=120,
                            env={**os.environ, "PYTHONPATH": str(paths.REPO_ROOT / "host"),
                                 "MPY_MNIST_WORK": str(tmp_path)})
    assert result.returncode == 1
    assert re.search(r"Error: this tflite.mpy is built for x64 but the board", result.stderr), result.stderr
    assert "Traceback" not in result.stderr


def test_a_firmware_without_native_code_is_refused(no_native_emulator_firmware, natmod_armv7emsp, tmp_path):
    with emulator.start(no_native_emulator_firmware) as emu, pytest.MonkeyPatch.context() as patch:
        patch.setenv("MPY_MNIST_WORK", str(tmp_path))
        with pytest.raises(natmod.InstallError, match="cannot load native modules"):
            natmod.install(emu.port, paths.DEFAULT_MODEL_DIR)
        assert "tflite.mpy" not in mpremote(emu, "exec", "import os; print(os.listdir('/flash'))")
        # what the refusal spares the user: the firmware's own failure at import
        mpremote(emu, "cp", str(natmod_armv7emsp), ":/flash/tflite.mpy")
        out = mpremote(emu, "exec", "try:\n import tflite\nexcept ValueError as e:\n print('import fails:', e)")
        assert "import fails: native code in .mpy unsupported" in out, out


# Instructions of each `it.invoke()`, counted by the bench's QEMU plugin (mpy_mnist.insn_plugin). The native
# module's code is loaded at run time, so the regions are marked from Python: `machine.mem8` stores to two bytes of
# the LCD frame buffer (region 1 opens before the call, region 0 closes it after), and the plugin watches the
# stores made by machine_mem_subscr, the firmware function that performs them. Both firmwares are measured alike.
MEASURE = """
import gc, machine, tflite, emulator
mark = machine.mem8
sink = emulator.LCD_ADDRESS
it = tflite.Interpreter(MODEL)
data = it.input(0)
for i in range(len(data)):
    data[i] = ((i * 37) & 255) - 128
gc.collect()
for run in range(3):
    mark[sink + 1] = 1
    it.invoke()
    mark[sink] = 1
print('invoked', bytes(it.get_output(0)).hex())
"""


def invoke_instructions(elf, tmp_path, prepare=lambda emu: None) -> tuple[list, str]:
    """(instructions of each of three invokes of the default model, the script's output) on firmware `elf`."""
    symbols = insn_plugin.read_symbols(elf)
    symbols.addresses["lcd"] = emulator.board_constant("LCD_ADDRESS")
    report = tmp_path / f"{elf.parent.name}.insns"
    plugin = insn_plugin.plugin_arguments(insn_plugin.build_plugin(), symbols, report, "machine_mem_subscr", "lcd")
    printed = []
    with emulator.start(elf, icount=True, extra_args=["-plugin", plugin]) as emu:
        prepare(emu)
        board.run(emu.port, f"MODEL = {default_model()[0]!r}\n" + MEASURE, output=printed.append)
    counts = [window.regions.get(1, 0) for window in insn_plugin.read_report(report)]
    return counts, b"".join(printed).decode()


def test_an_inference_costs_what_it_costs_in_the_builtin_module(emulator_firmware, stock_emulator_firmware,
                                                                 natmod_armv7emsp, tmp_path):
    builtin, builtin_out = invoke_instructions(emulator_firmware, tmp_path)

    def install_module(emu):
        mpremote(emu, "cp", str(natmod_armv7emsp), f":{paths.DEVICE_DIR}/tflite.mpy")

    native, native_out = invoke_instructions(stock_emulator_firmware, tmp_path, install_module)
    print(f"instructions per invoke: built-in {builtin}, tflite.mpy {native}")
    assert len(builtin) == len(native) == 3 and min(builtin) > 500_000
    assert native_out.split()[-1] == builtin_out.split()[-1]  # the same scores
    ratio = native[-1] / builtin[-1]
    assert 0.95 <= ratio <= 1.05, f"tflite.mpy takes {ratio:.3f}x the built-in module's instructions"


IMPORT_COST = ("import gc\ngc.collect()\nfree = gc.mem_free()\nimport tflite\ngc.collect()\n"
               "print('import takes', free - gc.mem_free(), 'bytes of heap')")


def test_import_cost_in_ram(stock_board, installed, natmod_armv7emsp):
    """The module's code and data come into the heap at import: about the .mpy's size."""
    out = mpremote(stock_board, "exec", IMPORT_COST)
    print(out)
    used = int(re.search(r"import takes (\d+) bytes", out).group(1))
    size = natmod_armv7emsp.stat().st_size
    assert size / 2 < used < 2 * size


def test_the_armv7m_module_runs_on_the_armv7emsp_board(stock_emulator_firmware, natmod_armv7m, tmp_path):
    """The module without DSP kernels or FPU (float arithmetic through libgcc), which an armv7emsp firmware also
    loads: the TFLM example models give the TFLM runtime's bytes."""
    import numpy as np

    cases, expected = [], []
    for name in ("hello_world_int8", "hello_world_float", "micro_speech_quantized"):
        model = test_loader.model_bytes(name)
        details = test_loader.tflm(model).get_input_details(0)
        rng = np.random.default_rng(1)
        inputs = [[test_loader.random_input(details, rng) for _ in range(20)]]
        expected += tflm_case_outputs(name, model, inputs, tmp_path)
        cases.append((name, 1, 20))
    with emulator.start(stock_emulator_firmware) as emu:
        mpremote(emu, "cp", str(natmod_armv7m), f":{paths.DEVICE_DIR}/tflite.mpy")
        for name, _, _ in cases:
            mpremote(emu, "cp", str(tmp_path / f"{name}.tflite"), str(tmp_path / f"{name}.in"), f":{paths.DEVICE_DIR}/")
        got = mpremote(emu, "exec", f"DIR = {paths.DEVICE_DIR!r}\nCASES = {cases!r}\n" + RUN_CASES).splitlines()
        out = mpremote(emu, "exec", IMPORT_COST)
    print(out)
    assert got == expected
