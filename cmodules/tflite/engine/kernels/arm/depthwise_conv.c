/* DEPTHWISE_CONV_2D, int8, depth multiplier 1: each channel's own taps, two taps per SMLAD, from the widened
 * image (conv.c). */
#include "arm_int8.h"

#if defined(TFL_ARM_DSP)

/* The firmware is built for size (-Os); these loops are where the inference spends its time. */
#pragma GCC optimize("O2")

typedef struct {
    tfl_window_shape shape;    /* in_c: the channels */
    int32_t input_zero_point;  /* the value of padding */
    int32_t tap_pairs;
    int32_t *offsets;          /* per tap (2 x tap_pairs), bytes from the window's origin */
    uint32_t *weights;         /* per channel pair, per tap pair: channel A's (tap a, tap b), then channel B's */
    tfl_arm_channel *channel;
    int32_t output_offset, act_min, act_max;
    uint8_t fast_requant;
} tfl_arm_depthwise;

/* Channels c and c+1 of one output position: the window's words at two taps' byte offsets, swapped into
 * (tap a, tap b) per channel with PKHBT/PKHTB, one SMLAD per channel. acc: c, c+1. */
static inline __attribute__((always_inline)) void depthwise_pair(const int16_t *window, const int32_t *offsets,
    const uint32_t *w, int32_t tap_pairs, int32_t acc[2]) {
    int32_t a0 = acc[0], a1 = acc[1];
    uint32_t oa, ob, ta, tb;
    __asm__(
        "1: ldrd %[oa], %[ob], [%[offsets]], #8\n"
        "ldr %[ta], [%[window], %[oa]]\n"
        "ldr %[tb], [%[window], %[ob]]\n"
        "pkhbt %[oa], %[ta], %[tb], lsl #16\n"
        "pkhtb %[ob], %[tb], %[ta], asr #16\n"
        "ldrd %[ta], %[tb], [%[w]], #8\n"
        "smlad %[a0], %[oa], %[ta], %[a0]\n"
        "smlad %[a1], %[ob], %[tb], %[a1]\n"
        "subs %[n], %[n], #1\n"
        "bne 1b\n"
        : [offsets] "+r"(offsets), [w] "+r"(w), [n] "+r"(tap_pairs), [a0] "+r"(a0), [a1] "+r"(a1),
          [oa] "=&r"(oa), [ob] "=&r"(ob), [ta] "=&r"(ta), [tb] "=&r"(tb)
        : [window] "r"(window)
        : "cc", "memory");
    acc[0] = a0;
    acc[1] = a1;
}

static inline __attribute__((always_inline)) void depthwise_position(const tfl_arm_depthwise *dw,
    const int16_t *window, int8_t *out, int fast, int full_range) {
    int32_t channels = dw->shape.in_c;
    const uint32_t *w = dw->weights;
    for (int32_t c = 0; c < channels; c += 2, w += 2 * dw->tap_pairs) {
        const tfl_arm_channel *c0 = &dw->channel[c];
        int odd = c + 1 == channels;
        const tfl_arm_channel *c1 = odd ? c0 : c0 + 1;
        int32_t acc[2] = {c0->bias, c1->bias};
        depthwise_pair(window + c, dw->offsets, w, dw->tap_pairs, acc);
        int8_t first = tfl_arm_output_of(acc[0], c0, dw, fast, full_range);
        int8_t second = tfl_arm_output_of(acc[1], c1, dw, fast, full_range);
        out[c] = first;
        if (!odd) {
            out[c + 1] = second;
        }
    }
}

static void depthwise_position_any(const tfl_arm_depthwise *dw, const int16_t *window, int8_t *out) {
    int full_range = dw->act_min == -128 && dw->act_max == 127;
    if (dw->fast_requant && full_range) {
        depthwise_position(dw, window, out, 1, 1);
    } else if (dw->fast_requant) {
        depthwise_position(dw, window, out, 1, 0);
    } else {
        depthwise_position(dw, window, out, 0, 0);
    }
}

/* The arena the DSP variant takes beyond the reference's: it widens the whole padded image (scratch) and keeps
 * int16 weights, tap offsets and a requantisation record per channel (persistent). Where that passes this bound
 * (a big image: person_detect's layers) the reference runs instead, so that the arena stays as small as TFLM's. */
#define TFL_ARM_DEPTHWISE_BYTES 4096

/* Words of the packed weights: per channel pair, per tap pair, two. */
static size_t weight_words(int32_t channels, int32_t tap_pairs) {
    return (size_t)(channels + 1) / 2 * 2 * (size_t)tap_pairs;
}

static uint32_t scratch_bytes(const tfl_window_shape *s) {
    return tfl_arm_image_halves(s) * 2 + 4;
}

static uint32_t extra_bytes(const tfl_window_shape *s) {
    int32_t tap_pairs = (s->filter_h * s->filter_w + 1) / 2;
    size_t persistent = sizeof(tfl_arm_depthwise) + sizeof(int32_t) * 2 * (size_t)tap_pairs +
        4 * weight_words(s->in_c, tap_pairs) + sizeof(tfl_arm_channel) * (size_t)s->in_c;
    return (uint32_t)persistent + scratch_bytes(s);
}

