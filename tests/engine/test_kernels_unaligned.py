"""Every kernel-test model run from a misaligned copy under ASan/UBSan (see unaligned_models.py)."""

import subprocess
import sys
from pathlib import Path

import kernel_models
import test_kernels
from mpy_mnist import engine, paths


def test_kernels_read_model_constants_at_any_alignment():
    engine.build_library(sanitize=True)
    specs = [p.values[0] for p in test_kernels.CASES]
    models = [str(kernel_models.cache_path(spec)) for spec in specs if kernel_models.model_bytes(spec)]
    env = engine.asan_environment()
    env["PYTHONPATH"] = str(paths.REPO_ROOT / "host")
    result = subprocess.run([sys.executable, str(Path(__file__).parent / "unaligned_models.py"), *models],
                            env=env, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-6000:]
    assert result.stdout.count("same output") == len(models)
