/*
 * Int8 CONV_2D, FULLY_CONNECTED, DEPTHWISE_CONV_2D (depth multiplier 1) and MAX_POOL_2D for ARMv7E-M
 * (Cortex-M4/M7) with the DSP extension: dual 16-bit
 * multiply-accumulates (SMLAD) on operands widened to int16 once. Compiled only when the compiler targets such a
 * core (__ARM_FEATURE_DSP, unless TFL_NO_DSP asks for the reference kernels); elsewhere the reference kernels
 * run alone. Every result is bit-exact with the reference kernels: the same integer sums, the same fixed-point
 * requantisation.
 *
 * Conv and FC are one matrix product, out[p][n] = requantise(bias'[n] + sum_k x[p][k] * w[n][k]) over output
 * positions p (conv: an image patch; FC: an input row) and output channels n; two positions times two channels
 * are computed at once so that every loaded pair of int16 inputs and weights feeds two SMLADs. At prepare the
 * weights are widened to int16 and reordered into the layout the inner loop reads (persistent memory, 2 bytes
 * per weight) and the input zero point is folded into the bias: sum((x - zx) * w) = sum(x * w) - zx * sum(w).
 */
#ifndef TFL_ARM_INT8_H
#define TFL_ARM_INT8_H

#include "../../tfl_kernel.h"

#if defined(__ARM_FEATURE_DSP) && !defined(TFL_NO_DSP)
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
    int32_t channels;  /* N */
    int32_t rows, row_len, row_len2; /* depth = rows x row_len (conv: filter rows); row_len2: row_len made even */
    int32_t kpairs;    /* int16 pairs per channel in the packed weights; conv: made odd by a zero k-pair at the end */
    uint8_t layout;          /* TFL_ARM_ROWS, TFL_ARM_FULLY_CONNECTED or TFL_ARM_SINGLE_CHANNEL, below */
    uint8_t fast_requant;    /* every accumulator provably fits the short requantisation (SMMULR) */
    uint8_t assembly;        /* two positions run through tfl_arm_gemm_2x2 (see below) */
    uint32_t block_words;    /* one channel pair's block in `weights`: head, k-pairs, tail */
    uint32_t *weights;       /* per channel pair a block: TFL_ARM_HEAD words, then per k-pair channel A's word
                              * (two int16) then channel B's, then TFL_ARM_TAIL words */
    uint32_t entry;          /* tfl_arm_gemm_2x2: where this depth's run through the unrolled groups starts */
    tfl_arm_channel *channel;
    int32_t output_offset, act_min, act_max;
} tfl_arm_gemm;

/* A channel pair's block in tfl_arm_gemm.weights, for the assembly loop: the head holds the two pre-scaled
 * biases (A, B), the tail the fast requantisation of A and of B (multiplier, rounding constant, right shift) and
 * where the loop goes next (the next pair, or out). */
enum { TFL_ARM_HEAD = 2, TFL_ARM_TAIL = 7 };

/* The most k-pair groups (two k-pairs each) tfl_arm_gemm_2x2 unrolls: a conv depth up to 2 * (1 + 2 * 128)
 * values; deeper layers take the C loop. */
#define TFL_ARM_MAX_GROUPS 128

/* Two positions x every full channel pair of a conv whose outputs take the fast requantisation, clamped to the
 * whole int8 range with an output offset of -128 (what int8 ReLU layers are): there a negative rounded product
 * ends at -128 whichever way its half rounds, so the requantisation is SMMLAR, ASR, SSAT. Written in assembly
 * (arm_gemm_2x2.c) so that the fourteen registers the loop needs are all free: per two k-pairs one 4-word load
 * of the patch, one of the weights, eight SMLADs. */
typedef struct {
    const uint32_t *weights; /* the first channel pair's block */
    const uint32_t *patch;   /* two positions' words per k-pair */
    uint32_t entry;
    int8_t *out0, *out1;     /* the two positions' outputs, channel 0 */
} tfl_arm_gemm_job;

void tfl_arm_gemm_2x2(const tfl_arm_gemm_job *job);
void tfl_arm_gemm_2x2_next(void); /* labels inside it, for the blocks' tails and the entries */
void tfl_arm_gemm_2x2_groups_end(void);
void tfl_arm_gemm_2x2_done(void);

/* How the depth is paired. ROWS (conv): (k, k+1) in natural order, each filter row padded to even.
 * FULLY_CONNECTED: (k, k+2) in groups of four, the order SXTB16 widens bytes in. SINGLE_CHANNEL (conv of a
 * one-channel input): each filter row's first 2 * (filter_w / 2) taps as (j, j+1), row after row; for an odd
 * filter_w, after every even row r, its last column's tap paired with row r+1's (a zero weight when there is no
 * row r+1). */
enum { TFL_ARM_ROWS, TFL_ARM_FULLY_CONNECTED, TFL_ARM_SINGLE_CHANNEL };

/* Geometry of a convolution, NHWC input and output, OHWI filter. */
typedef struct {
    int32_t batches, input_h, input_w, input_c, output_h, output_w;
    int32_t filter_h, filter_w, stride_h, stride_w, dilation_h, dilation_w, pad_top, pad_left;
    int32_t input_zero_point; /* the value of padding: it contributes 0 to sum((x - zx) * w) */
} tfl_arm_conv_shape;

