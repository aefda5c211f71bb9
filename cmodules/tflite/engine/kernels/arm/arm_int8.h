/*
 * Int8 CONV_2D, FULLY_CONNECTED, DEPTHWISE_CONV_2D (depth multiplier 1) and MAX_POOL_2D for ARMv7E-M
 * (Cortex-M4/M7) with the DSP extension: dual 16-bit multiply-accumulates (SMLAD) on operands widened to int16.
 * Compiled only when the compiler targets such a core (__ARM_FEATURE_DSP, unless TFL_NO_DSP asks for the
 * reference kernels); elsewhere the reference kernels run alone. Every result is bit-exact with the reference
 * kernels: the same integer sums, the same fixed-point requantisation.
 *
 * Memory: the arena stays as small as the reference's (and TFLM's). The int8 weights are read in place from the
 * model; what is widened lives in scratch, which the planner puts in the gaps of the activation plan.
 * - Conv is a matrix product, out[p][n] = requantise(bias'[n] + sum_k x[p][k] * w[n][k]) over output positions p
 *   (image patches) and output channels n, two positions times two channels at once so that every loaded pair of
 *   int16 inputs and weights feeds two SMLADs. Eval widens a tile of channels at a time into scratch (a few KB)
 *   and each tile meets the positions' widened patches; the input zero point is folded into the bias, 4 bytes a
 *   channel in the persistent arena: sum((x - zx) * w) = sum(x * w) - zx * sum(w).
 * - FC (and a pointwise conv) has a lone row per weight, so it widens both operands in registers and keeps
 *   nothing: (x - zx) pairs and the weights in SXTB16's order; or FC reads int16 weights the converter packed
 *   into the model (fully_connected.c).
 *
 * One file per op family, as in kernels/: conv.c, fully_connected.c, depthwise_conv.c, pooling.c; the matrix
 * product they share in gemm.c and its assembly loop in gemm_2x2.c. Each op's prepare runs the reference prepare
 * first (its checks, multipliers and activation range in node->user_data, see ../reference.h) and hangs its own
 * data on it; kernels/registry.c puts these kernels in the table in place of the reference's.
 */
#ifndef TFL_ARM_INT8_H
#define TFL_ARM_INT8_H

#include "../reference.h"

#if defined(__ARM_FEATURE_DSP) && !defined(TFL_NO_DSP)
#define TFL_ARM_DSP 1

#include <arm_acle.h>

/* Per output channel, everything the requantisation needs. */
typedef struct {
    int32_t bias;        /* bias + input_offset * sum(w): the accumulator's start */
    int32_t multiplier;  /* Q31 mantissa and exponent as the reference kernel computed them */
    int32_t shift;
    int32_t right_shift; /* -shift when shift < 0, else 0 */
    int32_t round;       /* fast path: half the right shift's divisor plus output_offset * 2^right_shift */
    int32_t left;        /* fast path: the accumulator's left shift before SMMULR (max(shift, 0) + 1) */
} tfl_arm_channel;

/* The weights stay where the model has them (int8); eval widens a tile of `tile` channels at a time into the
 * layout the inner loop reads (scratch), with the tile's channel records. */
typedef struct {
    int32_t channels;  /* N */
    int32_t rows, row_len, row_len2; /* depth = rows x row_len (conv: filter rows); row_len2: row_len made even */
    int32_t kpairs;    /* int16 pairs per channel in the packed weights (ROWS, SINGLE_CHANNEL: made odd by a zero
                        * k-pair at the end) */
    uint8_t layout;          /* TFL_ARM_ROWS, TFL_ARM_GROUPS or TFL_ARM_SINGLE_CHANNEL, below */
    uint8_t fast_requant;    /* every accumulator provably fits the short requantisation (SMMULR) */
    uint8_t assembly;        /* two positions run through tfl_arm_gemm_2x2 (see below) */
    uint8_t scaled;          /* tiles hold weights and biases times 2^left, and every left is 0 (fast_requant;
                              * not GROUPS, whose tiles are widened by SXTB16 alone) */
    uint8_t records;         /* tiles keep their channel records, which the C paths read (the assembly loop reads
                              * only the blocks): set by tfl_arm_gemm_prepare, cleared by a layer that never
                              * takes the C paths */
    uint32_t block_words;    /* one channel pair's block in `weights`: head, k-pairs, tail */
    uint32_t entry;          /* tfl_arm_gemm_2x2: where this depth's run through the unrolled groups starts */
    int32_t tile;            /* channels widened at a time: all, or an even number */
    const int8_t *source;    /* the model's weights [channels][depth], any alignment */
    int32_t *bias;           /* per channel: the accumulator's start (persistent) */
    const int32_t *multipliers; /* the reference's, per channel */
    const tfl_shift *shifts;
    int32_t output_offset, act_min, act_max;
    /* the tile being run (tfl_arm_gemm_pack): */
    uint32_t *weights;       /* per channel pair a block: TFL_ARM_HEAD words, then per k-pair channel A's word
                              * (two int16) then channel B's, then TFL_ARM_TAIL words */
    tfl_arm_channel *channel;
} tfl_arm_gemm;

