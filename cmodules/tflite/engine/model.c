/*
 * The flatbuffer reader: turns a .tflite model (TFLite schema version 3) into the interpreter's tensor and node
 * arrays, validating everything it uses. Written from the FlatBuffers binary format and the TFLite schema:
 *
 *   - a table starts with an int32 offset back to its vtable; the vtable is uint16 [vtable size, table size,
 *     field offset...], a field offset of 0 meaning "absent, use the default";
 *   - tables, vectors and strings are reached through uint32 offsets relative to where the offset is stored;
 *   - a vector is a uint32 element count followed by the elements.
 *
 * Every byte of the model is read through fb_read(), which checks the range against the buffer; a read outside it
 * marks the reader bad and yields zeros, and each step checks `bad` before it trusts what it read. Nothing here
 * assumes alignment: the model may be a bytes object at any address (in flash, for a frozen model).
 */
#include <string.h>

#include "context.h"
#include "model.h"

typedef struct {
    const uint8_t *buf;
    uint32_t size;
    int bad;
} fb_reader;

/* A table: where it starts, and its vtable. `present` is 0 for an absent table, whose fields all read as defaults. */
typedef struct {
    uint32_t pos, vtable;
    uint16_t vtable_size, table_size;
    int present;
} fb_table;

typedef struct {
    uint32_t pos;   /* first element */
    uint32_t count;
} fb_vector;

/* The one accessor: copies bytes [pos, pos + len) of the model, or zeros and marks the reader bad. */
static void fb_read(fb_reader *r, uint32_t pos, void *out, uint32_t len) {
    if (r->bad || pos > r->size || len > r->size - pos) {
        r->bad = 1;
        memset(out, 0, len);
        return;
    }
    memcpy(out, r->buf + pos, len);
}

