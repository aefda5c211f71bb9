/*
 * The contract between the interpreter and the kernels. Plain C99; no MicroPython header anywhere in engine/.
 *
 * Life of a model: the reader (model.c) validates the flatbuffer and fills one tfl_tensor per tensor and one
 * tfl_node per operator; the interpreter calls each kernel's prepare() once, in graph order; the planner then
 * places every non-constant tensor and every node's scratch in the arena by lifetime; invoke() calls eval() for
 * each node in order. prepare() does everything that does not depend on input values (shape checks, fixed-point
 * multipliers, scratch size); eval() is only the loop.
 */
#ifndef TFL_KERNEL_H
#define TFL_KERNEL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Status codes. The engine never prints and never allocates on its own: it returns one of these and leaves a
 * static message in the context; the binding turns both into a Python exception. */
typedef enum {
    TFL_OK = 0,
    TFL_ERR_BAD_MODEL,     /* malformed flatbuffer or inconsistent graph  -> ValueError */
    TFL_ERR_UNSUPPORTED,   /* op, type, version or option outside our set -> NotImplementedError */
    TFL_ERR_ARENA,         /* the arena is too small                      -> MemoryError */
    TFL_ERR_BAD_ARGUMENT,  /* caller's mistake (index, size, type)        -> ValueError */
} tfl_status;

/* TensorType values of the TFLite schema. */
enum {
    TFL_TYPE_FLOAT32 = 0,
    TFL_TYPE_INT32 = 2,
    TFL_TYPE_UINT8 = 3,
    TFL_TYPE_INT64 = 4,
    TFL_TYPE_INT16 = 7,
    TFL_TYPE_INT8 = 9,
};

/* ActivationFunctionType and Padding values of the schema. */
enum { TFL_ACT_NONE = 0, TFL_ACT_RELU = 1, TFL_ACT_RELU_N1_TO_1 = 2, TFL_ACT_RELU6 = 3, TFL_ACT_TANH = 4 };
enum { TFL_PADDING_SAME = 0, TFL_PADDING_VALID = 1 };

/* BuiltinOperator codes of the schema for the ops we run. */
enum {
    TFL_OP_ADD = 0,
    TFL_OP_AVERAGE_POOL_2D = 1,
    TFL_OP_CONV_2D = 3,
    TFL_OP_DEPTHWISE_CONV_2D = 4,
    TFL_OP_DEQUANTIZE = 6,
    TFL_OP_FULLY_CONNECTED = 9,
    TFL_OP_LOGISTIC = 14,
    TFL_OP_MAX_POOL_2D = 17,
    TFL_OP_RELU = 19,
    TFL_OP_RELU6 = 21,
    TFL_OP_RESHAPE = 22,
    TFL_OP_SOFTMAX = 25,
    TFL_OP_MEAN = 40,
    TFL_OP_QUANTIZE = 114,
};

#define TFL_MAX_DIMS 6
#define TFL_MAX_NODE_INPUTS 4
#define TFL_MAX_NODE_OUTPUTS 1

/* Quantisation of one tensor. The vectors point into the flatbuffer, which may sit at any address (a frozen
 * bytes object in flash has no alignment guarantee): read them only through tfl_quant_scale/zero_point. */
typedef struct {
    int32_t count;               /* 0: not quantised; 1: per-tensor; >1: per-channel along quantized_dimension */
    int32_t quantized_dimension;
    const uint8_t *scales;       /* little-endian float32[count] */
    const uint8_t *zero_points;  /* little-endian int64[count], or NULL when the model gives none (all zero) */
} tfl_quant;

typedef struct {
    uint8_t *data;        /* constant: points into the model (any alignment); otherwise into the arena (16-aligned) */
    uint32_t bytes;
    int32_t dims[TFL_MAX_DIMS];
    uint8_t dims_count;
    uint8_t type;         /* TFL_TYPE_* */
    uint8_t is_constant;  /* has a non-empty buffer in the model */
    float scale;          /* scale of channel 0, or 0 when not quantised */
    int32_t zero_point;   /* zero point of channel 0 */
    tfl_quant quant;
} tfl_tensor;

/* Builtin options, decoded by the reader. Fields absent from the flatbuffer hold the schema's defaults. */
typedef struct {
    uint8_t padding, activation;
    int32_t stride_w, stride_h, dilation_w, dilation_h;
    int32_t depth_multiplier; /* DEPTHWISE_CONV_2D only */
} tfl_conv_options;

typedef struct {
    uint8_t padding, activation;
    int32_t stride_w, stride_h, filter_w, filter_h;
} tfl_pool_options;

