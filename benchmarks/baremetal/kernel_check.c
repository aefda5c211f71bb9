/* The DSP variants (kernels/arm/) of the engine's int8 CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED and MAX_POOL_2D
 * kernels against the reference kernels, both as built for the Cortex-M7,
 * on CASES random cases generated here (xorshift, seed SEED): shapes, strides, dilations, SAME and VALID
 * padding, zero points, per-tensor and per-channel scales, biases (some large enough to take the exact slow
 * requantisation, some absent), every fused activation. A fully connected case's weights are also packed as the
 * converter packs them (host/mpy_mnist/packing.py, TFL_PACKED_FC_PAIRS) a quarter of the time, and a quarter each
 * two bytes off word alignment or with one value wrong, where the DSP kernel must fall back to the weights in
 * place. Prints "ok <cases>" and "packed <cases that ran the packed kernel>", or the first mismatching case and
 * exits 1. */
#include "baremetal.h"
#include "kernels/arm/arm_int8.h"

#ifndef CASES
#define CASES 300
#endif
#ifndef SEED
#define SEED 1
#endif

enum { CONV, FULLY_CONNECTED, DEPTHWISE, MAX_POOL, KINDS };

enum { INPUT, FILTER, BIAS, OUTPUT };

struct tfl_context {
    tfl_tensor tensors[4];
    uint8_t *pool;
    size_t used, size;
};

tfl_tensor *tfl_tensor_at(tfl_context *ctx, int index) {
    return index < 0 ? NULL : &ctx->tensors[index];
}

void *tfl_alloc_persistent(tfl_context *ctx, size_t bytes) {
    size_t start = (ctx->used + 7) & ~(size_t)7;
    if (start + bytes > ctx->size) {
        return NULL;
    }
    ctx->used = start + bytes;
    return ctx->pool + start;
}

tfl_status tfl_fail(tfl_context *ctx, tfl_status status, const char *message) {
    (void)ctx;
    bm_puts(message);
    bm_puts("\n");
    return status;
}

/* The input 16-aligned as in the arena; the weights at any alignment, as in a model (filter: a few bytes into
 * filter_bytes), so that both the word-aligned and the unaligned widening run. */
static int8_t input[2 * 10 * 10 * 16] __attribute__((aligned(16)));
static int8_t filter_bytes[12 * 5 * 5 * 16 + 20 * 300 + 3] __attribute__((aligned(16)));
static int8_t *filter;
static int8_t expected[2 * 10 * 10 * 32], actual[sizeof expected]; /* the largest output: depthwise, 32 channels */
static uint8_t bias[32 * 4], input_scale[4], filter_scales[32 * 4], output_scale[4], input_zero[8], output_zero[8];
static uint8_t pool[96 * 1024] __attribute__((aligned(16)));
static uint32_t scratch[4096];

/* The case's packed weights (pack_weights), handed to the DSP kernel by tfl_packed_weights. */
enum { NOT_PACKED, PACKED, PACKED_MISALIGNED, PACKED_WRONG, PACKINGS };
static uint8_t packed[2 + 10 * (8 + 38 * 32)] __attribute__((aligned(16))); /* 20 units, 300 deep */
static const uint8_t *packed_at;
static uint32_t packed_bytes;

const uint8_t *tfl_packed_weights(tfl_context *ctx, const tfl_node *node, uint32_t layout, uint32_t *bytes) {
    (void)ctx;
    (void)node;
    *bytes = packed_bytes;
    return layout == TFL_PACKED_FC_PAIRS ? packed_at : NULL;
}

/* The weights [units][depth] of the case as packing.py lays them out; returns whether the kernel may use them
 * (a folded bias outside int32 is not packed). */
