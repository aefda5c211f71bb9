/*
 * Int8 CONV_2D, FULLY_CONNECTED and DEPTHWISE_CONV_2D for ARMv7E-M (Cortex-M4/M7) with the DSP extension: dual
 * 16-bit multiply-accumulates (SMLAD) on operands widened once with SXTB16. Compiled only when the compiler
 * targets such a core (__ARM_FEATURE_DSP); elsewhere the reference kernels run alone. Every result is bit-exact
 * with the reference kernels: the same integer sums, the same fixed-point requantisation.
 *
 * Conv and FC are one matrix product, out[p][n] = requantise(bias'[n] + sum_k x[p][k] * w[n][k]) over output
 * positions p (conv: an image patch gathered by im2col; FC: an input row) and output channels n. Two positions
 * times two channels are computed at once so that each loaded pair of 16-bit inputs and weights feeds two
 * SMLADs. At prepare the weights are widened to int16 and reordered into the layout the inner loop reads
 * (persistent memory, 2 bytes per weight), and the input zero point is folded into the bias:
 * sum((x - zx) * w) = sum(x * w) - zx * sum(w).
 */
#ifndef TFL_ARM_INT8_H
#define TFL_ARM_INT8_H

#include "../../tfl_kernel.h"

#if defined(__ARM_FEATURE_DSP)
#define TFL_ARM_DSP 1

/* Per output channel, everything the requantisation needs. */
typedef struct {
    int32_t bias;        /* bias + input_offset * sum(w), times 2^left on the fast path: the accumulator's start */
    int32_t multiplier;  /* Q31 mantissa and exponent as the reference kernel computed them */
    int32_t shift;
    int32_t right_shift; /* -shift when shift < 0, else 0 */
    int32_t round;       /* fast path: half the right shift's divisor plus output_offset * 2^right_shift */
} tfl_arm_channel;

typedef struct {
    int32_t channels, depth, depth4; /* N, K, K rounded up to a multiple of 4 */
    uint32_t *weights;               /* int16 pairs, (N rounded up to 2) x depth4 weights, see arm_int8.c */
    tfl_arm_channel *channel;
    int32_t output_offset, act_min, act_max;
    uint8_t fast_requant; /* every accumulator provably fits the single-instruction multiply (SMMULR) */
} tfl_arm_gemm;

/* Geometry of a convolution, NHWC input and output, OHWI filter. */
typedef struct {
    int32_t batches, input_h, input_w, input_c, output_h, output_w;
    int32_t filter_h, filter_w, stride_h, stride_w, dilation_h, dilation_w, pad_top, pad_left;
    int32_t input_zero_point; /* the value of padding: it contributes 0 to sum((x - zx) * w) */
} tfl_arm_conv_shape;

/* Fill `gemm` for weights[channels][depth] (int8, any alignment), bias[channels] (int32 little-endian, any
 * alignment, or NULL), per-channel multiplier/shift arrays (a per-tensor layer passes `per_channel` 0 and
 * arrays of one). Allocates the reordered weights from the persistent arena. */
tfl_status tfl_arm_gemm_prepare(tfl_context *ctx, tfl_arm_gemm *gemm, const int8_t *weights, const uint8_t *bias,
    int32_t channels, int32_t depth, int32_t input_offset, const int32_t *multiplier, const int32_t *shift,
    int per_channel, int32_t output_offset, int32_t act_min, int32_t act_max);

/* Scratch bytes tfl_arm_conv_eval / tfl_arm_fully_connected_eval need: two widened input rows and one int8
 * row. */
static inline uint32_t tfl_arm_gemm_scratch_bytes(const tfl_arm_gemm *gemm) {
    return 5u * (uint32_t)gemm->depth4;
}

void tfl_arm_conv_eval(const tfl_arm_gemm *gemm, const tfl_arm_conv_shape *shape, const int8_t *input,
    int8_t *output, uint32_t *scratch);

/* rows x depth input -> rows x channels output. */
void tfl_arm_fully_connected_eval(const tfl_arm_gemm *gemm, int32_t rows, const int8_t *input, int8_t *output,
    uint32_t *scratch);

#endif /* __ARM_FEATURE_DSP */
#endif /* TFL_ARM_INT8_H */