/* Fill `gemm` for weights[channels][rows * row_len] (int8, any alignment; conv: rows = filter_h, row_len =
 * filter_w * input_c; FC: rows = 1), bias[channels] (int32 little-endian, any alignment, or NULL) and the
 * reference's per-channel multiplier and shift arrays. Allocates the packed weights from the persistent arena. */
tfl_status tfl_arm_gemm_prepare(tfl_context *ctx, tfl_arm_gemm *gemm, int layout, const int8_t *weights,
    const uint8_t *bias, int32_t channels, int32_t rows, int32_t row_len, int32_t input_offset,
    const int32_t *multiplier, const int32_t *shift, int32_t output_offset, int32_t act_min, int32_t act_max);

/* Whether a convolution of this shape takes the single-channel path (and its layout). */
int tfl_arm_conv_single_channel(const tfl_arm_conv_shape *shape);

/* Scratch bytes of the evals: the widened (and padded) input image for conv, and two widened positions. */
uint32_t tfl_arm_conv_scratch_bytes(const tfl_arm_gemm *gemm, const tfl_arm_conv_shape *shape);
uint32_t tfl_arm_fully_connected_scratch_bytes(const tfl_arm_gemm *gemm);

/* `scratch` is 4-aligned. */
void tfl_arm_conv_eval(const tfl_arm_gemm *gemm, const tfl_arm_conv_shape *shape, const int8_t *input,
    int8_t *output, uint32_t *scratch);

/* rows x depth input -> rows x channels output. */
void tfl_arm_fully_connected_eval(const tfl_arm_gemm *gemm, int32_t rows, const int8_t *input, int8_t *output,
    uint32_t *scratch);

/* The two hooks each reference kernel (conv.c, fully_connected.c) calls: prepare after its own int8 prepare,
 * with what it computed (padding, multipliers, zero points, activation range); run in place of its int8 eval.
 * prepare sets node->scratch_bytes and *dsp (persistent). */
typedef struct {
    int32_t input_offset, output_offset, act_min, act_max;
    const int32_t *multipliers, *shifts;
} tfl_arm_quant;

typedef struct tfl_arm_conv tfl_arm_conv;
tfl_status tfl_arm_conv_prepare(tfl_context *ctx, tfl_node *node, int32_t pad_top, int32_t pad_left,
    const tfl_arm_quant *quant, tfl_arm_conv **dsp);
tfl_status tfl_arm_conv_run(const tfl_arm_conv *dsp, tfl_context *ctx, tfl_node *node);

typedef struct tfl_arm_fully_connected tfl_arm_fully_connected;
tfl_status tfl_arm_fully_connected_prepare(tfl_context *ctx, tfl_node *node, int32_t batches,
    const tfl_arm_quant *quant, tfl_arm_fully_connected **dsp);
tfl_status tfl_arm_fully_connected_run(const tfl_arm_fully_connected *dsp, tfl_context *ctx, tfl_node *node);

/* DEPTHWISE_CONV_2D with depth multiplier 1: two taps x two channels per pair of SMLADs. */
typedef struct {
    tfl_arm_conv_shape shape;  /* input_c: the channels */
    int32_t tap_pairs;
    int32_t *offsets;          /* per tap (2 x tap_pairs), bytes from the window's origin */
    uint32_t *weights;         /* per channel pair, per tap pair: channel A's (tap a, tap b), then channel B's */
    tfl_arm_channel *channel;
    int32_t output_offset, act_min, act_max;
    uint8_t fast_requant;
} tfl_arm_depthwise;

tfl_status tfl_arm_depthwise_prepare(tfl_context *ctx, tfl_node *node, int32_t pad_top, int32_t pad_left,
    const tfl_arm_quant *quant, tfl_arm_depthwise **dsp);
/* The kernel under the node glue: `dw->shape` filled, the rest set up here. */
tfl_status tfl_arm_depthwise_setup(tfl_context *ctx, tfl_arm_depthwise *dw, const int8_t *filter,
    const uint8_t *bias, const tfl_arm_quant *quant);
uint32_t tfl_arm_depthwise_scratch_bytes(const tfl_arm_depthwise *dw);
void tfl_arm_depthwise_eval(const tfl_arm_depthwise *dw, const int8_t *input, int8_t *output, int16_t *scratch);
tfl_status tfl_arm_depthwise_run(const tfl_arm_depthwise *dsp, tfl_context *ctx, tfl_node *node);

/* MAX_POOL_2D, int8, channels a multiple of 4 (the caller checks): four channels at a time with the byte-wise
 * SIMD compare (SSUB8 sets a flag per byte, SEL picks per byte). Windows clipped to the input as the
 * reference does; the result clamped to [act_min, act_max]. */
typedef struct {
    int32_t batches, in_h, in_w, channels, out_h, out_w, pad_h, pad_w;
    int32_t stride_h, stride_w, filter_h, filter_w, act_min, act_max;
} tfl_arm_pool_shape;

void tfl_arm_max_pool(const tfl_arm_pool_shape *shape, const int8_t *input, int8_t *output);

#endif /* TFL_ARM_DSP */
#endif /* TFL_ARM_INT8_H */