/* A channel pair's block in tfl_arm_gemm.weights, for the assembly loop: the head holds the two biases (A, B),
 * the tail the fast requantisation of A and of B (multiplier, rounding constant, right shift), the left shifts
 * of A and B, and where the loop goes next (the next pair, or out). */
enum { TFL_ARM_HEAD = 2, TFL_ARM_TAIL = 9 };

/* The most k-pair groups (two k-pairs each) tfl_arm_gemm_2x2 unrolls: a conv depth up to 2 * (1 + 2 * 128)
 * values; deeper layers take the C loop. */
#define TFL_ARM_MAX_GROUPS 128
/* The most groups of the pre-scaled sequence (its blocks skip the left shifts): a depth up to 2 * (1 + 2 * 16). */
#define TFL_ARM_SCALED_MAX_GROUPS 16

/* Two positions x every full channel pair of a conv whose outputs take the fast requantisation, clamped to the
 * whole int8 range with an output offset of -128 (what int8 ReLU layers are): there a negative rounded product
 * ends at -128 whichever way its half rounds, so the requantisation is SMMLAR, ASR, SSAT. Written in assembly
 * (gemm_2x2.c) so that the fourteen registers the loop needs are all free: per two k-pairs one 4-word load
 * of the patch, one of the weights, eight SMLADs. */
typedef struct {
    const uint32_t *weights; /* the first channel pair's block */
    const uint32_t *patch;   /* two positions' words per k-pair */
    uint32_t entry;
    int8_t *out0, *out1;     /* the two positions' outputs, channel 0 */
} tfl_arm_gemm_job;

void tfl_arm_gemm_2x2(const tfl_arm_gemm_job *job);      /* an odd number of k-pairs */
void tfl_arm_gemm_2x2_even(const tfl_arm_gemm_job *job); /* an even number */
void tfl_arm_gemm_2x2_next(void); /* labels inside them, for the blocks' tails and the entries */
void tfl_arm_gemm_2x2_next_even(void);
void tfl_arm_gemm_2x2_groups_end(void);
void tfl_arm_gemm_2x2_scaled_end(void);
void tfl_arm_gemm_2x2_done(void);

/* How the depth is paired. ROWS (conv): (k, k+1) in natural order, each filter row padded to even.
 * GROUPS (FC, and conv whose input channels come in fours): (k, k+2) in groups of four, the order SXTB16 widens
 * bytes in, so that four int8 weights or inputs become two words with two instructions. SINGLE_CHANNEL (conv of a
 * one-channel input): each filter row's first 2 * (filter_w / 2) taps as (j, j+1), row after row; for an odd
 * filter_w, after every even row r, its last column's tap paired with row r+1's (a zero weight when there is no
 * row r+1). */
enum { TFL_ARM_ROWS, TFL_ARM_GROUPS, TFL_ARM_SINGLE_CHANNEL };

/* Fill `gemm` for weights[channels][rows * row_len] (int8, any alignment, used in place; conv: rows = filter_h,
 * row_len = filter_w * in_c; GROUPS: rows = 1), bias[channels] (int32 little-endian, any alignment, or NULL) and
 * the reference's per-channel multiplier and shift arrays. Allocates the folded biases (4 bytes a channel) from
 * the persistent arena; the tile is all channels until the caller sets it. */
