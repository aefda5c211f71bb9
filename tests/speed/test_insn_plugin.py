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


# The C library differs: the bare-metal programs link newlib's, the firmware MicroPython's own (lib/libc).
C_LIBRARY = {"memcpy", "memmove", "memset", "memcmp", "strlen"}


@pytest.mark.emulator
def test_micropython_runs_the_same_kernels_as_the_bare_metal_build(tiny_model, emulator_firmware):
    """Inside MicroPython (the tflite module on the emulator firmware) each op runs the same engine code as
    bare-metal, instruction for instruction: the firmware runs the DSP kernels, compiled the same way. Only the C
    library's functions and the SysTick interrupts that land in an op (counted under their own names) may differ."""
    require_speed_tools()
    from mpy_mnist import bench
    model = tiny_model.read_bytes()
    inside = bench.run_in_micropython(model, emulator_firmware)[-1]
    bare = bench.run_on_m7(model, dsp=True).windows[-1]
    reference = bench.run_on_m7(model, dsp=False).windows[-1].regions
    assert sorted(inside.regions) == sorted(bare.regions)
    for node, functions in bare.functions.items():
        engine = {name: count for name, count in functions.items() if name not in C_LIBRARY}
        assert {name: inside.functions[node].get(name) for name in engine} == engine, node
    assert sum(inside.regions.values()) < sum(reference.values()) / 2