static int pack_weights(const tfl_node *node, int32_t units, int32_t depth, int32_t in_zero, int packing) {
    static const uint8_t order[8] = {0, 2, 1, 3, 4, 6, 5, 7};
    int32_t pairs = (units + 1) / 2, groups = (depth + 7) / 8;
    uint8_t *start = packed + (packing == PACKED_MISALIGNED ? 2 : 0), *p = start;
    int fits = 1;
    packed_at = packing == NOT_PACKED ? NULL : start;
    packed_bytes = (uint32_t)(pairs * (8 + groups * 32));
    for (int32_t pair = 0; pair < pairs; pair++) {
        for (int32_t j = 0; j < 2; j++) {
            int32_t n = 2 * pair + j, b = 0;
            int64_t sum = 0;
            for (int32_t k = 0; n < units && k < depth; k++) {
                sum += filter[n * depth + k];
            }
            if (n < units && node->inputs[2] >= 0) {
                memcpy(&b, bias + 4 * n, 4);
            }
            int64_t folded = n < units ? b - (int64_t)in_zero * sum : 0;
            fits &= folded >= INT32_MIN && folded <= INT32_MAX;
            int32_t word = (int32_t)folded;
            memcpy(p + 4 * j, &word, 4);
        }
        p += 8;
        for (int32_t g = 0; g < groups; g++) {
            for (int32_t j = 0; j < 2; j++) {
                for (int i = 0; i < 8; i++) {
                    int32_t n = 2 * pair + j, k = 8 * g + order[i];
                    int16_t value = n < units && k < depth ? filter[n * depth + k] : 0;
                    memcpy(p, &value, 2);
                    p += 2;
                }
            }
        }
    }
    if (packing == PACKED_WRONG) {
        start[8 + 16 * groups] ^= 1; /* a weight of the first pair, or a zero past its depth */
    }
    return packing == PACKED && fits;
}

static int32_t pick(uint32_t *seed, int32_t low, int32_t high) {
    return low + (int32_t)(bm_random(seed) % (uint32_t)(high - low + 1));
}

static float pick_scale(uint32_t *seed, float low, float high) {
    return low + (high - low) * (float)(bm_random(seed) % 10000) / 10000.0f;
}

static void put_f32(uint8_t *to, float value) {
    memcpy(to, &value, 4);
}

static void put_i64(uint8_t *to, int64_t value) {
    memcpy(to, &value, 8);
}

static void quantise(tfl_tensor *t, uint8_t *scales, int32_t count, uint8_t *zeros, float scale, int32_t zero) {
    t->scale = scale;
    t->zero_point = zero;
    t->quant = (tfl_quant){count, 0, scales, zeros};
}

static void set_dims(tfl_tensor *t, int count, const int32_t *dims, int type, uint8_t *data, int constant) {
    t->dims_count = (uint8_t)count;
    int32_t elements = 1;
    for (int i = 0; i < count; i++) {
        t->dims[i] = dims[i];
        elements *= dims[i];
    }
    t->type = (uint8_t)type;
    t->data = data;
    t->is_constant = (uint8_t)constant;
    t->bytes = (uint32_t)(elements * (type == TFL_TYPE_INT32 ? 4 : 1));
}