static uint32_t fb_u32_at(fb_reader *r, uint32_t pos) {
    uint8_t b[4];
    fb_read(r, pos, b, 4);
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static uint16_t fb_u16_at(fb_reader *r, uint32_t pos) {
    uint8_t b[2];
    fb_read(r, pos, b, 2);
    return (uint16_t)(b[0] | b[1] << 8);
}

static uint8_t fb_u8_at(fb_reader *r, uint32_t pos) {
    uint8_t b;
    fb_read(r, pos, &b, 1);
    return b;
}

static int64_t fb_i64_at(fb_reader *r, uint32_t pos) {
    uint64_t lo = fb_u32_at(r, pos), hi = fb_u32_at(r, pos + 4);
    return (int64_t)(lo | hi << 32);
}

/* Position the uint32 offset stored at `pos` points to, or 0 (and bad) when it leaves the buffer. */
static uint32_t fb_follow(fb_reader *r, uint32_t pos) {
    uint64_t target = (uint64_t)pos + fb_u32_at(r, pos);
    if (r->bad || target + 4 > r->size) { /* every target (table, vector) starts with 4 bytes */
        r->bad = 1;
        return 0;
    }
    return (uint32_t)target;
}

static fb_table fb_table_at(fb_reader *r, uint32_t pos) {
    fb_table t = {0, 0, 0, 0, 0};
    int64_t vtable = (int64_t)pos - (int32_t)fb_u32_at(r, pos);
    if (r->bad || vtable < 0 || vtable + 4 > (int64_t)r->size) {
        r->bad = 1;
        return t;
    }
    t.pos = pos;
    t.vtable = (uint32_t)vtable;
    t.vtable_size = fb_u16_at(r, t.vtable);
    t.table_size = fb_u16_at(r, t.vtable + 2);
    if (t.vtable_size < 4 || (t.vtable_size & 1) || t.vtable + (uint64_t)t.vtable_size > r->size ||
        t.table_size < 4 || pos + (uint64_t)t.table_size > r->size) {
        r->bad = 1;
        return t;
    }
    t.present = !r->bad;
    return t;
}

/* Position of field `index` (of `len` bytes) of a table, or 0 when absent. A field must lie inside its table. */
static uint32_t fb_field(fb_reader *r, const fb_table *t, int index, uint32_t len) {
    uint32_t slot = 4 + 2 * (uint32_t)index;
    if (!t->present || slot + 2 > t->vtable_size) {
        return 0;
    }
    uint16_t offset = fb_u16_at(r, t->vtable + slot);
    if (offset == 0) {
        return 0;
    }
    if (offset < 4 || offset + len > t->table_size) {
        r->bad = 1;
        return 0;
    }
    return t->pos + offset;
}

static uint8_t fb_get_u8(fb_reader *r, const fb_table *t, int index, uint8_t fallback) {
    uint32_t pos = fb_field(r, t, index, 1);
    return pos ? fb_u8_at(r, pos) : fallback;
}

static int32_t fb_get_i32(fb_reader *r, const fb_table *t, int index, int32_t fallback) {
    uint32_t pos = fb_field(r, t, index, 4);
    return pos ? (int32_t)fb_u32_at(r, pos) : fallback;
}

static uint64_t fb_get_u64(fb_reader *r, const fb_table *t, int index) {
    uint32_t pos = fb_field(r, t, index, 8);
    return pos ? (uint64_t)fb_i64_at(r, pos) : 0;
}

static float fb_get_f32(fb_reader *r, const fb_table *t, int index, float fallback) {
    uint32_t pos = fb_field(r, t, index, 4);
    if (!pos) {
        return fallback;
    }
    uint32_t bits = fb_u32_at(r, pos);
    float value;
    memcpy(&value, &bits, 4);
    return value;
}

static fb_table fb_get_table(fb_reader *r, const fb_table *t, int index) {
    uint32_t pos = fb_field(r, t, index, 4);
    if (!pos) {
        fb_table absent = {0, 0, 0, 0, 0};
        return absent;
    }
    return fb_table_at(r, fb_follow(r, pos));
}

/* A vector field; its elements (elem_size bytes each) must all lie in the buffer. Absent: count 0. */
static fb_vector fb_get_vector(fb_reader *r, const fb_table *t, int index, uint32_t elem_size) {
    fb_vector v = {0, 0};
    uint32_t pos = fb_field(r, t, index, 4);
    if (!pos) {
        return v;
    }
    uint32_t start = fb_follow(r, pos);
    uint32_t count = fb_u32_at(r, start);
    if (r->bad || count > (r->size - start - 4) / elem_size) {
        r->bad = 1;
        return v;
    }
    v.pos = start + 4;
    v.count = count;
    return v;
}

static int32_t fb_vector_i32(fb_reader *r, const fb_vector *v, uint32_t i) {
    return (int32_t)fb_u32_at(r, v->pos + 4 * i);
}

static fb_table fb_vector_table(fb_reader *r, const fb_vector *v, uint32_t i) {
    return fb_table_at(r, fb_follow(r, v->pos + 4 * i));
}

/* ---- the TFLite schema ---- */

/* Field indices (order of declaration in schema.fbs). */
enum { MODEL_VERSION = 0, MODEL_OPERATOR_CODES = 1, MODEL_SUBGRAPHS = 2, MODEL_BUFFERS = 4, MODEL_METADATA = 6 };
enum { METADATA_NAME = 0, METADATA_BUFFER = 1 };
enum { SUBGRAPH_TENSORS = 0, SUBGRAPH_INPUTS = 1, SUBGRAPH_OUTPUTS = 2, SUBGRAPH_OPERATORS = 3 };
enum { TENSOR_SHAPE = 0, TENSOR_TYPE = 1, TENSOR_BUFFER = 2, TENSOR_QUANTIZATION = 4, TENSOR_IS_VARIABLE = 5 };
enum { QUANT_SCALE = 2, QUANT_ZERO_POINT = 3, QUANT_DIMENSION = 6 };
enum { BUFFER_DATA = 0, BUFFER_OFFSET = 1, BUFFER_SIZE = 2 };
enum { OPCODE_DEPRECATED_BUILTIN = 0, OPCODE_VERSION = 2, OPCODE_BUILTIN = 3 };
enum { OPERATOR_OPCODE_INDEX = 0, OPERATOR_INPUTS = 1, OPERATOR_OUTPUTS = 2, OPERATOR_OPTIONS_TYPE = 3,
       OPERATOR_OPTIONS = 4 };

/* BuiltinOptions union members we decode. */
enum { OPTIONS_NONE = 0, OPTIONS_CONV_2D = 1, OPTIONS_DEPTHWISE_CONV_2D = 2, OPTIONS_POOL_2D = 5,
       OPTIONS_FULLY_CONNECTED = 8, OPTIONS_SOFTMAX = 9, OPTIONS_ADD = 11, OPTIONS_REDUCER = 27 };

#define TFL_OP_CUSTOM 32
#define MAX_TENSORS 32767          /* tensors + operators: node tensor indices and the planner's buffer indices
                                      are int16 */
#define MAX_TENSOR_BYTES 0x10000000 /* 256 MB: far above any microcontroller model; products of two tensor
                                       extents then stay far from overflowing int64, and one extent fits int32 */
#define MAX_WINDOW 4096            /* strides, dilations and filter sizes: far above any real model, low enough
                                      that kernels' index arithmetic cannot overflow int32 */

typedef struct {
    tfl_interpreter *it;
    fb_reader r;
    fb_vector opcodes, buffers;
} reader;

static tfl_status bad(reader *rd, const char *message, int node, int tensor) {
    return tfl_error_at(rd->it, TFL_ERR_BAD_MODEL, message, node, -1, tensor);
}

static tfl_status truncated(reader *rd, int node, int tensor) {
    return bad(rd, "malformed model: an offset, vector or table lies outside the buffer", node, tensor);
}

int tfl_type_size(int type) {
    switch (type) {
        case TFL_TYPE_FLOAT32: return 4;
        case TFL_TYPE_INT32: return 4;
        case TFL_TYPE_UINT8: return 1;
        case TFL_TYPE_INT64: return 8;
        case TFL_TYPE_INT16: return 2;
        case TFL_TYPE_INT8: return 1;
        default: return 0;
    }
}

const char *tfl_type_name(int type) {
    switch (type) {
        case TFL_TYPE_FLOAT32: return "float32";
        case TFL_TYPE_INT32: return "int32";
        case TFL_TYPE_UINT8: return "uint8";
        case TFL_TYPE_INT64: return "int64";
        case TFL_TYPE_INT16: return "int16";
        case TFL_TYPE_INT8: return "int8";
        default: return NULL;
    }
}

/* Zero points must fit the integer type they shift, so kernels can subtract them without overflow. */
static int zero_point_fits(int type, int64_t zero_point) {
    switch (type) {
        case TFL_TYPE_INT8: return zero_point >= -128 && zero_point <= 127;
        case TFL_TYPE_UINT8: return zero_point >= 0 && zero_point <= 255;
        case TFL_TYPE_INT16: return zero_point >= -32768 && zero_point <= 32767;
        default: return zero_point >= -65536 && zero_point <= 65536;
    }
}

static tfl_status read_quantization(reader *rd, const fb_table *tensor_table, tfl_tensor *t, int index) {
    fb_reader *r = &rd->r;
    fb_table q = fb_get_table(r, tensor_table, TENSOR_QUANTIZATION);
    fb_vector scales = fb_get_vector(r, &q, QUANT_SCALE, 4);
    fb_vector zero_points = fb_get_vector(r, &q, QUANT_ZERO_POINT, 8);
    int32_t dimension = fb_get_i32(r, &q, QUANT_DIMENSION, 0);
    if (r->bad) {
        return truncated(rd, -1, index);
    }
    if (scales.count == 0) {
        return TFL_OK; /* not quantised (min/max alone are only a converter's note) */
    }
    if (zero_points.count != 0 && zero_points.count != scales.count) {
        return bad(rd, "quantization has a different number of scales and zero points", -1, index);
    }
    /* Per-channel: one scale per index along the quantized dimension. Converters also leave the weights'
     * dimension (e.g. 3) on a depthwise conv's 1-D bias; there the one dimension must match. */
    int along = dimension >= 0 && dimension < t->dims_count ? dimension : t->dims_count == 1 ? 0 : -1;
    if (scales.count > 1 && (along < 0 || (uint32_t)t->dims[along] != scales.count)) {
        return bad(rd, "per-channel quantization does not match the tensor's quantized dimension", -1, index);
    }
    for (uint32_t i = 0; i < scales.count; i++) {
        uint32_t scale_bits = fb_u32_at(r, scales.pos + 4 * i);
        int64_t zero_point = zero_points.count ? fb_i64_at(r, zero_points.pos + 8 * i) : 0;
        float scale;
        memcpy(&scale, &scale_bits, 4);
        if (!(scale > 0.0f && scale <= 3.4e38f)) { /* also rejects NaN */
            return bad(rd, "quantization scale is not a positive finite number", -1, index);
        }
        if (!zero_point_fits(t->type, zero_point)) {
            return bad(rd, "quantization zero point is outside the tensor type's range", -1, index);
        }
    }
    t->quant.count = (int32_t)scales.count;
    t->quant.quantized_dimension = dimension;
    t->quant.scales = r->buf + scales.pos;
    t->quant.zero_points = zero_points.count ? r->buf + zero_points.pos : NULL;
    t->scale = tfl_quant_scale(&t->quant, 0);
    t->zero_point = tfl_quant_zero_point(&t->quant, 0);
    return TFL_OK;
}

/* The tensor's constant data, if its buffer has any: the `data` vector, or the (offset, size) pair that models
 * over 2 GB use, counted from the start of the model. Sets *data to NULL for a buffer without data. */
static tfl_status read_buffer(reader *rd, uint32_t index, uint32_t expected_bytes, const uint8_t **data, int tensor) {
    fb_reader *r = &rd->r;
    *data = NULL;
    if (index == 0 && rd->buffers.count == 0) {
        return TFL_OK;
    }
    if (index >= rd->buffers.count) {
        return bad(rd, "tensor refers to a buffer that does not exist", -1, tensor);
    }
    fb_table buffer = fb_vector_table(r, &rd->buffers, index);
    fb_vector bytes = fb_get_vector(r, &buffer, BUFFER_DATA, 1);
    uint64_t offset = fb_get_u64(r, &buffer, BUFFER_OFFSET);
    uint64_t size = fb_get_u64(r, &buffer, BUFFER_SIZE);
    if (r->bad) {
        return truncated(rd, -1, tensor);
    }
    if (bytes.count == 0 && offset > 1) {
        if (offset > r->size || size > r->size - offset) {
            return bad(rd, "tensor data (buffer offset and size) lies outside the model", -1, tensor);
        }
        bytes.pos = (uint32_t)offset;
        bytes.count = (uint32_t)size;
    }
    if (bytes.count == 0) {
        return TFL_OK;
    }
    if (bytes.count != expected_bytes) {
        return bad(rd, "tensor data size does not match its shape and type", -1, tensor);
    }
    *data = r->buf + bytes.pos;
    return TFL_OK;
}

static tfl_status read_tensor(reader *rd, const fb_table *tensor_table, int index) {
    fb_reader *r = &rd->r;
    tfl_tensor *t = &rd->it->tensors[index];
    fb_vector shape = fb_get_vector(r, tensor_table, TENSOR_SHAPE, 4);
    uint8_t type = fb_get_u8(r, tensor_table, TENSOR_TYPE, 0);
    uint32_t buffer = (uint32_t)fb_get_i32(r, tensor_table, TENSOR_BUFFER, 0);
    uint8_t is_variable = fb_get_u8(r, tensor_table, TENSOR_IS_VARIABLE, 0);
    if (r->bad) {
        return truncated(rd, -1, index);
    }
    if (shape.count > TFL_MAX_DIMS) {
        return tfl_error_at(rd->it, TFL_ERR_UNSUPPORTED, "tensor has more than 6 dimensions", -1, -1, index);
    }
    int size = tfl_type_size(type);
    if (size == 0) {
        return tfl_error_at(rd->it, TFL_ERR_UNSUPPORTED,
            "tensor type is not supported (only float32, int8, uint8, int16, int32, int64)", -1, -1, index);
    }
    t->type = type;
    t->dims_count = (uint8_t)shape.count;
    /* Bound the product with zero dimensions counted as 1, so no loop over a zero-size tensor's other
     * dimensions can run away either. */
    uint64_t elements = 1, extent = 1;
    for (uint32_t i = 0; i < shape.count; i++) {
        int32_t dim = fb_vector_i32(r, &shape, i);
        if (dim < 0) {
            return bad(rd, "tensor has a negative (dynamic) dimension; only static shapes are supported", -1, index);
        }
        t->dims[i] = dim;
        elements *= (uint64_t)dim;
        extent *= dim ? (uint64_t)dim : 1;
        if (extent * (uint64_t)size > MAX_TENSOR_BYTES) {
            return bad(rd, "tensor is larger than 256 MB", -1, index);
        }
    }
    t->bytes = (uint32_t)(elements * (uint64_t)size);
    tfl_status status = read_quantization(rd, tensor_table, t, index);
    if (status != TFL_OK) {
        return status;
    }
    const uint8_t *data;
    status = read_buffer(rd, buffer, t->bytes, &data, index);
    if (status != TFL_OK) {
        return status;
    }
    if (is_variable) {
        /* State the graph writes and keeps between invokes: its own persistent memory, never shared. */
        t->data = tfl_alloc_persistent(rd->it, t->bytes ? t->bytes : 1);
        if (t->data == NULL) {
            return tfl_error_at(rd->it, TFL_ERR_ARENA, "arena too small", -1, -1, index);
        }
        if (data) {
            memcpy(t->data, data, t->bytes);
        } else {
            memset(t->data, 0, t->bytes);
        }
    } else if (data) {
        t->data = (uint8_t *)(uintptr_t)data; /* the model is read only: kernels never write constant tensors */
        t->is_constant = 1;
    }
    return TFL_OK;
}

/* The op's expected BuiltinOptions member, for the ops whose options we decode. */
static int options_type_of(int op) {
    switch (op) {
        case TFL_OP_CONV_2D: return OPTIONS_CONV_2D;
        case TFL_OP_DEPTHWISE_CONV_2D: return OPTIONS_DEPTHWISE_CONV_2D;
        case TFL_OP_AVERAGE_POOL_2D: return OPTIONS_POOL_2D;
        case TFL_OP_MAX_POOL_2D: return OPTIONS_POOL_2D;
        case TFL_OP_FULLY_CONNECTED: return OPTIONS_FULLY_CONNECTED;
        case TFL_OP_SOFTMAX: return OPTIONS_SOFTMAX;
        case TFL_OP_ADD: return OPTIONS_ADD;
        case TFL_OP_MEAN: return OPTIONS_REDUCER;
        default: return OPTIONS_NONE;
    }
}

static int window_ok(int32_t value) {
    return value >= 1 && value <= MAX_WINDOW;
}

/* Decode the op's builtin options; absent options (and fields) take the schema's defaults. */
static tfl_status read_options(reader *rd, const fb_table *op_table, tfl_node *node, int index) {
    fb_reader *r = &rd->r;
    int expected = options_type_of(node->op);
    uint8_t type = fb_get_u8(r, op_table, OPERATOR_OPTIONS_TYPE, OPTIONS_NONE);
    fb_table o = {0, 0, 0, 0, 0};
    if (expected == OPTIONS_NONE) {
        return r->bad ? truncated(rd, index, -1) : TFL_OK;
    }
    if (type == expected) {
        o = fb_get_table(r, op_table, OPERATOR_OPTIONS);
    } else if (type != OPTIONS_NONE) {
        return bad(rd, "operator has builtin options of the wrong type for its op", index, -1);
    }
    tfl_options *opt = &node->options;
    memset(opt, 0, sizeof(*opt));
    int windows_ok = 1;
    uint8_t padding = TFL_PADDING_SAME;
    switch (expected) {
        case OPTIONS_CONV_2D:
            opt->conv.padding = padding = fb_get_u8(r, &o, 0, TFL_PADDING_SAME);
            opt->conv.stride_w = fb_get_i32(r, &o, 1, 0);
            opt->conv.stride_h = fb_get_i32(r, &o, 2, 0);
            opt->conv.activation = fb_get_u8(r, &o, 3, TFL_ACT_NONE);
            opt->conv.dilation_w = fb_get_i32(r, &o, 4, 1);
            opt->conv.dilation_h = fb_get_i32(r, &o, 5, 1);
            opt->conv.depth_multiplier = 1;
            break;
        case OPTIONS_DEPTHWISE_CONV_2D:
            opt->conv.padding = padding = fb_get_u8(r, &o, 0, TFL_PADDING_SAME);
            opt->conv.stride_w = fb_get_i32(r, &o, 1, 0);
            opt->conv.stride_h = fb_get_i32(r, &o, 2, 0);
            opt->conv.depth_multiplier = fb_get_i32(r, &o, 3, 0);
            opt->conv.activation = fb_get_u8(r, &o, 4, TFL_ACT_NONE);
            opt->conv.dilation_w = fb_get_i32(r, &o, 5, 1);
            opt->conv.dilation_h = fb_get_i32(r, &o, 6, 1);
            break;
        case OPTIONS_POOL_2D:
            opt->pool.padding = padding = fb_get_u8(r, &o, 0, TFL_PADDING_SAME);
            opt->pool.stride_w = fb_get_i32(r, &o, 1, 0);
            opt->pool.stride_h = fb_get_i32(r, &o, 2, 0);
            opt->pool.filter_w = fb_get_i32(r, &o, 3, 0);
            opt->pool.filter_h = fb_get_i32(r, &o, 4, 0);
            opt->pool.activation = fb_get_u8(r, &o, 5, TFL_ACT_NONE);
            windows_ok = window_ok(opt->pool.stride_w) && window_ok(opt->pool.stride_h) &&
                         window_ok(opt->pool.filter_w) && window_ok(opt->pool.filter_h);
            break;
        case OPTIONS_FULLY_CONNECTED:
            opt->fully_connected.activation = fb_get_u8(r, &o, 0, TFL_ACT_NONE);
            opt->fully_connected.weights_format = fb_get_u8(r, &o, 1, 0);
            opt->fully_connected.keep_num_dims = fb_get_u8(r, &o, 2, 0);
            break;
        case OPTIONS_SOFTMAX:
            opt->softmax.beta = fb_get_f32(r, &o, 0, 0.0f);
            break;
        case OPTIONS_ADD:
            opt->add.activation = fb_get_u8(r, &o, 0, TFL_ACT_NONE);
            break;
        case OPTIONS_REDUCER:
            opt->reducer.keep_dims = fb_get_u8(r, &o, 0, 0);
            break;
        default:
            break;
    }
    if (r->bad) {
        return truncated(rd, index, -1);
    }
    if (expected == OPTIONS_CONV_2D || expected == OPTIONS_DEPTHWISE_CONV_2D) {
        windows_ok = window_ok(opt->conv.stride_w) && window_ok(opt->conv.stride_h) &&
                     window_ok(opt->conv.dilation_w) && window_ok(opt->conv.dilation_h) &&
                     opt->conv.depth_multiplier >= 1 && opt->conv.depth_multiplier <= MAX_WINDOW;
    }
    if (!windows_ok) {
        return bad(rd, "operator options: stride, dilation, filter size or depth multiplier outside 1..4096",
            index, -1);
    }
    if (padding > TFL_PADDING_VALID) {
        return bad(rd, "operator options: unknown padding", index, -1);
    }
    return TFL_OK;
}

/* A node's tensor list: indices in range (-1 allowed where `optional`), at most `max` of them. */
static tfl_status read_tensor_list(reader *rd, const fb_table *op_table, int field, int max, int optional,
    int16_t *out, uint8_t *count, int index) {
    fb_reader *r = &rd->r;
    fb_vector v = fb_get_vector(r, op_table, field, 4);
    if (r->bad) {
        return truncated(rd, index, -1);
    }
    if (v.count > (uint32_t)max) {
        return tfl_error_at(rd->it, TFL_ERR_UNSUPPORTED,
            field == OPERATOR_INPUTS ? "operator has more inputs than the engine supports"
                                     : "operator has more outputs than the engine supports",
            index, rd->it->nodes[index].op, -1);
    }
    for (uint32_t i = 0; i < v.count; i++) {
        int32_t tensor = fb_vector_i32(r, &v, i);
        if (tensor < (optional ? -1 : 0) || tensor >= rd->it->tensors_count) {
            return bad(rd, "operator refers to a tensor that does not exist", index, -1);
        }
        out[i] = (int16_t)tensor;
    }
    *count = (uint8_t)v.count;
    return TFL_OK;
}

static tfl_status read_operator(reader *rd, const fb_table *op_table, int index) {
    fb_reader *r = &rd->r;
    tfl_interpreter *it = rd->it;
    tfl_node *node = &it->nodes[index];
    uint32_t opcode_index = (uint32_t)fb_get_i32(r, op_table, OPERATOR_OPCODE_INDEX, 0);
    if (r->bad) {
        return truncated(rd, index, -1);
    }
    if (opcode_index >= rd->opcodes.count) {
        return bad(rd, "operator refers to an operator code that does not exist", index, -1);
    }
    fb_table code = fb_vector_table(r, &rd->opcodes, opcode_index);
    /* builtin_code superseded the int8 deprecated_builtin_code when ops passed 127; the real code is the larger. */
    int32_t deprecated = (int8_t)fb_get_u8(r, &code, OPCODE_DEPRECATED_BUILTIN, 0);
    int32_t builtin = fb_get_i32(r, &code, OPCODE_BUILTIN, 0);
    int32_t version = fb_get_i32(r, &code, OPCODE_VERSION, 1);
    if (r->bad) {
        return truncated(rd, index, -1);
    }
    int32_t op = builtin > deprecated ? builtin : deprecated;
    if (op < 0 || op > 0xffff) {
        return bad(rd, "operator code is not a TFLite builtin operator", index, -1);
    }
    const tfl_kernel *kernel = tfl_find_kernel(op);
    if (kernel == NULL || version < 1 || version > kernel->max_version) {
        tfl_error_at(it, TFL_ERR_UNSUPPORTED, kernel != NULL ? "unsupported op version"
            : op == TFL_OP_CUSTOM ? "custom ops are not supported" : "unsupported op", index, op, -1);
        it->list_ops = 1;
        it->error_version = kernel != NULL ? version : 0;
        return TFL_ERR_UNSUPPORTED;
    }
    node->op = (uint16_t)op;
    node->version = (uint8_t)version;
    tfl_status status = read_tensor_list(rd, op_table, OPERATOR_INPUTS, TFL_MAX_NODE_INPUTS, 1,
        node->inputs, &node->inputs_count, index);
    if (status == TFL_OK) {
        status = read_tensor_list(rd, op_table, OPERATOR_OUTPUTS, TFL_MAX_NODE_OUTPUTS, 0,
            node->outputs, &node->outputs_count, index);
    }
    if (status != TFL_OK) {
        return status;
    }
    if (node->outputs_count != 1) {
        return tfl_error_at(it, TFL_ERR_UNSUPPORTED, "operator without an output", index, op, -1);
    }
    const tfl_tensor *output = &it->tensors[node->outputs[0]];
    if (output->is_constant || output->data != NULL) {
        return bad(rd, "operator writes a constant or variable tensor", index, node->outputs[0]);
    }
    return read_options(rd, op_table, node, index);
}

/* The graph's input or output list: non-constant tensors that exist. */
static tfl_status read_graph_io(reader *rd, const fb_table *subgraph, int field, int16_t **out, int32_t *count) {
    fb_reader *r = &rd->r;
    fb_vector v = fb_get_vector(r, subgraph, field, 4);
    if (r->bad) {
        return truncated(rd, -1, -1);
    }
    *out = tfl_alloc_persistent(rd->it, v.count * sizeof(int16_t));
    if (*out == NULL && v.count) {
        return tfl_error_at(rd->it, TFL_ERR_ARENA, "arena too small", -1, -1, -1);
    }
    for (uint32_t i = 0; i < v.count; i++) {
        int32_t tensor = fb_vector_i32(r, &v, i);
        if (tensor < 0 || tensor >= rd->it->tensors_count) {
            return bad(rd, "graph input or output refers to a tensor that does not exist", -1, -1);
        }
        if (rd->it->tensors[tensor].is_constant) {
            return bad(rd, "graph input or output is a constant tensor", -1, tensor);
        }
        (*out)[i] = (int16_t)tensor;
    }
    *count = (int32_t)v.count;
    return TFL_OK;
}

static void *alloc_array(tfl_interpreter *it, uint32_t count, size_t size) {
    return tfl_alloc_persistent(it, count ? count * size : 1);
}

tfl_status tfl_model_read(tfl_interpreter *it) {
    reader rd;
    rd.it = it;
    rd.r.buf = it->model;
    rd.r.size = it->model_size;
    rd.r.bad = 0;
    fb_reader *r = &rd.r;
    if (it->model_size < 8 || memcmp(it->model + 4, "TFL3", 4) != 0) {
        return bad(&rd, "not a TFLite model (no TFL3 identifier at byte 4)", -1, -1);
    }
    fb_table model = fb_table_at(r, fb_follow(r, 0));
    uint32_t version = (uint32_t)fb_get_i32(r, &model, MODEL_VERSION, 0);
    fb_vector subgraphs = fb_get_vector(r, &model, MODEL_SUBGRAPHS, 4);
    rd.opcodes = fb_get_vector(r, &model, MODEL_OPERATOR_CODES, 4);
    rd.buffers = fb_get_vector(r, &model, MODEL_BUFFERS, 4);
    if (r->bad) {
        return truncated(&rd, -1, -1);
    }
    if (version != 3) {
        return tfl_error_at(it, TFL_ERR_UNSUPPORTED, "unsupported schema version (only version 3)", -1, -1, -1);
    }
    if (subgraphs.count != 1) {
        return tfl_error_at(it, subgraphs.count ? TFL_ERR_UNSUPPORTED : TFL_ERR_BAD_MODEL,
            "model must have exactly one subgraph (control flow is not supported)", -1, -1, -1);
    }
    fb_table subgraph = fb_vector_table(r, &subgraphs, 0);
    fb_vector tensors = fb_get_vector(r, &subgraph, SUBGRAPH_TENSORS, 4);
    fb_vector operators = fb_get_vector(r, &subgraph, SUBGRAPH_OPERATORS, 4);
    if (r->bad) {
        return truncated(&rd, -1, -1);
    }
    if (tensors.count + (uint64_t)operators.count > MAX_TENSORS) {
        return tfl_error_at(it, TFL_ERR_UNSUPPORTED, "model has more than 32767 tensors and operators", -1, -1, -1);
    }
    it->tensors = alloc_array(it, tensors.count, sizeof(tfl_tensor));
    it->nodes = alloc_array(it, operators.count, sizeof(tfl_node));
    if (it->tensors == NULL || it->nodes == NULL) {
        it->tensors = NULL;
        it->nodes = NULL;
        return tfl_error_at(it, TFL_ERR_ARENA, "arena too small", -1, -1, -1);
    }
    it->tensors_count = (int32_t)tensors.count; /* only once the arrays exist */
    it->nodes_count = (int32_t)operators.count;
    memset(it->tensors, 0, tensors.count * sizeof(tfl_tensor));
    memset(it->nodes, 0, operators.count * sizeof(tfl_node));
    for (uint32_t i = 0; i < tensors.count; i++) {
        fb_table t = fb_vector_table(r, &tensors, i);
        tfl_status status = r->bad ? truncated(&rd, -1, (int)i) : read_tensor(&rd, &t, (int)i);
        if (status != TFL_OK) {
            return status;
        }
    }
    tfl_status status = read_graph_io(&rd, &subgraph, SUBGRAPH_INPUTS, &it->inputs, &it->inputs_count);
    if (status == TFL_OK) {
        status = read_graph_io(&rd, &subgraph, SUBGRAPH_OUTPUTS, &it->outputs, &it->outputs_count);
    }
    for (uint32_t i = 0; status == TFL_OK && i < operators.count; i++) {
        fb_table op = fb_vector_table(r, &operators, i);
        status = r->bad ? truncated(&rd, (int)i, -1) : read_operator(&rd, &op, (int)i);
    }
    return status;
}

/* ---- packed weights: a Model.metadata entry named PACKED_NAME whose buffer holds "MPKW", a record count, records
 * of five uint32 (operator index, weights tensor index, layout, payload offset from the buffer's start, payload
 * length) and the payloads (host/mpy_mnist/packing.py writes them). LiteRT and the TFLM runtime ignore the entry.
 * Anything missing or malformed reads as absent: the kernel then uses the model's own weights. ---- */

#define PACKED_NAME "mpy_mnist.packed_weights"
#define PACKED_MAGIC "MPKW"
enum { PACKED_RECORD_WORDS = 5 };

/* The buffer data of the metadata entry named PACKED_NAME, or count 0. */
static fb_vector packed_buffer(fb_reader *r) {
    fb_vector none = {0, 0};
    fb_table model = fb_table_at(r, fb_follow(r, 0));
    fb_vector metadata = fb_get_vector(r, &model, MODEL_METADATA, 4);
    fb_vector buffers = fb_get_vector(r, &model, MODEL_BUFFERS, 4);
    for (uint32_t i = 0; !r->bad && i < metadata.count; i++) {
        fb_table entry = fb_vector_table(r, &metadata, i);
        fb_vector name = fb_get_vector(r, &entry, METADATA_NAME, 1);
        char text[sizeof(PACKED_NAME) - 1];
        if (r->bad || name.count != sizeof(text)) {
            continue;
        }
        fb_read(r, name.pos, text, sizeof(text));
        if (memcmp(text, PACKED_NAME, sizeof(text)) != 0) {
            continue;
        }
        uint32_t buffer = (uint32_t)fb_get_i32(r, &entry, METADATA_BUFFER, 0);
        if (r->bad || buffer >= buffers.count) {
            return none;
        }
        fb_table table = fb_vector_table(r, &buffers, buffer);
        fb_vector data = fb_get_vector(r, &table, BUFFER_DATA, 1);
        return r->bad ? none : data;
    }
    return none;
}

const uint8_t *tfl_packed_weights(tfl_context *ctx, const tfl_node *node, uint32_t layout, uint32_t *bytes) {
    fb_reader r = {ctx->model, ctx->model_size, 0};
    fb_vector data = packed_buffer(&r);
    uint8_t magic[4];
    fb_read(&r, data.pos, magic, 4);
    uint32_t count = fb_u32_at(&r, data.pos + 4);
    if (r.bad || data.count < 8 || memcmp(magic, PACKED_MAGIC, 4) != 0 ||
        count > (data.count - 8) / (4 * PACKED_RECORD_WORDS) || node->inputs_count < 2) {
        return NULL;
    }
    for (uint32_t i = 0; i < count; i++) {
        uint32_t field[PACKED_RECORD_WORDS];
        for (int k = 0; k < PACKED_RECORD_WORDS; k++) {
            field[k] = fb_u32_at(&r, data.pos + 8 + 4 * (PACKED_RECORD_WORDS * i + (uint32_t)k));
        }
        uint32_t offset = field[3], length = field[4];
        if (field[0] == (uint32_t)(node - ctx->nodes) && field[1] == (uint32_t)node->inputs[1] && field[2] == layout &&
            !r.bad && offset <= data.count && length <= data.count - offset) {
            *bytes = length;
            return ctx->model + data.pos + offset;
        }
    }
    return NULL;
}
