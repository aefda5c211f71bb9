"""Weights packed once, at convert time, for the device engine's DSP kernels, and stored in the .tflite itself.

A lone input row meets each FULLY_CONNECTED weight once, so the Cortex-M kernel can only beat one instruction per
MAC if the weights are already int16 in the order its loop reads them. pack() adds them to the model where LiteRT
and the TFLM runtime never look: a Model.metadata entry named METADATA_NAME pointing at one extra buffer. Both
runtimes run the packed model exactly as before; the engine checks the packed values against the model's own
weights once, in prepare, and reads them in place from then on (cmodules/tflite/engine/model.c, tfl_packed_weights;
kernels/arm/fully_connected.c).

The buffer (little-endian; every buffer of the model is written 16-aligned in the file, as the schema's
force_align asks, so the payloads are too):
    "MPKW", record count, then per record five uint32: operator index, weights tensor index, layout, the payload's
    offset from the buffer's start (a multiple of 16) and its length; payloads follow, each 16-aligned.
LAYOUT_FC_PAIRS, for an int8 FULLY_CONNECTED with weights [units][depth]: per pair of output channels (an odd
count's last channel paired with a zero channel) the two biases with the input offset folded in (int32:
bias - input_zero_point * sum(weights)), then per group of 8 inputs (zero weights past depth) the first channel's
four words, then the second's; a word is two int16 weights in the order SXTB16 widens bytes: (k0, k2), (k1, k3),
(k4, k6), (k5, k7).
"""

import flatbuffers
import numpy as np
from ai_edge_litert import schema_py_generated as schema

METADATA_NAME = "mpy_mnist.packed_weights"
MAGIC = b"MPKW"
LAYOUT_FC_PAIRS = 1
ALIGN = 16
GROUP = 8  # inputs per group of LAYOUT_FC_PAIRS
_GROUP_ORDER = [0, 2, 1, 3, 4, 6, 5, 7]


def pack(tflite: bytes) -> bytes:
    """The model with the packed weights of every int8 FULLY_CONNECTED the DSP kernel runs (replacing any packed
    before: pack(pack(m)) == pack(m)). A model with none to pack, and no packed data already, comes back as it is."""
    model = schema.ModelT.InitFromPackedBuf(bytearray(tflite), 0)
    entry = next((m for m in model.metadata or [] if _name(m) == METADATA_NAME), None)
    records = _fully_connected_records(model)
    if not records and entry is None:
        return bytes(tflite)
    data = np.frombuffer(_packed_buffer(records), np.uint8)
    if entry is None:
        model.buffers.append(schema.BufferT())
        entry = schema.MetadataT()
        entry.name, entry.buffer = METADATA_NAME, len(model.buffers) - 1
        model.metadata = (model.metadata or []) + [entry]
    model.buffers[entry.buffer].data = data
    return _serialize(model)


def packed_payloads(tflite: bytes) -> list[dict]:
    """The records of a packed model (operator, tensor, layout, offset and length of the payload counted from the
    start of the file), for tests and reports; [] for a model without packed weights."""
    model = schema.Model.GetRootAs(tflite, 0)
    for i in range(model.MetadataLength()):
        entry = model.Metadata(i)
        if entry.Name().decode() != METADATA_NAME:
            continue
        buffer = model.Buffers(entry.Buffer())
        start = buffer._tab.Vector(buffer._tab.Offset(4))  # where the data vector's bytes start in the file
        count = int(np.frombuffer(tflite, "<u4", count=1, offset=start + 4)[0])
        fields = np.frombuffer(tflite, "<u4", count=5 * count, offset=start + 8).reshape(count, 5)
        return [dict(operator=int(f[0]), tensor=int(f[1]), layout=int(f[2]), start=start + int(f[3]),
                     length=int(f[4])) for f in fields]
    return []


def _name(entry) -> str:
    return entry.name.decode() if isinstance(entry.name, bytes) else entry.name