/* A random MAX_POOL_2D node (input and output share their quantisation); returns the number of output values. */
static int32_t make_pool_case(tfl_context *ctx, tfl_node *node, uint32_t *seed) {
    static const int32_t channel_choices[] = {4, 8, 12, 16, 3};
    static const uint8_t activations[] = {TFL_ACT_NONE, TFL_ACT_RELU, TFL_ACT_RELU6, TFL_ACT_RELU_N1_TO_1};
    tfl_pool_options *o = &node->options.pool;
    int32_t batches = pick(seed, 1, 2), c = channel_choices[pick(seed, 0, 4)];
    o->filter_h = pick(seed, 1, 3);
    o->filter_w = pick(seed, 1, 3);
    o->stride_h = pick(seed, 1, 3);
    o->stride_w = pick(seed, 1, 3);
    o->padding = pick(seed, 0, 1) ? TFL_PADDING_SAME : TFL_PADDING_VALID;
    o->activation = activations[pick(seed, 0, 3)];
    if (pick(seed, 0, 2) == 0) { /* the common layer, which the DSP kernel runs without clipping when it can */
        o->filter_h = o->filter_w = o->stride_h = o->stride_w = 2;
        o->activation = TFL_ACT_NONE;
    }
    int32_t in_h = pick(seed, o->filter_h, 10), in_w = pick(seed, o->filter_w, 10);
    int32_t out_h = tfl_conv_output_size(o->padding, in_h, o->filter_h, o->stride_h, 1);
    int32_t out_w = tfl_conv_output_size(o->padding, in_w, o->filter_w, o->stride_w, 1);
    int32_t in_dims[4] = {batches, in_h, in_w, c}, out_dims[4] = {batches, out_h, out_w, c};
    set_dims(&ctx->tensors[INPUT], 4, in_dims, TFL_TYPE_INT8, (uint8_t *)input, 0);
    set_dims(&ctx->tensors[OUTPUT], 4, out_dims, TFL_TYPE_INT8, (uint8_t *)actual, 0);
    float scale = pick_scale(seed, 0.002f, 0.05f);
    int32_t zero = pick(seed, -128, 127);
    put_f32(input_scale, scale);
    put_i64(input_zero, zero);
    quantise(&ctx->tensors[INPUT], input_scale, 1, input_zero, scale, zero);
    quantise(&ctx->tensors[OUTPUT], input_scale, 1, input_zero, scale, zero);
    node->inputs_count = 1;
    node->outputs_count = 1;
    node->inputs[0] = INPUT;
    node->outputs[0] = OUTPUT;
    for (int32_t i = 0; i < batches * in_h * in_w * c; i++) {
        input[i] = (int8_t)bm_random(seed);
    }
    return batches * out_h * out_w * c;
}

