/* Helpers the kernels share: quantisation set-up, padding, wrapping and clamping arithmetic. Internal to kernels/. */
#ifndef TFL_KERNELS_COMMON_H
#define TFL_KERNELS_COMMON_H

#include "../quant.h"
#include "kernels.h"

/* The zero points of an int8 node and the bounds of its fused activation in output units. */
typedef struct {
    int32_t input_offset;   /* minus the input zero point */
    int32_t output_offset;  /* the output zero point */
    int32_t act_min, act_max;
} tfl_int8_io;

/* The shift of a per-channel multiplier, in [-31, 31] (tfl_quantize_multiplier clamps it): one byte per channel
 * in the arena. */
typedef int8_t tfl_shift;

/* Per-tensor or per-channel (count == channels, along dimension channel_dimension of the filter) scales as a
 * real multiplier per output channel: input_scale * filter_scale[c] / output_scale, computed in double as TFLM
 * does, then as (multiplier, shift). */
tfl_status tfl_per_channel_multipliers(tfl_context *ctx, const tfl_tensor *input, const tfl_tensor *filter,
    const tfl_tensor *output, int32_t channels, int32_t channel_dimension, int32_t **multipliers, tfl_shift **shifts);

/* Zero point and activation bounds of an int8 node. */
void tfl_int8_io_setup(tfl_int8_io *io, const tfl_tensor *input, const tfl_tensor *output, int activation);

/* Output size and leading padding along one spatial axis (TFLite's SAME and VALID rules). */
int32_t tfl_conv_output_size(int padding, int32_t input, int32_t filter, int32_t stride, int32_t dilation);
int32_t tfl_conv_padding(int32_t input, int32_t output, int32_t filter, int32_t stride, int32_t dilation);

/* Two's-complement wrapping arithmetic for int32 accumulators: the reference wraps in practice, and a hostile
 * model (an extreme bias, a huge depth) must not make the sum undefined behaviour. */
static inline int32_t tfl_wrapping_add(int32_t a, int32_t b) {
    return (int32_t)((uint32_t)a + (uint32_t)b);
}

static inline int32_t tfl_wrapping_mul(int32_t a, int32_t b) {
    return (int32_t)((uint32_t)a * (uint32_t)b);
}

static inline int32_t tfl_clamp_i32(int32_t x, int32_t lo, int32_t hi) {
    return x < lo ? lo : (x > hi ? hi : x);
}

/* The reference's requantisation of output channel c's accumulator (int8 CONV_2D, FULLY_CONNECTED): plus the
 * bias (int32, read in place from the model; NULL for none), times the channel's multiplier and shift, plus the
 * output zero point, clamped to the activation. */
static inline int8_t tfl_requantize_channel(const tfl_int8_io *io, const int32_t *multipliers,
    const tfl_shift *shifts, const uint8_t *bias, int32_t c, int32_t acc) {
    if (bias != NULL) {
        acc = tfl_wrapping_add(acc, tfl_read_i32(bias + 4 * (size_t)c));
    }
    acc = tfl_mbqm_inline(acc, multipliers[c], shifts[c]);
    return (int8_t)tfl_clamp_i32(tfl_wrapping_add(acc, io->output_offset), io->act_min, io->act_max);
}

static inline float tfl_clamp_f32(float x, float lo, float hi) {
    /* max then min, in this order, as the reference kernels apply a fused activation */
    float y = x < lo ? lo : x;
    return y > hi ? hi : y;
}

/* Dimension i of a tensor counted as 4-D NHWC (leading dims of 1 added when it has fewer). */
static inline int32_t tfl_dim4(const tfl_tensor *t, int i) {
    int pad = 4 - t->dims_count;
    return i < pad ? 1 : t->dims[i - pad];
}

/* The geometry of a windowed op over NHWC tensors (CONV_2D, DEPTHWISE_CONV_2D), from its tensors and options. */
typedef struct {
    int32_t batches, in_h, in_w, in_c, out_h, out_w, out_c, filter_h, filter_w;
    int32_t multiplier; /* output channels per input channel: DEPTHWISE_CONV_2D's depth multiplier */
    int32_t stride_h, stride_w, dilation_h, dilation_w;
    int32_t pad_h, pad_w; /* leading padding (top, left) */
} tfl_window_shape;

tfl_window_shape tfl_window_shape_of(const tfl_tensor *input, const tfl_tensor *filter, const tfl_tensor *output,
    const tfl_conv_options *options);

#endif
