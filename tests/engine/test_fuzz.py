"""A fixed-length libFuzzer run over load, plan and invoke (engine/fuzz/fuzz_engine.c, with ASan and UBSan),
seeded with the real models. A crash, an out-of-range access or undefined behaviour fails the test with the
fuzzer's report; the longer run and its findings are in benchmarks/FUZZING.md."""

import shutil
import subprocess

from needs import require_tool

from mpy_mnist import engine

from test_loader import FUZZ_CRASHES, MODELS

FUZZ_SEEDS = MODELS.parent / "fuzz_seeds"  # small generated models reaching the ops the real ones lack

RUNS = 4000


def test_fuzz_engine_fixed_run(tmp_path):
    require_tool("clang", "install clang and libclang-rt-dev (scripts/setup.sh does)")
    fuzzer = engine.build_fuzzer()
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for model in MODELS.glob("*.tflite"):
        if model.stat().st_size < 100_000:  # person_detect runs 20x slower under ASan: only in the long run
            shutil.copy(model, corpus)
    for seed in FUZZ_SEEDS.iterdir():
        shutil.copy(seed, corpus)
    for crash in FUZZ_CRASHES.iterdir():  # regressions first: the fuzzer runs every seed before mutating
        shutil.copy(crash, corpus)
    result = subprocess.run(
        [str(fuzzer), f"-runs={RUNS}", "-max_total_time=120", "-seed=1", "-timeout=10", "-rss_limit_mb=2048",
         "-max_len=40000", f"-artifact_prefix={tmp_path}/", str(corpus)],
        capture_output=True, text=True, timeout=600)
    print(result.stderr[-1500:])
    assert result.returncode == 0, result.stderr[-6000:]
    assert "Done" in result.stderr