/* A random node of the given kind in ctx; returns the number of output values. */
static int32_t make_case(tfl_context *ctx, tfl_node *node, uint32_t *seed, int kind) {
    static const int32_t channel_choices[] = {1, 2, 3, 4, 5, 8, 16};
    static const uint8_t activations[] = {TFL_ACT_NONE, TFL_ACT_RELU, TFL_ACT_RELU6, TFL_ACT_RELU_N1_TO_1};
    memset(ctx->tensors, 0, sizeof ctx->tensors);
    memset(node, 0, sizeof *node);
    if (kind == MAX_POOL) {
        return make_pool_case(ctx, node, seed);
    }
    filter = filter_bytes + (pick(seed, 0, 1) ? 0 : pick(seed, 1, 3));
    int32_t batches, in_elements, out_elements, out_c, depth;
    int relu_shaped = 0; /* an output zero point of -128 and ReLU: what takes the assembly loop */
    int middle = 0;
    if (kind == FULLY_CONNECTED) {
        batches = pick(seed, 1, 3);
        depth = pick(seed, 1, 300);
        out_c = pick(seed, 1, 20);
        if (batches * depth > (int32_t)sizeof input) {
            batches = 1;
        }
        int32_t in_dims[2] = {batches, depth}, w_dims[2] = {out_c, depth}, out_dims[2] = {batches, out_c};
        set_dims(&ctx->tensors[INPUT], 2, in_dims, TFL_TYPE_INT8, (uint8_t *)input, 0);
        set_dims(&ctx->tensors[FILTER], 2, w_dims, TFL_TYPE_INT8, (uint8_t *)filter, 1);
        set_dims(&ctx->tensors[OUTPUT], 2, out_dims, TFL_TYPE_INT8, (uint8_t *)actual, 0);
        node->options.fully_connected.activation = activations[pick(seed, 0, 3)];
        in_elements = batches * depth;
        out_elements = batches * out_c;
    } else {
        tfl_conv_options *o = &node->options.conv;
        batches = pick(seed, 1, 2);
        int32_t in_c = channel_choices[pick(seed, 0, 6)];
        int32_t multiplier = pick(seed, 0, 4) ? 1 : 2; /* 2: the DSP variant declines, the reference runs */
        out_c = kind == DEPTHWISE ? in_c * multiplier : pick(seed, 1, 12);
        o->depth_multiplier = multiplier;
        int32_t fh = pick(seed, 1, 5), fw = pick(seed, 1, 5);
        o->stride_h = pick(seed, 1, 3);
        o->stride_w = pick(seed, 1, 3);
        o->dilation_h = pick(seed, 1, 2);
        o->dilation_w = pick(seed, 1, 2);
        o->padding = pick(seed, 0, 1) ? TFL_PADDING_SAME : TFL_PADDING_VALID;
        o->activation = activations[pick(seed, 0, 3)];
        if (kind == CONV && pick(seed, 0, 2) == 0) { /* a first layer: the single-channel path's shapes */
            in_c = 1;
            o->stride_w = 1;
            o->dilation_w = 1;
            if (pick(seed, 0, 1)) { /* 5 wide: its own patch copy */
                fw = 5;
                o->dilation_h = 1;
                if (pick(seed, 0, 1)) { /* 5x5; mostly ReLU-shaped with an even number of channels: the assembly
                                         * row (tfl_arm_band_row_5x5) */
                    fh = 5;
                    relu_shaped = pick(seed, 0, 3) != 0;
                    out_c = relu_shaped ? 2 * pick(seed, 1, 6) : out_c;
                }
            }
        } else if (kind == CONV && pick(seed, 0, 3) == 0) { /* a middle layer of the default model's shape, too
                                                               * large to keep its patches: tiles of channels, pairs
                                                               * of positions inside the input (the lean loop) */
            in_c = 16;
            fh = fw = 3;
            o->stride_h = o->stride_w = o->dilation_h = o->dilation_w = 1;
            o->padding = TFL_PADDING_VALID;
            relu_shaped = pick(seed, 0, 3) != 0;
            out_c = pick(seed, 1, 24); /* more than one tile of 16 */
            middle = 1;
        }
        int32_t span_h = (fh - 1) * o->dilation_h + 1, span_w = (fw - 1) * o->dilation_w + 1;
        int32_t in_h = pick(seed, 1, 10), in_w = pick(seed, 1, 10);
        if (middle) { /* over 28 positions, mostly an even number of them in a row */
            in_h = pick(seed, 8, 10);
            in_w = pick(seed, 0, 3) ? 2 * pick(seed, 4, 5) : 9;
        }
        if (o->padding == TFL_PADDING_VALID) {
            in_h = in_h < span_h ? span_h : in_h;
            in_w = in_w < span_w ? span_w : in_w;
        }
        int32_t out_h = tfl_conv_output_size(o->padding, in_h, fh, o->stride_h, o->dilation_h);
        int32_t out_w = tfl_conv_output_size(o->padding, in_w, fw, o->stride_w, o->dilation_w);
        int32_t in_dims[4] = {batches, in_h, in_w, in_c}, w_dims[4] = {out_c, fh, fw, in_c};
        if (kind == DEPTHWISE) {
            w_dims[0] = 1;
            w_dims[3] = out_c;
        }
        int32_t out_dims[4] = {batches, out_h, out_w, out_c};
        set_dims(&ctx->tensors[INPUT], 4, in_dims, TFL_TYPE_INT8, (uint8_t *)input, 0);
        set_dims(&ctx->tensors[FILTER], 4, w_dims, TFL_TYPE_INT8, (uint8_t *)filter, 1);
        set_dims(&ctx->tensors[OUTPUT], 4, out_dims, TFL_TYPE_INT8, (uint8_t *)actual, 0);
        depth = kind == DEPTHWISE ? fh * fw : fh * fw * in_c;
        in_elements = batches * in_h * in_w * in_c;
        out_elements = batches * out_h * out_w * out_c;
    }
    int32_t bias_dims[1] = {out_c};
    set_dims(&ctx->tensors[BIAS], 1, bias_dims, TFL_TYPE_INT32, bias, 1);
    int large_bias = pick(seed, 0, 9) == 0;
    for (int32_t n = 0; n < out_c; n++) {
        int32_t b = large_bias ? (int32_t)bm_random(seed) >> pick(seed, 0, 8) : pick(seed, -30000, 30000);
        memcpy(bias + 4 * n, &b, 4);
    }
    node->inputs_count = 3;
    node->outputs_count = 1;
    node->inputs[0] = INPUT;
    node->inputs[1] = FILTER;
    node->inputs[2] = pick(seed, 0, 7) == 0 ? -1 : BIAS;
    node->outputs[0] = OUTPUT;
    /* Scales: the real multiplier input * filter / output from about 2^-14 up to 2 (a left shift), the range
     * real layers have. */
    float in_scale = pick_scale(seed, 0.002f, 0.05f);
    int32_t filter_count = pick(seed, 0, 1) ? out_c : 1;
    for (int32_t n = 0; n < filter_count; n++) {
        put_f32(filter_scales + 4 * n, pick_scale(seed, 0.001f, 0.02f));
    }
    float real = pick_scale(seed, 0.5f, 1.0f) / (float)(1 << pick(seed, 0, 14)) * (pick(seed, 0, 15) ? 1.0f : 3.0f);
    float first_filter_scale;
    memcpy(&first_filter_scale, filter_scales, 4);
    float out_scale = in_scale * first_filter_scale / real;
    /* an output zero point of -128 a third of the time: with ReLU, what int8 layers have (an assembly path) */
    int32_t in_zero = pick(seed, -128, 127), out_zero = pick(seed, 0, 2) == 0 ? -128 : pick(seed, -128, 127);
    if (relu_shaped) {
        out_zero = -128;
        node->options.conv.activation = TFL_ACT_RELU;
    }
    put_f32(input_scale, in_scale);
    put_f32(output_scale, out_scale);
    put_i64(input_zero, in_zero);
    put_i64(output_zero, out_zero);
    quantise(&ctx->tensors[INPUT], input_scale, 1, input_zero, in_scale, in_zero);
    quantise(&ctx->tensors[FILTER], filter_scales, filter_count, NULL, first_filter_scale, 0);
    ctx->tensors[FILTER].quant.quantized_dimension = kind == DEPTHWISE ? 3 : 0;
    quantise(&ctx->tensors[OUTPUT], output_scale, 1, output_zero, out_scale, out_zero);
    for (int32_t i = 0; i < out_c * depth; i++) {
        filter[i] = (int8_t)pick(seed, -127, 127);
    }
    for (int32_t i = 0; i < in_elements; i++) {
        input[i] = (int8_t)bm_random(seed);
    }
    return out_elements;
}