tfl_status tfl_arm_gemm_prepare(tfl_context *ctx, tfl_arm_gemm *gemm, int layout, const int8_t *weights,
    const uint8_t *bias, int32_t channels, int32_t rows, int32_t row_len, const tfl_int8_io *io,
    const int32_t *multiplier, const tfl_shift *shift);

/* Scratch bytes of one tile: its channel records (if kept), then its blocks. */
uint32_t tfl_arm_gemm_tile_bytes(const tfl_arm_gemm *gemm);
/* Widen channels [first, first + count) into `scratch` (tfl_arm_gemm_tile_bytes, 4-aligned) and point
 * gemm->weights and gemm->channel there; gemm->channels becomes `count`. */
void tfl_arm_gemm_pack(tfl_arm_gemm *gemm, const tfl_arm_gemm *whole, int32_t first, int32_t count, void *scratch);

/* `rows` runs of `groups` groups of four int8 values from each of a and b (any alignment; a run `step` bytes after
 * the previous one's start) as GROUPS words, interleaved: per group a's (v0, v2), b's, a's (v1, v3), b's. */
void tfl_arm_widen_two(uint32_t *words, const int8_t *a, const int8_t *b, int32_t groups, int32_t rows,
    int32_t step);

/* Multiply the widened positions in `x` (one, or two when `two`) by every channel and write the requantised
 * outputs: position 0's to out0, position 1's to out1. */
void tfl_arm_gemm_multiply(const tfl_arm_gemm *gemm, const uint32_t *x, int two, int8_t *out0, int8_t *out1);
/* Two positions of a layer that takes the assembly loop: the last channel of an odd count, after the loop's pairs. */
void tfl_arm_gemm_lone_channel(const tfl_arm_gemm *gemm, const uint32_t *x, int8_t *out0, int8_t *out1);

/* Two positions, the fastest way the layer allows: the assembly loop when gemm->assembly, called straight from the
 * layer's own loop (inline: a call in between cost about 10 instructions per two positions). */
static inline void tfl_arm_gemm_multiply_two(const tfl_arm_gemm *gemm, const uint32_t *x, int8_t *out0,
    int8_t *out1) {
    if (!gemm->assembly) {
        tfl_arm_gemm_multiply(gemm, x, 1, out0, out1);
        return;
    }
    if (gemm->channels >= 2) {
        tfl_arm_gemm_job job = {gemm->weights, x, gemm->entry, out0, out1};
        (gemm->kpairs & 1 ? tfl_arm_gemm_2x2 : tfl_arm_gemm_2x2_even)(&job);
    }
    if (gemm->channels & 1) {
        tfl_arm_gemm_lone_channel(gemm, x, out0, out1);
    }
}

/* Whether the fast requantisation (SMMULR of the accumulator shifted left) gives the reference's result for every
 * accumulator channel n can produce: its bias (in place, or NULL) plus its `count` weights `stride` apart times
 * inputs of magnitude at most `input_magnitude`. */
int tfl_arm_fast_requant_holds(const uint8_t *bias, int32_t n, const int8_t *weights, int32_t count,
    int32_t stride, int32_t input_magnitude, int32_t shift);

/* Channel n's bias folded with the input offset, from its `count` weights `stride` apart (tfl_arm_fold_bias;
 * returns whether the fast requantisation holds for every accumulator it can produce), and its requantisation
 * record (tfl_arm_channel_init). */
int tfl_arm_fold_bias(int32_t *folded, const uint8_t *bias, int32_t n, const int8_t *weights, int32_t count,
    int32_t stride, int32_t input_offset, int32_t shift);
void tfl_arm_channel_init(tfl_arm_channel *c, int32_t bias, int32_t multiplier, int32_t shift,
    int32_t output_offset);

/* The input image of a windowed op widened to int16 with its padding (the input zero point), so that every
 * window lies inside it. */
typedef struct {
    int32_t height, width, channels;
} tfl_arm_padded_image;

