"""tflite.mpy for armv7emsp on the emulated board running stock firmware (our EMULATOR_M7 without the tflite module
and without the frozen app), whose /flash has the DISCO's size (75,776 bytes free): the install step (`push
--natmod`: tflite.mpy, the app, the model and the digits, ~150 KB) is refused before anything is written, as is a
plain push (the app and a model, with no frozen model to fall back on); the module itself, copied alone, runs the
default model and the TFLM example models as the TFLM runtime does and costs the same instructions as the built-in
module; the install step refuses a .mpy of another architecture and a firmware that cannot load native code, before
writing anything."""

import os
import re
import subprocess
import sys

import pytest

from mpy_mnist import board, emulator, insn_plugin, natmod, paths, pipeline

from test_natmod_unix import RUN_CASES, test_loader, tflm_outputs as tflm_case_outputs

sys.path.insert(0, str(paths.REPO_ROOT / "tests" / "device"))
from test_device_app import default_model  # noqa: E402
from test_device_emulator import mpremote  # noqa: E402

pytestmark = pytest.mark.emulator


@pytest.fixture(scope="module")
def stock_board(stock_emulator_firmware):
    with emulator.start(stock_emulator_firmware) as running:
        yield running


def flash_listing(board):
    return mpremote(board, "exec", f"import os; print(sorted(os.listdir('{paths.DEVICE_DIR}')))")


def test_the_board_has_no_engine_of_its_own(stock_board):
    out = mpremote(stock_board, "exec", "import sys\ntry:\n import tflite\n print(tflite.__file__)\n"
                                        "except ImportError:\n print('no tflite')")
    assert "no tflite" in out


def test_the_install_is_refused_before_writing_when_flash_cannot_hold_it(stock_board, natmod_armv7emsp, tmp_path):
    before = flash_listing(stock_board)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MPY_MNIST_WORK", str(tmp_path))
        with pytest.raises(natmod.InstallError, match="has no room for tflite.mpy, the app, the model") as refusal:
            natmod.install(stock_board.port, paths.DEFAULT_MODEL_DIR, natmod_armv7emsp)
    needed, free = map(int, re.search(r"they need (\d+) bytes .* (\d+) bytes are free", str(refusal.value)).groups())
    assert needed > free
    assert not (tmp_path / natmod.PACKAGE_DIR_NAME).exists()
    assert flash_listing(stock_board) == before
    # the CLI says the same in one line and exits 1
    result = subprocess.run([sys.executable, "-m", "mpy_mnist", "push", "--port", stock_board.port, "--from",
                             str(paths.DEFAULT_MODEL_DIR), "--natmod", "--mpy", str(natmod_armv7emsp)],
                            capture_output=True, text=True, timeout=120,
                            env={**os.environ, "PYTHONPATH": str(paths.REPO_ROOT / "host"),
                                 "MPY_MNIST_WORK": str(tmp_path)})
    assert result.returncode == 1 and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "has no room for tflite.mpy" in result.stderr
    assert flash_listing(stock_board) == before


def test_a_plain_push_to_stock_firmware_sends_the_app_and_is_refused_when_it_cannot_fit(stock_board):
    """Stock firmware has neither the app nor a model frozen: push sends the app, and the old model cannot give
    way to the new one (nothing to fall back on)."""
    before = flash_listing(stock_board)
    result = subprocess.run([sys.executable, "-m", "mpy_mnist", "push", "--port", stock_board.port, "--from",
                             str(paths.DEFAULT_MODEL_DIR)], capture_output=True, text=True, timeout=120,
                            env={**os.environ, "PYTHONPATH": str(paths.REPO_ROOT / "host")})
    assert result.returncode == 1 and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "the firmware has no built-in model to run while the old files are replaced" in result.stderr
    app = sum(local.stat().st_size for local, _ in pipeline.device_python_files())
    files = app + sum((paths.DEFAULT_MODEL_DIR / name).stat().st_size for name in (paths.MODEL_FILE,
                                                                                  paths.DIGITS_FILE))
    assert f"({files} bytes of files" in result.stderr, result.stderr
    assert flash_listing(stock_board) == before


def test_a_wrong_arch_mpy_is_refused_before_writing(stock_board, natmod_x64, tmp_path):
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


def test_import_cost_in_ram(stock_board, natmod_armv7emsp):
    """The module's code and data come into the heap at import: about the .mpy's size."""
    mpremote(stock_board, "cp", str(natmod_armv7emsp), f":{paths.DEVICE_DIR}/tflite.mpy")
    try:
        out = mpremote(stock_board, "exec", IMPORT_COST)
    finally:
        mpremote(stock_board, "rm", f":{paths.DEVICE_DIR}/tflite.mpy")
    print(out)
    used = int(re.search(r"import takes (\d+) bytes", out).group(1))
    size = natmod_armv7emsp.stat().st_size
    assert size / 2 < used < 2 * size


# Inputs per model: the DISCO-sized /flash holds the armv7m tflite.mpy (41 KB), micro_speech (19 KB) and 6 of its
# 1,960-byte inputs.
ARMV7M_TRIALS = 6


def test_the_armv7m_module_runs_on_the_armv7emsp_board(stock_emulator_firmware, natmod_armv7m, tmp_path):
    """The module without DSP kernels or FPU (float arithmetic through libgcc), which an armv7emsp firmware also
    loads: the TFLM example models give the TFLM runtime's bytes."""
    import numpy as np

    cases, expected = [], []
    for name in ("hello_world_int8", "hello_world_float", "micro_speech_quantized"):
        model = test_loader.model_bytes(name)
        details = test_loader.tflm(model).get_input_details(0)
        rng = np.random.default_rng(1)
        inputs = [[test_loader.random_input(details, rng) for _ in range(ARMV7M_TRIALS)]]
        expected += tflm_case_outputs(name, model, inputs, tmp_path)
        cases.append((name, 1, ARMV7M_TRIALS))
    got = []
    with emulator.start(stock_emulator_firmware) as emu:
        mpremote(emu, "cp", str(natmod_armv7m), f":{paths.DEVICE_DIR}/tflite.mpy")
        for case in cases:  # one model and its inputs at a time: the DISCO-sized /flash holds no more
            files = [f"{case[0]}.tflite", f"{case[0]}.in"]
            mpremote(emu, "cp", *(str(tmp_path / name) for name in files), f":{paths.DEVICE_DIR}/")
            got += mpremote(emu, "exec", f"DIR = {paths.DEVICE_DIR!r}\nCASES = {[case]!r}\n" + RUN_CASES).splitlines()
            mpremote(emu, "rm", *(f":{paths.DEVICE_DIR}/{name}" for name in files))
        out = mpremote(emu, "exec", IMPORT_COST)
    print(out)
    assert got == expected