typedef struct {
    uint8_t activation, keep_num_dims, weights_format;
} tfl_fully_connected_options;

typedef struct { float beta; } tfl_softmax_options;
typedef struct { uint8_t activation; } tfl_add_options;
typedef struct { uint8_t keep_dims; } tfl_reducer_options;

typedef union {
    tfl_conv_options conv;       /* CONV_2D, DEPTHWISE_CONV_2D */
    tfl_pool_options pool;       /* AVERAGE_POOL_2D, MAX_POOL_2D */
    tfl_fully_connected_options fully_connected;
    tfl_softmax_options softmax;
    tfl_add_options add;
    tfl_reducer_options reducer; /* MEAN */
} tfl_options;

typedef struct tfl_node {
    uint16_t op;        /* TFL_OP_* */
    uint8_t version;    /* operator code version from the model */
    uint8_t inputs_count, outputs_count;
    int16_t inputs[TFL_MAX_NODE_INPUTS];   /* tensor indices; -1 for an absent optional input */
    int16_t outputs[TFL_MAX_NODE_OUTPUTS];
    tfl_options options;
    void *user_data;       /* the kernel's own data, from tfl_alloc_persistent() in prepare */
    uint32_t scratch_bytes; /* set by prepare; the planner gives the node that much 16-aligned memory */
    void *scratch;         /* valid during eval only */
} tfl_node;

typedef struct tfl_context tfl_context; /* defined by the interpreter */

tfl_tensor *tfl_tensor_at(tfl_context *ctx, int index); /* NULL for index -1 */
/* Persistent memory for the life of the interpreter, valid from prepare on; NULL when the arena is full
 * (return TFL_ERR_ARENA then). Aligned to 8. */
void *tfl_alloc_persistent(tfl_context *ctx, size_t bytes);
/* Record why prepare/eval failed; `message` must be a string literal. Returns `status` for `return tfl_fail(...)`. */
tfl_status tfl_fail(tfl_context *ctx, tfl_status status, const char *message);

/* Weights the converter packed for a kernel in `layout` (host/mpy_mnist/packing.py): where the model holds them for
 * this node and its weights tensor (input 1), and their length in *bytes; NULL when the model has none, or their
 * record is malformed. The reader checks only where they lie: the kernel checks their values and alignment. */
enum { TFL_PACKED_FC_PAIRS = 1 };
const uint8_t *tfl_packed_weights(tfl_context *ctx, const tfl_node *node, uint32_t layout, uint32_t *bytes);

static inline tfl_tensor *tfl_input(tfl_context *ctx, const tfl_node *node, int i) {
    return i < node->inputs_count ? tfl_tensor_at(ctx, node->inputs[i]) : NULL;
}

static inline tfl_tensor *tfl_output(tfl_context *ctx, const tfl_node *node, int i) {
    return tfl_tensor_at(ctx, node->outputs[i]);
}

typedef struct {
    uint16_t op;
    const char *name;      /* the schema's name, e.g. "CONV_2D" */
    uint8_t max_version;   /* highest operator version we accept */
    tfl_status (*prepare)(tfl_context *ctx, tfl_node *node);
    tfl_status (*eval)(tfl_context *ctx, tfl_node *node);
} tfl_kernel;

/* The one table of supported ops (kernels/registry.c): the loader's lookup, its error message and the docs. */
extern const tfl_kernel tfl_kernels[];
extern const int tfl_kernels_count;
const tfl_kernel *tfl_find_kernel(int op);

/* Unaligned little-endian loads for constant data from the model. Compilers turn these memcpy calls into single
 * loads on x86 and Cortex-M7 (which allow unaligned LDR/VLDR). */
static inline int32_t tfl_read_i32(const void *p) { int32_t v; memcpy(&v, p, 4); return v; }
static inline float tfl_read_f32(const void *p) { float v; memcpy(&v, p, 4); return v; }
static inline int64_t tfl_read_i64(const void *p) { int64_t v; memcpy(&v, p, 8); return v; }

static inline float tfl_quant_scale(const tfl_quant *q, int32_t i) {
    return tfl_read_f32(q->scales + 4 * (size_t)i);
}

static inline int32_t tfl_quant_zero_point(const tfl_quant *q, int32_t i) {
    return q->zero_points ? (int32_t)tfl_read_i64(q->zero_points + 8 * (size_t)i) : 0;
}

static inline int32_t tfl_element_count(const tfl_tensor *t) {
    int32_t n = 1;
    for (int i = 0; i < t->dims_count; i++) {
        n *= t->dims[i];
    }
    return n;
}

#endif /* TFL_KERNEL_H */
