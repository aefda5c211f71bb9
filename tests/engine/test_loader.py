"""The engine's loader, planner and interpreter on real TFLM example models (tests/engine/models), compared with
the TFLM runtime: byte-identical outputs, arena figures side by side, clean errors on unsupported ops and on
malformed models (checked under ASan/UBSan), several interpreters side by side."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mpy_mnist import engine, paths

MODELS = Path(__file__).parent / "models"
FUZZ_CRASHES = Path(__file__).parent / "fuzz_crashes"  # inputs that once crashed the engine, kept as regressions
RUNNABLE = {  # model -> random inputs compared with TFLM
    "hello_world_int8": 200,
    "hello_world_float": 200,
    "micro_speech_quantized": 50,
    "person_detect": 8,
}


def model_bytes(name: str) -> bytes:
    return (MODELS / f"{name}.tflite").read_bytes()


def tflm(model: bytes):
    from tflite_micro.python.tflite_micro import runtime

    return runtime.Interpreter.from_bytes(model)


def random_input(details: dict, rng: np.random.Generator) -> np.ndarray:
    dtype, shape = details["dtype"], details["shape"]
    if np.issubdtype(dtype, np.floating):
        return rng.uniform(-3.0, 8.0, shape).astype(dtype)
    info = np.iinfo(dtype)
    return rng.integers(info.min, info.max + 1, shape).astype(dtype)


@pytest.mark.parametrize("name", RUNNABLE)
def test_real_model_outputs_are_byte_identical_with_tflm(name):
    model = model_bytes(name)
    ours, theirs = engine.Interpreter.from_bytes(model), tflm(model)
    for key in ("dtype", "shape"):
        assert np.array_equal(ours.get_input_details(0)[key], theirs.get_input_details(0)[key])
        assert np.array_equal(ours.get_output_details(0)[key], theirs.get_output_details(0)[key])
    for key in ("scales", "zero_points"):
        assert np.array_equal(ours.get_output_details(0)["quantization_parameters"][key],
                              theirs.get_output_details(0)["quantization_parameters"][key])
    rng = np.random.default_rng(1)
    for _ in range(RUNNABLE[name]):
        x = random_input(ours.get_input_details(0), rng)
        ours.set_input(x, 0)
        theirs.set_input(x, 0)
        ours.invoke()
        theirs.invoke()
        assert ours.get_output(0).tobytes() == theirs.get_output(0).tobytes()


@pytest.mark.parametrize("name", RUNNABLE)
def test_arena_figures_side_by_side_with_tflm(name):
    """Prints ours and TFLM's arena (both on this 64-bit host). Ours is no larger than TFLM's in total, and our
    plan never spans more than TFLM's head (its activations and its kernels' scratch) plus our kernels' scratch."""
    model = model_bytes(name)
    ours, theirs = engine.Interpreter.from_bytes(model), engine.tflm_arena(model)
    print(f"\n{name}: ours {ours.arena_used} B (persistent {ours.persistent_bytes}, activations "
          f"{ours.activation_bytes}, plan {ours.plan_bytes} with scratch {ours.scratch_bytes}); TFLM {theirs['total']} B (tail {theirs['tail']}, "
          f"head {theirs['head']})")
    assert ours.arena_used <= theirs["total"]
    assert ours.plan_bytes <= theirs["head"] + ours.scratch_bytes
    assert ours.arena_used == ours.arena_size  # arena_size=None gives exactly what is used


def test_default_mnist_model_needs_less_arena_than_tflm():
    model = (paths.REPO_ROOT / "firmware" / "default_model" / "model.tflite").read_bytes()
    assert engine.Interpreter.from_bytes(model).arena_used <= engine.tflm_arena(model)["total"]


def test_unsupported_op_names_it_and_lists_the_supported_ones():
    with pytest.raises(NotImplementedError) as error:
        engine.Interpreter.from_bytes(model_bytes("keyword_scrambled_8bit"))
    message = str(error.value)
    assert "unsupported op: SVDF" in message
    supported = engine.supported_ops()
    assert "FULLY_CONNECTED" in supported and "SVDF" not in supported
    for op in supported:
        assert op in message