static tfl_status setup(tfl_context *ctx, tfl_arm_depthwise *dw, const int8_t *filter, const uint8_t *bias,
    const tfl_conv_data *quant) {
    const tfl_window_shape *s = &dw->shape;
    int32_t channels = s->in_c, taps = s->filter_h * s->filter_w;
    tfl_arm_padded_image image = tfl_arm_padded_size(s);
    dw->tap_pairs = (taps + 1) / 2;
    dw->output_offset = quant->io.output_offset;
    dw->act_min = quant->io.act_min;
    dw->act_max = quant->io.act_max;
    size_t words = weight_words(channels, dw->tap_pairs);
    dw->offsets = tfl_alloc_persistent(ctx, sizeof(int32_t) * 2 * (size_t)dw->tap_pairs);
    dw->weights = tfl_alloc_persistent(ctx, 4 * words);
    dw->channel = tfl_alloc_persistent(ctx, sizeof(tfl_arm_channel) * (size_t)channels);
    if (dw->offsets == NULL || dw->weights == NULL || dw->channel == NULL) {
        return tfl_fail(ctx, TFL_ERR_ARENA, "arena too small for the DSP kernel's reordered weights");
    }
    for (int32_t t = 0; t < 2 * dw->tap_pairs; t++) { /* an odd last tap pairs with tap 0 and weight 0 */
        int32_t fy = t < taps ? t / s->filter_w : 0, fx = t < taps ? t % s->filter_w : 0;
        dw->offsets[t] = 2 * (fy * s->dilation_h * image.width + fx * s->dilation_w) * channels; /* bytes */
    }
    int fast = 1;
    for (int32_t c = 0; c < channels; c++) {
        int32_t folded;
        fast &= tfl_arm_fold_bias(&folded, bias, c, filter + c, taps, channels, quant->io.input_offset,
            quant->shifts[c]);
        tfl_arm_channel_init(&dw->channel[c], folded, quant->multipliers[c], quant->shifts[c],
            quant->io.output_offset);
    }
    dw->fast_requant = (uint8_t)fast;
    int16_t *packed = (int16_t *)dw->weights;
    memset(packed, 0, 4 * words);
    for (int32_t c = 0; c < channels; c++) {
        int16_t *channel_words = packed + (size_t)(c / 2) * 4 * dw->tap_pairs + 2 * (c & 1);
        for (int32_t t = 0; t < taps; t++) {
            channel_words[(t / 2) * 4 + (t & 1)] = filter[t * channels + c];
        }
    }
    return TFL_OK;
}

static void eval(const tfl_arm_depthwise *dw, const int8_t *input, int8_t *output, int16_t *scratch) {
    const tfl_window_shape *s = &dw->shape;
    tfl_arm_padded_image image = tfl_arm_padded_size(s);
    int32_t positions = s->out_h * s->out_w;
    for (int32_t b = 0; b < s->batches; b++) {
        tfl_arm_widen_image(scratch, &image, s, dw->input_zero_point, input + (size_t)b * s->in_h * s->in_w * s->in_c);
        int8_t *out = output + (size_t)b * positions * s->in_c;
        for (int32_t p = 0; p < positions; p++) {
            depthwise_position_any(dw, tfl_arm_window_of(s, &image, scratch, p), out + (size_t)p * s->in_c);
        }
    }
}

/* ---- the node: the reference prepare's checks and figures, then the packed weights (depth multiplier 1) ---- */

tfl_status tfl_arm_depthwise_conv_prepare(tfl_context *ctx, tfl_node *node) {
    tfl_status status = tfl_depthwise_conv_prepare(ctx, node);
    const tfl_tensor *input = tfl_input(ctx, node, 0), *filter = tfl_input(ctx, node, 1);
    if (status != TFL_OK || input->type != TFL_TYPE_INT8) {
        return status;
    }
    tfl_window_shape shape = tfl_window_shape_of(input, filter, tfl_output(ctx, node, 0), &node->options.conv);
    if (shape.multiplier != 1 || extra_bytes(&shape) > TFL_ARM_DEPTHWISE_BYTES) {
        return TFL_OK; /* the reference runs */
    }
    tfl_conv_data *data = node->user_data;
    const tfl_tensor *bias = tfl_input(ctx, node, 2);
    tfl_arm_depthwise *dw = tfl_alloc_persistent(ctx, sizeof(tfl_arm_depthwise));
    if (dw == NULL) {
        return tfl_fail(ctx, TFL_ERR_ARENA, "arena too small for DEPTHWISE_CONV_2D");
    }
    dw->shape = shape;
    dw->input_zero_point = -data->io.input_offset;
    status = setup(ctx, dw, (const int8_t *)filter->data, bias != NULL ? bias->data : NULL, data);
    if (status != TFL_OK) {
        return status;
    }
    node->scratch_bytes = scratch_bytes(&dw->shape); /* in place of the reference eval's */
    data->variant = dw;
    return TFL_OK;
}

tfl_status tfl_arm_depthwise_conv_eval(tfl_context *ctx, tfl_node *node) {
    const tfl_conv_data *data = node->user_data;
    if (data->variant == NULL) {
        return tfl_depthwise_conv_eval(ctx, node);
    }
    eval(data->variant, (const int8_t *)tfl_input(ctx, node, 0)->data, (int8_t *)tfl_output(ctx, node, 0)->data,
        node->scratch);
    return TFL_OK;
}

#endif /* TFL_ARM_DSP */
