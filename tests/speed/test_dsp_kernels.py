"""The DSP kernels (kernels/arm/) give the reference kernels' outputs bit for bit, on the emulated Cortex-M7:
conv, depthwise, FC and max pool built both ways into one bare-metal program, compared on random cases generated
on the device (shapes, strides, dilations, padding, zero points, per-channel scales, biases, activations); FC
also from weights packed as the converter packs them, and from packed weights it must refuse (misaligned, wrong)."""

import pytest

from mpy_mnist import baremetal
from tools import require_speed_tools


@pytest.mark.parametrize("seed", [1, 20251125])
def test_dsp_kernels_match_the_reference_bit_for_bit(seed):
    require_speed_tools()
    output = baremetal.kernel_check(cases=600, seed=seed)
    words = output.split()
    assert words[:2] == ["ok", "600"], output
    assert words[2] == "packed" and int(words[3]) >= 20, output  # of ~150 FC cases, a quarter packed