#define SCRATCH_GUARD 0x5a5a5a5au

/* prepare + eval of one build of the kernel; the output lands in `actual`. Fails as well when eval writes past
 * the scratch bytes its prepare asked for (the words after them are filled with a guard value). */
static int run(tfl_context *ctx, tfl_node *node, const tfl_kernel *kernel) {
    ctx->used = 0;
    node->user_data = NULL;
    node->scratch_bytes = 0;
    if (kernel->prepare(ctx, node) != TFL_OK || node->scratch_bytes > sizeof scratch) {
        return 0;
    }
    node->scratch = scratch;
    size_t used_words = (node->scratch_bytes + 3) / 4;
    for (size_t i = used_words; i < sizeof scratch / 4; i++) {
        scratch[i] = SCRATCH_GUARD;
    }
    if (kernel->eval(ctx, node) != TFL_OK) {
        return 0;
    }
    for (size_t i = used_words; i < sizeof scratch / 4; i++) {
        if (scratch[i] != SCRATCH_GUARD) {
            bm_puts("eval wrote past its scratch bytes\n");
            return 0;
        }
    }
    return 1;
}

/* What a failing case was, to reproduce it. */
static void describe(tfl_context *ctx, const tfl_node *node, int kind, int32_t outputs) {
    bm_put_int("kind (0 conv, 1 fully connected, 2 depthwise, 3 max pool) ", kind);
    for (int t = 0; t < 4; t++) {
        for (int d = 0; d < ctx->tensors[t].dims_count; d++) {
            bm_put_int(t == INPUT ? "input dim " : t == FILTER ? "filter dim " : t == BIAS ? "bias dim " : "output dim ",
                ctx->tensors[t].dims[d]);
        }
    }
    if (kind == CONV || kind == DEPTHWISE) {
        const tfl_conv_options *o = &node->options.conv;
        bm_put_int("stride ", o->stride_h * 10 + o->stride_w);
        bm_put_int("dilation ", o->dilation_h * 10 + o->dilation_w);
        bm_put_int("padding ", o->padding);
        bm_put_int("depth multiplier ", o->depth_multiplier);
    }
    for (int32_t j = 0; j < outputs; j++) {
        if (expected[j] != actual[j]) {
            bm_put_int("first difference at ", j);
            bm_put_int("expected ", expected[j]);
            bm_put_int("actual ", actual[j]);
            return;
        }
    }
}