def test_exact_arena_works_and_one_block_less_fails_naming_the_size():
    model = model_bytes("micro_speech_quantized")
    needed = engine.Interpreter.from_bytes(model).arena_used
    engine.Interpreter.from_bytes(model, arena_size=needed).invoke()
    with pytest.raises(MemoryError, match=f"needs {needed} bytes"):
        engine.Interpreter.from_bytes(model, arena_size=needed - 16)


def test_two_interpreters_side_by_side_keep_their_own_state():
    rng = np.random.default_rng(2)
    a = engine.Interpreter.from_bytes(model_bytes("micro_speech_quantized"))
    b = engine.Interpreter.from_bytes(model_bytes("micro_speech_quantized"))
    c = engine.Interpreter.from_bytes(model_bytes("hello_world_float"))
    reference = tflm(model_bytes("micro_speech_quantized"))
    xa, xb = (random_input(a.get_input_details(0), rng) for _ in range(2))
    a.set_input(xa, 0)
    b.set_input(xb, 0)
    c.set_input(np.array([[1.5]], dtype=np.float32), 0)
    b.invoke()
    c.invoke()
    a.invoke()
    for x, ours in ((xa, a), (xb, b)):
        reference.set_input(x, 0)
        reference.invoke()
        assert ours.get_output(0).tobytes() == reference.get_output(0).tobytes()


def test_bad_arguments_raise_value_errors_naming_the_expectation():
    it = engine.Interpreter.from_bytes(model_bytes("hello_world_int8"))
    with pytest.raises(ValueError, match="must be int8 with shape"):
        it.set_input(np.zeros((1, 1), dtype=np.float32), 0)
    with pytest.raises(ValueError, match="out of range"):
        it.get_output(1)
    with pytest.raises(ValueError, match="TFL3"):
        engine.Interpreter.from_bytes(b"not a model at all")
    assert it.ops == ["FULLY_CONNECTED"] * 3


def test_malformed_models_fail_cleanly_under_asan():
    """Truncations, bit flips, out-of-range offsets and huge counts, in a process running the ASan/UBSan build:
    every variant either runs or raises a clean error, and nothing reads or writes out of bounds."""
    engine.build_library(sanitize=True)
    models = [str(MODELS / f"{name}.tflite") for name in
              ("hello_world_int8", "hello_world_float", "micro_speech_quantized", "keyword_scrambled_8bit")]
    models.append(str(FUZZ_CRASHES))
    env = engine.asan_environment()
    env["PYTHONPATH"] = str(paths.REPO_ROOT / "host")
    result = subprocess.run([sys.executable, str(Path(__file__).parent / "malformed_models.py"), *models],
                            env=env, capture_output=True, text=True, timeout=900)
    print(result.stdout)
    assert result.returncode == 0, result.stderr[-6000:]
    assert result.stdout.count("variants") == len(models)


def rewritten(name: str, edit) -> bytes:
    """A real model, decoded with the TFLite schema's object API, edited, and written back as a flatbuffer."""
    import flatbuffers
    from tensorflow.lite.python import schema_py_generated as schema

    model = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(model_bytes(name), 0))
    edit(model)
    builder = flatbuffers.Builder(0)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def set_opcode(model, deprecated: int, builtin: int) -> None:
    model.operatorCodes[0].deprecatedBuiltinCode = deprecated
    model.operatorCodes[0].builtinCode = builtin


def test_both_operator_code_fields_are_honoured():
    """Old converters wrote only deprecated_builtin_code; new ones write both (127 in the old field above 127)."""
    reference = engine.Interpreter.from_bytes(model_bytes("hello_world_int8"))
    for deprecated, builtin in ((9, 0), (9, 9)):
        it = engine.Interpreter.from_bytes(rewritten("hello_world_int8", lambda m: set_opcode(m, deprecated, builtin)))
        assert it.ops == reference.ops
        x = np.array([[37]], dtype=np.int8)
        for interpreter in (it, reference):
            interpreter.set_input(x, 0)
            interpreter.invoke()
        assert it.get_output(0).tobytes() == reference.get_output(0).tobytes()


