"""Our QEMU plugin counts executed instructions exactly: the same program gives the same counts, per region and
per function, run after run; a plain C int8 dot product costs about 6 instructions per MAC on the Cortex-M7 at
-O2 (the figure the DSP kernels are measured against); and the MicroPython firmware runs the same kernels."""

import pytest

from mpy_mnist import baremetal
from tools import require_speed_tools, tiny_model  # noqa: F401 (fixture)


def test_counts_are_the_same_twice_and_the_plain_dot_product_is_six_per_mac():
    require_speed_tools()
    elf = baremetal.build("dot_product")
    first, second = baremetal.run(elf), baremetal.run(elf)
    assert len(first.windows) == 1 and first.windows == second.windows
    window = first.windows[0]
    length = int(first.output.split("length ")[1].split()[0])
    per_mac = window.functions[1]["dot_reference"] / length
    assert 5.5 <= per_mac <= 6.5, per_mac
    assert window.total == sum(window.functions[1].values())


def test_model_counts_per_node_are_deterministic(tiny_model):
    require_speed_tools()
    from mpy_mnist import bench
    run = bench.run_on_m7(tiny_model.read_bytes(), dsp=True)
    assert len(run.windows) == 2 and run.windows[0].regions == run.windows[1].regions
    assert sorted(run.windows[0].regions) == list(range(1, len(run.ops) + 1))  # one region per node


@pytest.mark.emulator
def test_micropython_runs_the_same_kernels_as_the_bare_metal_build(tiny_model, emulator_firmware):
    """Inside MicroPython (the tflite module on the emulator firmware) each op costs what it costs bare-metal, to
    within the SysTick interrupts that land in it: the firmware runs the DSP kernels, compiled the same way."""
    require_speed_tools()
    from mpy_mnist import bench
    model = tiny_model.read_bytes()
    inside = bench.run_in_micropython(model, emulator_firmware)[-1].regions
    bare = bench.run_on_m7(model, dsp=True).windows[-1].regions
    reference = bench.run_on_m7(model, dsp=False).windows[-1].regions
    assert sorted(inside) == sorted(bare)
    for node in bare:
        assert abs(inside[node] - bare[node]) <= max(60, bare[node] // 100), (node, inside[node], bare[node])
    assert sum(inside.values()) < sum(reference.values()) / 2