int main(void) {
    static const tfl_kernel kernels[KINDS][2] = {
        [CONV] = {{TFL_OP_CONV_2D, "CONV_2D", 1, tfl_conv_prepare, tfl_conv_eval},
            {TFL_OP_CONV_2D, "CONV_2D", 1, tfl_arm_conv_prepare, tfl_arm_conv_eval}},
        [FULLY_CONNECTED] = {
            {TFL_OP_FULLY_CONNECTED, "FULLY_CONNECTED", 1, tfl_fully_connected_prepare, tfl_fully_connected_eval},
            {TFL_OP_FULLY_CONNECTED, "FULLY_CONNECTED", 1, tfl_arm_fully_connected_prepare,
                tfl_arm_fully_connected_eval}},
        [DEPTHWISE] = {
            {TFL_OP_DEPTHWISE_CONV_2D, "DEPTHWISE_CONV_2D", 1, tfl_depthwise_conv_prepare, tfl_depthwise_conv_eval},
            {TFL_OP_DEPTHWISE_CONV_2D, "DEPTHWISE_CONV_2D", 1, tfl_arm_depthwise_conv_prepare,
                tfl_arm_depthwise_conv_eval}},
        [MAX_POOL] = {{TFL_OP_MAX_POOL_2D, "MAX_POOL_2D", 1, tfl_max_pool_prepare, tfl_max_pool_eval},
            {TFL_OP_MAX_POOL_2D, "MAX_POOL_2D", 1, tfl_arm_max_pool_prepare, tfl_arm_max_pool_eval}},
    };
    tfl_context ctx = {.pool = pool, .size = sizeof pool};
    tfl_node node;
    uint32_t seed = SEED;
    int packed_cases = 0;
    for (int i = 0; i < CASES; i++) {
        int kind = i % KINDS;
        int32_t outputs = make_case(&ctx, &node, &seed, kind);
        const tfl_tensor *weights = &ctx.tensors[FILTER];
        int usable = kind == FULLY_CONNECTED && weights->dims[0] >= 2 &&
            pack_weights(&node, weights->dims[0], weights->dims[1], ctx.tensors[INPUT].zero_point,
                pick(&seed, 0, PACKINGS - 1));
        memset(actual, 0x55, sizeof actual);
        if (!run(&ctx, &node, &kernels[kind][0])) {
            bm_put_int("reference failed in case ", i);
            return 2;
        }
        memcpy(expected, actual, sizeof actual);
        memset(actual, 0x55, sizeof actual);
        if (!run(&ctx, &node, &kernels[kind][1])) {
            bm_put_int("DSP kernel failed in case ", i);
            return 2;
        }
        if (memcmp(expected, actual, (size_t)outputs) != 0) {
            bm_put_int("mismatch in case ", i);
            describe(&ctx, &node, kind, outputs);
            return 1;
        }
        if (kind == FULLY_CONNECTED && weights->dims[0] >= 2 && (node.scratch_bytes > 0) != usable) {
            bm_put_int(usable ? "packed weights not used in case " : "packed weights wrongly used in case ", i);
            return 1;
        }
        packed_cases += kind == FULLY_CONNECTED && node.scratch_bytes > 0;
    }
    bm_put_int("ok ", CASES);
    bm_put_int("packed ", packed_cases);
    return 0;
}