tfl_arm_padded_image tfl_arm_padded_size(const tfl_window_shape *s);
/* int16 values of the padded image, plus one spare so that the last row's even-length copy stays inside. */
uint32_t tfl_arm_image_halves(const tfl_window_shape *s);
void tfl_arm_widen_image(int16_t *image16, const tfl_arm_padded_image *image, const tfl_window_shape *s,
    int32_t input_zero_point, const int8_t *input);
/* Where output position p's window starts in the padded image. */
const int16_t *tfl_arm_window_of(const tfl_window_shape *s, const tfl_arm_padded_image *image,
    const int16_t *image16, int32_t p);

/* Rows of int8 input (any alignment) times int8 weights [units][depth] read in place, with the reference's bias (in
 * place, or NULL), requantisation and activation range (fully_connected.c; also a pointwise conv's pixels). */
typedef struct {
    const int8_t *weights;
    const uint8_t *bias;
    const tfl_int8_io *io;
    const int32_t *multipliers;
    const tfl_shift *shifts;
    int32_t depth, units;
    uint8_t fast_requant; /* tfl_arm_rows_fast: every accumulator provably fits the short requantisation */
} tfl_arm_rows;

int tfl_arm_rows_fast(const uint8_t *bias, const int8_t *weights, int32_t units, int32_t depth,
    const tfl_shift *shifts);
void tfl_arm_rows_eval(const tfl_arm_rows *m, int32_t rows, const int8_t *input, int8_t *output);

/* The variants' kernels, which registry.c puts in the table in place of the reference's: each prepare runs the
 * reference prepare first and then its own; each eval runs the reference eval where the variant does not apply. */
TFL_DECLARE_KERNEL(tfl_arm_conv)
TFL_DECLARE_KERNEL(tfl_arm_depthwise_conv)
TFL_DECLARE_KERNEL(tfl_arm_fully_connected)
TFL_DECLARE_KERNEL(tfl_arm_max_pool)

/* round(a * b / 2^32), halves upwards: the reference's doubling high multiply of a/2 and b. */
static inline int32_t tfl_arm_smmulr(int32_t a, int32_t b) {
    int32_t result;
    __asm__("smmulr %0, %1, %2" : "=r"(result) : "r"(a), "r"(b));
    return result;
}

/* Bytes 1 and 3 sign-extended into the two halves (the compiler does not fold the rotation itself). */
static inline uint32_t tfl_arm_sxtb16_ror8(uint32_t x) {
    uint32_t result;
    __asm__("sxtb16 %0, %1, ror #8" : "=r"(result) : "r"(x));
    return result;
}

/* The reference's requantisation plus output offset in four instructions, for a pre-scaled accumulator: valid
 * when the channels' fast_requant holds. (x + half + (x < 0 ? -1 : 0)) >> right rounds halves away from zero. */
static inline int32_t tfl_arm_requantize_fast(int32_t acc, int32_t multiplier, int32_t round, int32_t right_shift) {
    int32_t x = tfl_arm_smmulr(acc, multiplier);
    return (x + round + (x >> 31)) >> right_shift;
}

/* Requantised, offset and clamped output of channel c for accumulator acc; `op` has output_offset, act_min and
 * act_max. */
#define tfl_arm_output_of(acc, c, op, fast, full_range) \
    tfl_arm_output_with((acc), (c), (op)->output_offset, (op)->act_min, (op)->act_max, (fast), (full_range))

static inline __attribute__((always_inline)) int8_t tfl_arm_output_with(int32_t acc, const tfl_arm_channel *c,
    int32_t output_offset, int32_t act_min, int32_t act_max, int fast, int full_range) {
    int32_t x;
    if (fast) {
        x = tfl_arm_requantize_fast((int32_t)((uint32_t)acc << c->left), c->multiplier, c->round, c->right_shift);
    } else {
        x = tfl_multiply_by_quantized_multiplier(acc, c->multiplier, c->shift) + output_offset;
    }
    if (full_range) {
        return (int8_t)__ssat(x, 8);
    }
    x = x < act_min ? act_min : x;
    return (int8_t)(x > act_max ? act_max : x);
}

#endif /* TFL_ARM_DSP */
#endif /* TFL_ARM_INT8_H */