def second_subgraph(model):
    import copy
    model.subgraphs.append(copy.deepcopy(model.subgraphs[0]))


def tensor_type(type_code):
    def edit(model):
        model.subgraphs[0].tensors[model.subgraphs[0].inputs[0]].type = type_code
    return edit


def wrong_options(model):
    from tensorflow.lite.python import schema_py_generated as schema
    op = model.subgraphs[0].operators[0]
    op.builtinOptionsType = schema.BuiltinOptions.Conv2DOptions
    op.builtinOptions = schema.Conv2DOptionsT()


def output_is_constant(model):
    graph = model.subgraphs[0]
    graph.outputs = [int(graph.operators[0].inputs[1])]  # the first layer's weights


def reads_before_written(model):
    graph = model.subgraphs[0]
    middle = graph.operators[1]
    middle.inputs = [int(middle.outputs[0]), *map(int, middle.inputs[1:])]  # reads its own output


@pytest.mark.parametrize("edit, error, words", [
    (lambda m: setattr(m.operatorCodes[0], "version", 99), NotImplementedError, "FULLY_CONNECTED version 99"),
    (lambda m: set_opcode(m, 32, 32), NotImplementedError, "custom ops are not supported"),
    (lambda m: set_opcode(m, 127, 10_000), NotImplementedError, "op code 10000"),
    (lambda m: setattr(m, "version", 2), NotImplementedError, "schema version"),
    (second_subgraph, NotImplementedError, "exactly one subgraph"),
    (tensor_type(6), NotImplementedError, "tensor type"),  # BOOL
    (tensor_type(1), NotImplementedError, "tensor type"),  # FLOAT16
    (wrong_options, ValueError, "options of the wrong type"),
    (output_is_constant, ValueError, "constant"),
    (reads_before_written, ValueError, "reads a tensor that nothing writes before it"),
])
def test_crafted_models_get_named_errors(edit, error, words):
    with pytest.raises(error, match=words):
        engine.Interpreter.from_bytes(rewritten("hello_world_int8", edit))


@pytest.fixture(scope="module")
def branchy_model() -> bytes:
    """A small int8 CNN with two skip connections and a branch that lives long: lifetimes the real models lack."""
    import tensorflow as tf

    tf.keras.utils.set_random_seed(3)
    inputs = tf.keras.Input((12, 12, 3), batch_size=1)
    a = tf.keras.layers.Conv2D(8, 3, padding="same", activation="relu")(inputs)
    b = tf.keras.layers.DepthwiseConv2D(3, padding="same")(a)
    c = tf.keras.layers.Add()([a, b])
    d = tf.keras.layers.Conv2D(8, 1)(c)
    e = tf.keras.layers.Add()([d, a])
    f = tf.keras.layers.MaxPooling2D()(e)
    g = tf.keras.layers.Flatten()(f)
    outputs = tf.keras.layers.Dense(5, activation="softmax")(g)
    model = tf.keras.Model(inputs, outputs)
    rng = np.random.default_rng(3)
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: ([rng.uniform(0, 1, (1, 12, 12, 3)).astype(np.float32)]
                                                 for _ in range(20))
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = converter.inference_output_type = tf.int8
    return converter.convert()


def test_plan_is_sound_and_outputs_match_on_a_branchy_graph(branchy_model):
    ours, theirs = engine.Interpreter.from_bytes(branchy_model), tflm(branchy_model)
    assert ours.plan_violations() == 0
    assert ours.ops.count("ADD") == 2
    rng = np.random.default_rng(4)
    for _ in range(20):
        x = random_input(ours.get_input_details(0), rng)
        for interpreter in (ours, theirs):
            interpreter.set_input(x, 0)
            interpreter.invoke()
        assert ours.get_output(0).tobytes() == theirs.get_output(0).tobytes()
    assert ours.plan_bytes <= engine.tflm_arena(branchy_model)["head"] + ours.scratch_bytes


@pytest.mark.parametrize("name", RUNNABLE)
def test_plan_never_overlaps_live_tensors(name):
    assert engine.Interpreter.from_bytes(model_bytes(name)).plan_violations() == 0