def _fully_connected_records(model) -> list[tuple]:
    """(operator index, weights tensor index, payload) of every FULLY_CONNECTED the DSP kernel runs: int8 input,
    weights and output, constant 2-D weights in the default format, at least two units, an int32 or no bias."""
    graph = model.subgraphs[0]
    records = []
    for index, op in enumerate(graph.operators):
        code = model.operatorCodes[op.opcodeIndex]
        if max(code.builtinCode, code.deprecatedBuiltinCode) != schema.BuiltinOperator.FULLY_CONNECTED:
            continue
        if getattr(op.builtinOptions, "weightsFormat", 0) != 0 or len(op.inputs) < 2:
            continue
        tensors = [graph.tensors[i] if i >= 0 else None for i in op.inputs] + [graph.tensors[op.outputs[0]]]
        source, weights, output = tensors[0], tensors[1], tensors[-1]
        bias = tensors[2] if len(op.inputs) > 2 else None
        int8 = schema.TensorType.INT8
        if (source.type, weights.type, output.type) != (int8, int8, int8) or len(weights.shape) != 2 \
                or weights.shape[0] < 2 or (bias is not None and bias.type != schema.TensorType.INT32):
            continue
        w = _constant(model, weights, np.int8)
        b = _constant(model, bias, "<i4") if bias is not None else np.zeros(weights.shape[0], np.int64)
        zero_points = source.quantization.zeroPoint if source.quantization is not None else None
        if w is None or b is None or len(b) != weights.shape[0] or zero_points is None or len(zero_points) != 1:
            continue
        payload = fully_connected_payload(w.reshape(weights.shape), b, int(zero_points[0]))
        if payload is not None:
            records.append((index, op.inputs[1], payload))
    return records


def _constant(model, tensor, dtype):
    data = model.buffers[tensor.buffer].data if tensor.buffer < len(model.buffers) else None
    return None if data is None or len(data) == 0 else np.frombuffer(bytes(data), dtype).astype(np.int64)


def fully_connected_payload(weights: np.ndarray, bias: np.ndarray, input_zero_point: int) -> bytes | None:
    """LAYOUT_FC_PAIRS of int8 weights [units][depth] and int32 biases, or None when a folded bias leaves int32."""
    units, depth = weights.shape
    pairs, groups = (units + 1) // 2, -(-depth // GROUP)
    folded = bias.astype(np.int64) - input_zero_point * weights.astype(np.int64).sum(axis=1)
    if np.any(folded < -2**31) or np.any(folded >= 2**31):
        return None
    w = np.zeros((2 * pairs, groups * GROUP), np.int16)
    w[:units, :depth] = weights
    heads = np.zeros(2 * pairs, "<i4")
    heads[:units] = folded
    body = w.reshape(pairs, 2, groups, GROUP)[..., _GROUP_ORDER].transpose(0, 2, 1, 3).astype("<i2")
    return b"".join(heads[2 * p:2 * p + 2].tobytes() + body[p].tobytes() for p in range(pairs))


def _padded(data: bytes) -> bytes:
    return data + bytes(-len(data) % ALIGN)


def _packed_buffer(records: list[tuple]) -> bytes:
    directory_bytes = len(_padded(bytes(8 + 20 * len(records))))
    directory, payloads = MAGIC + np.uint32(len(records)).astype("<u4").tobytes(), b""
    for operator, tensor, payload in records:
        offset = directory_bytes + len(payloads)
        directory += np.array([operator, tensor, LAYOUT_FC_PAIRS, offset, len(payload)], "<u4").tobytes()
        payloads += _padded(payload)
    return _padded(directory) + payloads


class _AlignedBuffer(schema.BufferT):
    """A Buffer whose data vector starts 16-aligned, as the schema's force_align asks (the Python object API
    aligns it to 1)."""

    def Pack(self, builder):
        data = None
        if self.data is not None:
            raw = np.asarray(self.data, np.uint8).tobytes()
            builder.StartVector(1, len(raw), ALIGN)
            builder.head -= len(raw)
            builder.Bytes[builder.head:builder.head + len(raw)] = raw
            data = builder.EndVector()
        schema.BufferStart(builder)
        if data is not None:
            schema.BufferAddData(builder, data)
        schema.BufferAddOffset(builder, self.offset)
        schema.BufferAddSize(builder, self.size)
        return schema.BufferEnd(builder)


def _serialize(model) -> bytes:
    for buffer in model.buffers:
        buffer.__class__ = _AlignedBuffer
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())
