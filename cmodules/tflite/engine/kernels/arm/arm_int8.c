/*
 * DSP (SMLAD) kernels for int8 CONV_2D and FULLY_CONNECTED (one matrix product) and DEPTHWISE_CONV_2D; see
 * arm_int8.h for the idea.
 *
 * Layouts, in 32-bit words each holding two int16 values (low half first), a "k-pair" being the two depth
 * indices one SMLAD multiplies:
 * - Conv: k-pairs are (k, k+1) in natural order; each filter row (filter_w * input_c values) is padded to an even
 *   length with zero weights, so that a row of the widened input image is copied into a patch a word at a time.
 * - FC: depth padded to a multiple of 4; in each group of four the pairs are (k0, k2) and (k1, k3), what SXTB16
 *   makes of four input bytes, so an input row is widened with two SXTB16s per word and nothing else.
 * - Conv k-pairs are made odd with a zero k-pair at the end (the assembly loop takes one, then groups of two).
 * - Weights: for each pair of output channels a block: head (the biases), for each k-pair channel A's word then
 *   channel B's, tail (requantisation and the assembly loop's next branch); see TFL_ARM_HEAD in arm_int8.h.
 * - Patch (scratch, or a single-channel input's strips) for two positions: for each k-pair: position 0's word,
 *   then position 1's; for one position the words are consecutive.
 * The inner loops walk both arrays forwards with post-incremented multiple loads.
 */
#include "arm_int8.h"

#if defined(TFL_ARM_DSP)

/* The firmware is built for size (-Os); these loops are where the inference spends its time. */
#pragma GCC optimize("O2")

#include <arm_acle.h>

#include "../../quant.h"

/* round(a * b / 2^32), halves upwards: the reference's doubling high multiply of a/2 and b. */
static inline int32_t smmulr(int32_t a, int32_t b) {
    int32_t result;
    __asm__("smmulr %0, %1, %2" : "=r"(result) : "r"(a), "r"(b));
    return result;
}

/* Bytes 1 and 3 sign-extended into the two halves (the compiler does not fold the rotation itself). */
static inline uint32_t sxtb16_ror8(uint32_t x) {
    uint32_t result;
    __asm__("sxtb16 %0, %1, ror #8" : "=r"(result) : "r"(x));
    return result;
}

static int32_t absolute(int32_t x) {
    return x < 0 ? -x : x;
}

/* Whether the fast requantisation (requantize_fast) gives the reference's result for every accumulator this
 * channel can produce. SMMULR(acc * 2^left, m) is the reference's rounding doubling high multiply of
 * acc * 2^(left - 1) when the scaled accumulator cannot overflow; the weights carry the 2^left (so they must
 * still fit int16); the rounding shortcut needs a right shift of at least 1, and folding the output offset into
 * the rounding constant needs offset * 2^right to stay far from overflow. */
static int fast_requant_holds(int32_t bias, int32_t weight_magnitude, int32_t left, int32_t right) {
    int64_t bound = ((bias < 0 ? -(int64_t)bias : (int64_t)bias) + 128 * (int64_t)weight_magnitude) << left;
    return bound < ((int64_t)1 << 31) && left <= 8 && right >= 1 && right <= 22;
}

static uint32_t code_address(void (*label)(void)) {
    return (uint32_t)(uintptr_t)label | 1u; /* a Thumb branch target */
}

/* A channel's requantisation from the reference's figures; returns whether the fast path holds for it. */
static int channel_init(tfl_arm_channel *c, const uint8_t *bias, int32_t n, int32_t weight_sum,
    int32_t weight_magnitude, int32_t input_offset, int32_t multiplier, int32_t shift) {
    /* wrapping like the reference's int32 sum (a malformed model may overflow it), without undefined behaviour */
    uint32_t folded = (uint32_t)input_offset * (uint32_t)weight_sum;
    c->bias = (int32_t)((uint32_t)(bias ? tfl_read_i32(bias + 4 * (size_t)n) : 0) + folded);
    c->multiplier = multiplier;
    c->shift = shift;
    c->right_shift = shift > 0 ? 0 : -shift;
    return fast_requant_holds(c->bias, weight_magnitude, (shift > 0 ? shift : 0) + 1, c->right_shift);
}

/* Once every channel is known: on the fast path pre-scale the bias by 2^left and fold the output offset into
 * the rounding constant. Returns the factor the channel's packed weights carry. */
static int32_t channel_finish(tfl_arm_channel *c, int fast, int32_t output_offset) {
    if (!fast) {
        return 1;
    }
    int32_t scale = 1 << ((c->shift > 0 ? c->shift : 0) + 1);
    c->bias *= scale;
    c->round = (int32_t)(((1u << c->right_shift) >> 1) + ((uint32_t)output_offset << c->right_shift));
    return scale;
}

/* Where logical depth index k (row r, index j in the row) sits: k-pair number and half (0 low, 1 high). */
static void place(const tfl_arm_gemm *gemm, int32_t r, int32_t j, int32_t *pair, int32_t *half) {
    int32_t row_pairs = gemm->row_len / 2;
    if (gemm->layout == TFL_ARM_FULLY_CONNECTED) {
        *pair = (j & ~3) / 2 + (j & 1);
        *half = (j >> 1) & 1;
    } else if (gemm->layout == TFL_ARM_SINGLE_CHANNEL && j < 2 * row_pairs) {
        *pair = r * row_pairs + (gemm->row_len & 1) * (r + 1) / 2 + j / 2; /* after the stacked pairs above */
        *half = j & 1;
    } else if (gemm->layout == TFL_ARM_SINGLE_CHANNEL) { /* the last column of an odd filter_w */
        int32_t even = r & ~1; /* after the run of its pair of rows' first */
        *pair = even * row_pairs + (even + 1) / 2 + row_pairs;
        *half = r & 1;
    } else {
        int32_t k = r * gemm->row_len2 + j;
        *pair = k / 2;
        *half = k & 1;
    }
}

tfl_status tfl_arm_gemm_prepare(tfl_context *ctx, tfl_arm_gemm *gemm, int layout, const int8_t *weights,
    const uint8_t *bias, int32_t channels, int32_t rows, int32_t row_len, int32_t input_offset,
    const int32_t *multiplier, const int32_t *shift, int32_t output_offset, int32_t act_min, int32_t act_max) {
    int32_t depth = rows * row_len;
    gemm->channels = channels;
    gemm->rows = rows;
    gemm->row_len = row_len;
    gemm->row_len2 = (row_len + 1) & ~1;
    gemm->layout = (uint8_t)layout;
    if (layout == TFL_ARM_FULLY_CONNECTED) {
        gemm->kpairs = ((row_len + 3) & ~3) / 2;
    } else if (layout == TFL_ARM_SINGLE_CHANNEL) {
        gemm->kpairs = (rows * (row_len / 2) + (row_len & 1) * (rows + 1) / 2) | 1;
    } else {
        gemm->kpairs = (rows * gemm->row_len2 / 2) | 1;
    }
    gemm->output_offset = output_offset;
    gemm->act_min = act_min;
    gemm->act_max = act_max;
    gemm->block_words = TFL_ARM_HEAD + 2 * (uint32_t)gemm->kpairs + TFL_ARM_TAIL;
    size_t packed_words = (size_t)(channels + 1) / 2 * gemm->block_words;
    gemm->weights = tfl_alloc_persistent(ctx, packed_words * 4);
    gemm->channel = tfl_alloc_persistent(ctx, (size_t)channels * sizeof(tfl_arm_channel));
    if (gemm->weights == NULL || gemm->channel == NULL) {
        return tfl_fail(ctx, TFL_ERR_ARENA, "arena too small for the DSP kernel's reordered weights");
    }
    int fast = 1;
    for (int32_t n = 0; n < channels; n++) {
        const int8_t *row = weights + (size_t)n * depth;
        int32_t sum = 0, magnitude = 0;
        for (int32_t k = 0; k < depth; k++) {
            sum += row[k];
            magnitude += absolute(row[k]);
        }
        fast &= channel_init(&gemm->channel[n], bias, n, sum, magnitude, input_offset, multiplier[n], shift[n]);
    }
    gemm->fast_requant = (uint8_t)fast;
    int32_t groups = (gemm->kpairs - 1) / 2;
    gemm->assembly = (uint8_t)(fast && layout != TFL_ARM_FULLY_CONNECTED && act_min == -128 && act_max == 127 &&
        output_offset == -128 && groups <= TFL_ARM_MAX_GROUPS);
    gemm->entry = code_address(tfl_arm_gemm_2x2_groups_end) - 40u * (uint32_t)groups; /* 40 bytes a group */
    memset(gemm->weights, 0, packed_words * 4);
    for (int32_t n = 0; n < channels; n++) {
        tfl_arm_channel *c = &gemm->channel[n];
        int32_t scale = channel_finish(c, fast, output_offset);
        uint32_t *block = gemm->weights + (size_t)(n / 2) * gemm->block_words;
        block[n & 1] = (uint32_t)c->bias;
        int16_t *channel_words = (int16_t *)(block + TFL_ARM_HEAD) + 2 * (n & 1);
        for (int32_t r = 0; r < rows; r++) {
            for (int32_t j = 0; j < row_len; j++) {
                int32_t pair, half;
                place(gemm, r, j, &pair, &half);
                channel_words[pair * 4 + half] = (int16_t)(weights[(size_t)n * depth + r * row_len + j] * scale);
            }
        }
        uint32_t *tail = block + TFL_ARM_HEAD + 2 * gemm->kpairs;
        tail[3 * (n & 1)] = (uint32_t)c->multiplier;
        tail[3 * (n & 1) + 1] = (uint32_t)c->round;
        tail[3 * (n & 1) + 2] = (uint32_t)c->right_shift;
        tail[6] = code_address(n / 2 + 1 < channels / 2 ? tfl_arm_gemm_2x2_next : tfl_arm_gemm_2x2_done);
    }
    return TFL_OK;
}

/* The reference's requantisation plus output offset in four instructions, for a pre-scaled accumulator: valid
 * when gemm->fast_requant. (x + half + (x < 0 ? -1 : 0)) >> right rounds halves away from zero. */
static inline int32_t requantize_fast(int32_t acc, int32_t multiplier, int32_t round, int32_t right_shift) {
    int32_t x = smmulr(acc, multiplier);
    return (x + round + (x >> 31)) >> right_shift;
}

/* Requantised, offset and clamped output of channel c for accumulator acc. */
#define output_of(acc, c, op, fast, full_range) \
    output_with((acc), (c), (op)->output_offset, (op)->act_min, (op)->act_max, (fast), (full_range))

static inline __attribute__((always_inline)) int8_t output_with(int32_t acc, const tfl_arm_channel *c,
    int32_t output_offset, int32_t act_min, int32_t act_max, int fast, int full_range) {
    int32_t x;
    if (fast) {
        x = requantize_fast(acc, c->multiplier, c->round, c->right_shift);
    } else {
        x = tfl_multiply_by_quantized_multiplier(acc, c->multiplier, c->shift) + output_offset;
    }
    if (full_range) {
        return (int8_t)__ssat(x, 8);
    }
    x = x < act_min ? act_min : x;
    return (int8_t)(x > act_max ? act_max : x);
}

/* The inner loops are assembly so that each k-pair costs exactly its share of loads and SMLADs: multiple loads
 * into fixed ascending registers (LDM needs them in order), post-incremented pointers, two groups of two
 * k-pairs per pass; the odd k-pair and odd group come first. */
#define PAIR_2X2                                                   \
    "ldrd %[xa], %[xb], [%[x]], #8\n"                              \
    "ldrd %[wa], %[wb], [%[w]], #8\n"                              \
    "smlad %[p0c0], %[xa], %[wa], %[p0c0]\n"                       \
    "smlad %[p1c0], %[xb], %[wa], %[p1c0]\n"                       \
    "smlad %[p0c1], %[xa], %[wb], %[p0c1]\n"                       \
    "smlad %[p1c1], %[xb], %[wb], %[p1c1]\n"

#define GROUP_2X2                                                  \
    "ldmia %[x]!, {%[xa], %[xb], %[xc], %[xd]}\n"                  \
    "ldrd %[wa], %[wb], [%[w]], #16\n"                             \
    "smlad %[p0c0], %[xa], %[wa], %[p0c0]\n"                       \
    "smlad %[p1c0], %[xb], %[wa], %[p1c0]\n"                       \
    "smlad %[p0c1], %[xa], %[wb], %[p0c1]\n"                       \
    "smlad %[p1c1], %[xb], %[wb], %[p1c1]\n"                       \
    "ldrd %[wa], %[wb], [%[w], #-8]\n"                             \
    "smlad %[p0c0], %[xc], %[wa], %[p0c0]\n"                       \
    "smlad %[p1c0], %[xd], %[wa], %[p1c0]\n"                       \
    "smlad %[p0c1], %[xc], %[wb], %[p0c1]\n"                       \
    "smlad %[p1c1], %[xd], %[wb], %[p1c1]\n"

/* Two positions x two channels over `kpairs` k-pairs; *weights moves on to the next channel pair's. acc: p0c0,
 * p1c0, p0c1, p1c1. */
static inline __attribute__((always_inline)) void dot_2x2(const uint32_t *x, const uint32_t **weights,
    int32_t kpairs, int32_t acc[4]) {
    const uint32_t *w = *weights;
    register uint32_t xa __asm__("r4"), xb __asm__("r5"), xc __asm__("r6"), xd __asm__("r8");
    uint32_t wa, wb;
    int32_t p0c0 = acc[0], p1c0 = acc[1], p0c1 = acc[2], p1c1 = acc[3];
    __asm__(
        "lsrs %[n], %[n], #1\n"
        "bcc 1f\n"
        PAIR_2X2
        "1: lsrs %[n], %[n], #1\n"
        "bcc 2f\n"
        GROUP_2X2
        "2: cmp %[n], #0\n"
        "beq 4f\n"
        "3:\n"
        GROUP_2X2
        GROUP_2X2
        "subs %[n], %[n], #1\n"
        "bne 3b\n"
        "4:\n"
        : [x] "+r"(x), [w] "+r"(w), [n] "+r"(kpairs), [p0c0] "+r"(p0c0), [p1c0] "+r"(p1c0), [p0c1] "+r"(p0c1),
          [p1c1] "+r"(p1c1), [xa] "=&r"(xa), [xb] "=&r"(xb), [xc] "=&r"(xc), [xd] "=&r"(xd), [wa] "=&r"(wa),
          [wb] "=&r"(wb)
        : "m"(*(const uint32_t(*)[])x), "m"(*(const uint32_t(*)[])w)
        : "cc");
    acc[0] = p0c0;
    acc[1] = p1c0;
    acc[2] = p0c1;
    acc[3] = p1c1;
    *weights = w;
}

#define PAIR_1X2                                                   \
    "ldr %[xa], [%[x]], #4\n"                                      \
    "ldrd %[wa], %[wb], [%[w]], #8\n"                              \
    "smlad %[c0], %[xa], %[wa], %[c0]\n"                           \
    "smlad %[c1], %[xa], %[wb], %[c1]\n"

#define GROUP_1X2                                                  \
    "ldrd %[xa], %[xb], [%[x]], #8\n"                              \
    "ldmia %[w]!, {%[wa], %[wb], %[wc], %[wd]}\n"                  \
    "smlad %[c0], %[xa], %[wa], %[c0]\n"                           \
    "smlad %[c1], %[xa], %[wb], %[c1]\n"                           \
    "smlad %[c0], %[xb], %[wc], %[c0]\n"                           \
    "smlad %[c1], %[xb], %[wd], %[c1]\n"

#define DOUBLE_1X2                                                 \
    "ldmia %[x]!, {%[xa], %[xb], %[xc], %[xd]}\n"                  \
    "ldmia %[w]!, {%[wa], %[wb], %[wc], %[wd]}\n"                  \
    "smlad %[c0], %[xa], %[wa], %[c0]\n"                           \
    "smlad %[c1], %[xa], %[wb], %[c1]\n"                           \
    "smlad %[c0], %[xb], %[wc], %[c0]\n"                           \
    "smlad %[c1], %[xb], %[wd], %[c1]\n"                           \
    "ldmia %[w]!, {%[wa], %[wb], %[wc], %[wd]}\n"                  \
    "smlad %[c0], %[xc], %[wa], %[c0]\n"                           \
    "smlad %[c1], %[xc], %[wb], %[c1]\n"                           \
    "smlad %[c0], %[xd], %[wc], %[c0]\n"                           \
    "smlad %[c1], %[xd], %[wd], %[c1]\n"

/* One position (consecutive words) x two channels. A lone input row, as in FC, has no second position to
 * share the weight loads with, so four k-pairs of input come in one LDM and the loop runs eight a pass.
 * acc: c0, c1. */
static inline __attribute__((always_inline)) void dot_1x2(const uint32_t *x, const uint32_t **weights,
    int32_t kpairs, int32_t acc[2]) {
    const uint32_t *w = *weights;
    register uint32_t wa __asm__("r4"), wb __asm__("r5"), wc __asm__("r6"), wd __asm__("r8");
    register uint32_t xa __asm__("r9"), xb __asm__("r10"), xc __asm__("r11"), xd __asm__("r12");
    int32_t c0 = acc[0], c1 = acc[1];
    __asm__(
        "lsrs %[n], %[n], #1\n"
        "bcc 1f\n"
        PAIR_1X2
        "1: lsrs %[n], %[n], #1\n"
        "bcc 2f\n"
        GROUP_1X2
        "2: lsrs %[n], %[n], #1\n"
        "bcc 3f\n"
        DOUBLE_1X2
        "3: cmp %[n], #0\n"
        "beq 5f\n"
        "4:\n"
        DOUBLE_1X2
        DOUBLE_1X2
        "subs %[n], %[n], #1\n"
        "bne 4b\n"
        "5:\n"
        : [x] "+r"(x), [w] "+r"(w), [n] "+r"(kpairs), [c0] "+r"(c0), [c1] "+r"(c1), [wa] "=&r"(wa),
          [wb] "=&r"(wb), [wc] "=&r"(wc), [wd] "=&r"(wd), [xa] "=&r"(xa), [xb] "=&r"(xb), [xc] "=&r"(xc),
          [xd] "=&r"(xd)
        :
        : "cc", "memory"); /* no registers left for memory operands: a memory clobber orders the loads */
    acc[0] = c0;
    acc[1] = c1;
    *weights = w;
}

/* Multiply the widened positions in `x` (one or two) by every channel pair and write requantised outputs;
 * out0 is position 0's output row, position 1's is `other` bytes further. Outputs are computed into locals before
 * any store (an int8 store may alias anything and would make the compiler reload the channel), and a lone last
 * channel is done after the loop, so that the loop itself carries as little as possible. */
static inline __attribute__((always_inline)) void multiply_rows(const tfl_arm_gemm *gemm, const uint32_t *x, int8_t *out0,
    size_t other, int two, int fast, int full_range) {
    int32_t kpairs = gemm->kpairs;
    const uint32_t *w = gemm->weights + TFL_ARM_HEAD;
    const tfl_arm_channel *c = gemm->channel, *end = c + (gemm->channels & ~1);
    for (; c != end; c += 2, out0 += 2, w += TFL_ARM_TAIL + TFL_ARM_HEAD) {
        if (two) {
            int32_t acc[4] = {c[0].bias, c[0].bias, c[1].bias, c[1].bias};
            dot_2x2(x, &w, kpairs, acc);
            int8_t p0c0 = output_of(acc[0], &c[0], gemm, fast, full_range);
            int8_t p1c0 = output_of(acc[1], &c[0], gemm, fast, full_range);
            int8_t p0c1 = output_of(acc[2], &c[1], gemm, fast, full_range);
            int8_t p1c1 = output_of(acc[3], &c[1], gemm, fast, full_range);
            out0[0] = p0c0;
            out0[1] = p0c1;
            out0[other] = p1c0;
            out0[other + 1] = p1c1;
        } else {
            int32_t acc[2] = {c[0].bias, c[1].bias};
            dot_1x2(x, &w, kpairs, acc);
            int8_t p0c0 = output_of(acc[0], &c[0], gemm, fast, full_range);
            int8_t p0c1 = output_of(acc[1], &c[1], gemm, fast, full_range);
            out0[0] = p0c0;
            out0[1] = p0c1;
        }
    }
    if (gemm->channels & 1) { /* its pair's second channel has zero weights */
        if (two) {
            int32_t acc[4] = {c->bias, c->bias, 0, 0};
            dot_2x2(x, &w, kpairs, acc);
            int8_t p0 = output_of(acc[0], c, gemm, fast, full_range);
            int8_t p1 = output_of(acc[1], c, gemm, fast, full_range);
            out0[0] = p0;
            out0[other] = p1;
        } else {
            int32_t acc[2] = {c->bias, 0};
            dot_1x2(x, &w, kpairs, acc);
            out0[0] = output_of(acc[0], c, gemm, fast, full_range);
        }
    }
}

/* The variants of multiply_rows, chosen once per call: one or two positions; fast or exact requantisation;
 * the int8 range as the clamp or another. */
static void multiply(const tfl_arm_gemm *gemm, const uint32_t *x, int two, int8_t *out0, int8_t *out1) {
    int full_range = gemm->act_min == -128 && gemm->act_max == 127;
    size_t other = (size_t)(out1 - out0);
    if (two) {
        if (gemm->fast_requant && full_range) {
            multiply_rows(gemm, x, out0, other, 1, 1, 1);
        } else if (gemm->fast_requant) {
            multiply_rows(gemm, x, out0, other, 1, 1, 0);
        } else {
            multiply_rows(gemm, x, out0, other, 1, 0, 0);
        }
    } else if (gemm->fast_requant && full_range) {
        multiply_rows(gemm, x, out0, other, 0, 1, 1);
    } else if (gemm->fast_requant) {
        multiply_rows(gemm, x, out0, other, 0, 1, 0);
    } else {
        multiply_rows(gemm, x, out0, other, 0, 0, 0);
    }
}

/* Two positions when gemm->assembly: the full channel pairs in assembly, a lone last channel here. */
static void multiply_assembly(const tfl_arm_gemm *gemm, const uint32_t *x, int8_t *out0, int8_t *out1) {
    int32_t pairs = gemm->channels / 2;
    tfl_arm_gemm_job job = {gemm->weights, x, gemm->entry, out0, out1};
    if (pairs > 0) {
        tfl_arm_gemm_2x2(&job);
    }
    if (gemm->channels & 1) { /* its pair's second channel has zero weights */
        const tfl_arm_channel *c = &gemm->channel[2 * pairs];
        const uint32_t *w = gemm->weights + (size_t)pairs * gemm->block_words + TFL_ARM_HEAD;
        int32_t acc[4] = {c->bias, c->bias, 0, 0};
        dot_2x2(x, &w, gemm->kpairs, acc);
        int8_t p0 = output_of(acc[0], c, gemm, 1, 1);
        int8_t p1 = output_of(acc[1], c, gemm, 1, 1);
        out0[2 * pairs] = p0;
        out1[2 * pairs] = p1;
    }
}

/* Two positions' outputs, the fastest way the layer allows. */
static void multiply_two(const tfl_arm_gemm *gemm, const uint32_t *x, int8_t *out0, int8_t *out1) {
    if (gemm->assembly) {
        multiply_assembly(gemm, x, out0, out1);
    } else {
        multiply(gemm, x, 1, out0, out1);
    }
}

/* ---- CONV_2D: widen the input image once (with its padding), then copy each patch a word at a time. ---- */

typedef struct {
    int32_t height, width, channels; /* of the padded image */
} padded_image;

static padded_image padded_size(const tfl_arm_conv_shape *s) {
    padded_image image;
    int32_t span_h = (s->output_h - 1) * s->stride_h + (s->filter_h - 1) * s->dilation_h + 1;
    int32_t span_w = (s->output_w - 1) * s->stride_w + (s->filter_w - 1) * s->dilation_w + 1;
    int32_t below = span_h - s->pad_top - s->input_h, right = span_w - s->pad_left - s->input_w;
    image.height = s->pad_top + s->input_h + (below > 0 ? below : 0);
    image.width = s->pad_left + s->input_w + (right > 0 ? right : 0);
    image.channels = s->input_c;
    return image;
}

/* int16 values of the padded image, plus one spare so that the last row's even-length copy stays inside. */
static uint32_t image_halves(const tfl_arm_conv_shape *s) {
    padded_image image = padded_size(s);
    return (uint32_t)(image.height * image.width * image.channels + 2);
}

/* A single-channel input (the first layer of an image model) with unit column stride and no dilation: its
 * filter rows (filter_w values) are too short for the row copies below to pay, and padding an odd row wastes a
 * multiply in every row. So the widened image is laid out once more, as "strips", one per pair of output
 * columns (x even, x + 1), in which every patch of the pair is one run of words in exactly the order the 2x2
 * product reads, and the product reads it in place. Per image row y a strip holds the words
 * (v[x+j], v[x+j+1]) for j = 0 .. 2 * (filter_w / 2) - 1: the taps (2k, 2k+1) of position x (j even) and of
 * x + 1 (j odd). For an odd filter_w the last column's taps of two filter rows are paired instead, as words
 * (v[y][c], v[y+1][c]) of the columns c of positions x and x + 1; since which image rows pair up depends on the
 * window's first row, there are two strips per column pair, one for windows starting on even rows, one for odd,
 * each with these two words after every row of its parity. The k-pairs follow (the SINGLE_CHANNEL layout,
 * arm_int8.h). A 5x5 filter takes 13 k-pairs instead of 15, and no copying per position. */
int tfl_arm_conv_single_channel(const tfl_arm_conv_shape *s) {
    return s->input_c == 1 && s->stride_w == 1 && s->dilation_w == 1 && s->dilation_h == 1 && s->output_w >= 2;
}

typedef struct {
    int32_t run;          /* words per image row: 2 * (filter_w / 2) */
    int32_t stacked;      /* 1 for an odd filter_w: the stacked words and two strips per column pair */
    int32_t words;        /* of one strip */
    int32_t count;        /* strips */
} strip_layout;

static strip_layout strips_of(const tfl_arm_gemm *gemm, const padded_image *image, const tfl_arm_conv_shape *s) {
    strip_layout l;
    l.run = 2 * (gemm->row_len / 2);
    l.stacked = gemm->row_len & 1;
    l.words = image->height * l.run + l.stacked * 2 * ((image->height + 1) / 2);
    l.count = (s->output_w + 1) / 2 * (1 + l.stacked);
    return l;
}

/* Bytes of the widened image: int16 values (4-aligned), then for single-channel inputs the strips (plus the
 * zero k-pair's two words past the last, see tfl_arm_gemm.kpairs) and a row of outputs that an odd last position's
 * partner writes into. Otherwise the patch of two positions follows. */
uint32_t tfl_arm_conv_scratch_bytes(const tfl_arm_gemm *gemm, const tfl_arm_conv_shape *shape) {
    uint32_t bytes = (image_halves(shape) * 2 + 3) & ~3u;
    if (gemm->layout == TFL_ARM_SINGLE_CHANNEL) {
        padded_image image = padded_size(shape);
        strip_layout l = strips_of(gemm, &image, shape);
        return bytes + 4 * (uint32_t)(l.count * l.words + 2) + (((uint32_t)gemm->channels + 3) & ~3u);
    }
    return bytes + 2 * 4 * (uint32_t)gemm->kpairs;
}

uint32_t tfl_arm_fully_connected_scratch_bytes(const tfl_arm_gemm *gemm) {
    return 4 * (uint32_t)gemm->kpairs;
}

/* int8 -> int16, natural order, `count` values. */
static void widen_natural(int16_t *destination, const int8_t *source, int32_t count) {
    for (; count >= 4; count -= 4, source += 4, destination += 4) {
        uint32_t bytes;
        memcpy(&bytes, source, 4);
        uint32_t even = __sxtb16(bytes), odd = sxtb16_ror8(bytes); /* (v0, v2), (v1, v3) */
        uint32_t low = (even & 0xffff) | (odd << 16), high = (odd & 0xffff0000) | (even >> 16);
        memcpy(destination, &low, 4);
        memcpy(destination + 2, &high, 4);
    }
    for (; count > 0; count--) {
        *destination++ = *source++;
    }
}

static void widen_image(int16_t *image16, const padded_image *image, const tfl_arm_conv_shape *s,
    const int8_t *input) {
    int32_t row_values = s->input_w * s->input_c;
    int whole = image->height == s->input_h && image->width == s->input_w;
    if (whole) {
        widen_natural(image16, input, s->input_h * row_values);
    } else {
        int32_t total = image->height * image->width * image->channels;
        for (int32_t i = 0; i < total; i++) {
            image16[i] = (int16_t)s->input_zero_point;
        }
        for (int32_t y = 0; y < s->input_h; y++) {
            widen_natural(image16 + ((y + s->pad_top) * image->width + s->pad_left) * image->channels,
                input + (size_t)y * row_values, row_values);
        }
    }
    int32_t end = image->height * image->width * image->channels;
    image16[end] = image16[end + 1] = 0;
}

/* Where output position p's window starts in the padded image. */
static const int16_t *window_of(const tfl_arm_conv_shape *s, const padded_image *image, const int16_t *image16,
    int32_t p) {
    int32_t out_y = p / s->output_w, out_x = p % s->output_w;
    return image16 + ((size_t)out_y * s->stride_h * image->width + (size_t)out_x * s->stride_w) * image->channels;
}

/* The patches of two positions (one when window1 is NULL), filter row by filter row; each filter row is one run
 * of an image row, copied a word (two values) at a time. */
static void gather_rows(uint32_t *patch, const int16_t *window0, const int16_t *window1, int32_t rows,
    int32_t words, int32_t row_step) {
    if (window1 == NULL) {
        for (int32_t r = 0; r < rows; r++, window0 += row_step) {
            for (int32_t i = 0; i < words; i++) {
                memcpy(patch++, window0 + 2 * i, 4);
            }
        }
        return;
    }
    for (int32_t r = 0; r < rows; r++, window0 += row_step, window1 += row_step) {
        const int16_t *from0 = window0, *from1 = window1;
        int32_t n = words;
        uint32_t a, b;
        __asm__ volatile( /* a word of each position, interleaved: two (unaligned) loads, one double store */
            "1: ldr %[a], [%[from0]], #4\n"
            "ldr %[b], [%[from1]], #4\n"
            "strd %[a], %[b], [%[patch]], #8\n"
            "subs %[n], %[n], #1\n"
            "bne 1b\n"
            : [from0] "+r"(from0), [from1] "+r"(from1), [patch] "+r"(patch), [n] "+r"(n), [a] "=&r"(a),
              [b] "=&r"(b)
            :
            : "cc", "memory");
    }
}

/* A patch with dilated filter columns, value by value, into every `step`-th word. */
static void gather_dilated(uint32_t *patch, int32_t step, const tfl_arm_gemm *gemm, const tfl_arm_conv_shape *s,
    const padded_image *image, const int16_t *window) {
    int16_t *halves = (int16_t *)patch;
    for (int32_t fy = 0; fy < s->filter_h; fy++, halves += gemm->row_len2 * step) {
        const int16_t *line = window + (size_t)fy * s->dilation_h * image->width * image->channels;
        for (int32_t j = 0; j < gemm->row_len; j++) {
            int32_t fx = j / s->input_c, c = j % s->input_c;
            halves[(j / 2) * 2 * step + (j & 1)] = line[fx * s->dilation_w * image->channels + c];
        }
    }
}

/* Where image row y starts in a strip of the given parity: every earlier row's run, and two stacked words after
 * each earlier row of that parity. */
static int32_t strip_row_offset(const strip_layout *l, int32_t y, int32_t parity) {
    return y * l->run + l->stacked * 2 * ((y + 1 - parity) >> 1);
}

/* Row y of every strip, for a 5-wide filter (the common first layer) when row y + 1 exists: per column pair, the
 * four run words (two of them unaligned loads) into both parities' strips, and the stacked words of the last
 * columns into the strip of row y's parity. */
static void strip_row_5(uint32_t *with_stacked, uint32_t *without, const int16_t *row, const int16_t *below,
    int32_t column_pairs, uint32_t strip_pair_bytes) {
    __asm__ volatile(
        "1: ldr r4, [%[row]]\n"
        "ldr r5, [%[row], #2]\n"
        "ldr r6, [%[row], #4]\n"
        "ldr r8, [%[row], #6]\n"
        "stmia %[with], {r4, r5, r6, r8}\n"
        "stmia %[without], {r4, r5, r6, r8}\n"
        "ldr r4, [%[row], #8]\n"          /* columns x + 4 and x + 5 of row y ... */
        "ldr r5, [%[below], #8]\n"        /* ... and of row y + 1 */
        "pkhbt r6, r4, r5, lsl #16\n"
        "pkhtb r8, r5, r4, asr #16\n"
        "strd r6, r8, [%[with], #16]\n"
        "adds %[row], %[row], #4\n"
        "adds %[below], %[below], #4\n"
        "add %[with], %[with], %[step]\n"
        "add %[without], %[without], %[step]\n"
        "subs %[n], %[n], #1\n"
        "bne 1b\n"
        : [row] "+r"(row), [below] "+r"(below), [with] "+r"(with_stacked), [without] "+r"(without),
          [n] "+r"(column_pairs)
        : [step] "r"(strip_pair_bytes)
        : "r4", "r5", "r6", "r8", "cc", "memory");
}

/* The strips of the widened image (see tfl_arm_conv_single_channel), row by row. A run ends with a value one past
 * the last column of an odd last position's partner, which reads the next row's first value or the image's
 * spare. */
static void build_strips(uint32_t *strips, const strip_layout *l, const int16_t *image16, const padded_image *image,
    int32_t last_column) {
    int32_t width = image->width, height = image->height, parities = 1 + l->stacked;
    int32_t column_pairs = l->count / parities;
    size_t strip_pair = (size_t)parities * l->words; /* words from a column pair's strips to the next's */
    for (int32_t y = 0; y < height; y++) {
        const int16_t *row = image16 + (size_t)y * width;
        int32_t own = y & 1; /* the parity whose strips take row y's stacked words */
        uint32_t *first[2] = {strips + strip_row_offset(l, y, 0), strips + l->words + strip_row_offset(l, y, 1)};
        if (l->stacked && l->run == 4 && y + 1 < height) {
            strip_row_5(first[own], first[1 - own], row, row + width, column_pairs, 4 * (uint32_t)strip_pair);
            continue;
        }
        for (int32_t x = 0; x < 2 * column_pairs; x += 2) {
            for (int32_t parity = 0; parity < parities; parity++) {
                uint32_t *words = first[parity] + (size_t)(x / 2) * strip_pair;
                for (int32_t j = 0; j < l->run; j++) { /* odd j: an unaligned load */
                    memcpy(words++, row + x + j, 4);
                }
                if (l->stacked && parity == own) { /* the last columns of x and x + 1, rows y and y + 1 */
                    uint32_t top, bottom = 0;
                    memcpy(&top, row + x + last_column, 4);
                    if (y + 1 < height) {
                        memcpy(&bottom, row + width + x + last_column, 4);
                    }
                    words[0] = (top & 0xffff) | bottom << 16;       /* PKHBT */
                    words[1] = (bottom & 0xffff0000) | top >> 16;   /* PKHTB */
                }
            }
        }
    }
}

/* Two positions at a time (x, x + 1) straight from the strips; an odd last position goes with a partner whose
 * outputs land in a spare row. */
static void conv_single_channel(const tfl_arm_gemm *gemm, const tfl_arm_conv_shape *s, const padded_image *image,
    const int16_t *image16, uint32_t *strips, int8_t *out) {
    strip_layout l = strips_of(gemm, image, s);
    build_strips(strips, &l, image16, image, gemm->row_len - 1);
    int8_t *spare = (int8_t *)(strips + l.count * l.words + 2);
    int direct = gemm->assembly && (gemm->channels & 1) == 0; /* nothing but the assembly loop's call per pair */
    tfl_arm_gemm_job job = {gemm->weights, NULL, gemm->entry, NULL, NULL};
    for (int32_t oy = 0; oy < s->output_h; oy++) {
        int32_t y0 = oy * s->stride_h, parity = l.stacked ? y0 & 1 : 0;
        const uint32_t *patch = strips + parity * l.words + strip_row_offset(&l, y0, parity);
        int8_t *out0 = out + (size_t)oy * s->output_w * gemm->channels;
        for (int32_t x = 0; x < s->output_w; x += 2, patch += (1 + l.stacked) * l.words, out0 += 2 * gemm->channels) {
            int8_t *out1 = x + 1 < s->output_w ? out0 + gemm->channels : spare;
            if (direct) {
                job.patch = patch;
                job.out0 = out0;
                job.out1 = out1;
                tfl_arm_gemm_2x2(&job);
            } else {
                multiply_two(gemm, patch, out0, out1);
            }
        }
    }
}

void tfl_arm_conv_eval(const tfl_arm_gemm *gemm, const tfl_arm_conv_shape *shape, const int8_t *input,
    int8_t *output, uint32_t *scratch) {
    padded_image image = padded_size(shape);
    int16_t *image16 = (int16_t *)scratch;
    uint32_t *after_image = scratch + (image_halves(shape) * 2 + 3) / 4; /* the patch, or the strips */
    uint32_t *patch = after_image;
    int32_t positions = shape->output_h * shape->output_w;
    int32_t row_step = shape->dilation_h * image.width * image.channels;
    for (int32_t b = 0; b < shape->batches; b++) {
        widen_image(image16, &image, shape, input + (size_t)b * shape->input_h * shape->input_w * shape->input_c);
        int8_t *out = output + (size_t)b * positions * gemm->channels;
        if (gemm->layout == TFL_ARM_SINGLE_CHANNEL) {
            conv_single_channel(gemm, shape, &image, image16, after_image, out);
            continue;
        }
        for (int32_t p = 0; p < positions; p += 2) {
            int two = p + 1 < positions;
            const int16_t *window0 = window_of(shape, &image, image16, p);
            const int16_t *window1 = two ? window_of(shape, &image, image16, p + 1) : NULL;
            if (shape->dilation_w == 1) {
                gather_rows(patch, window0, window1, shape->filter_h, gemm->row_len2 / 2, row_step);
            } else {
                gather_dilated(patch, two ? 2 : 1, gemm, shape, &image, window0);
                if (two) {
                    gather_dilated(patch + 1, 2, gemm, shape, &image, window1);
                }
            }
            int8_t *out0 = out + (size_t)p * gemm->channels;
            if (two) {
                multiply_two(gemm, patch, out0, out0 + gemm->channels);
            } else {
                multiply(gemm, patch, 0, out0, out0);
            }
        }
    }
}

/* ---- FULLY_CONNECTED: widen each input row with SXTB16 (the weights are in its order). ---- */

/* Widen `depth` int8 values into consecutive words, each group of four as (v0, v2), (v1, v3); the last group
 * zero-padded. */
static void widen_row(uint32_t *words, const int8_t *row, int32_t depth) {
    int32_t eights = depth / 8;
    if (eights > 0) { /* eight values a pass: two (unaligned) loads, four SXTB16s, one store multiple */
        register uint32_t w0 __asm__("r4"), w1 __asm__("r5"), w2 __asm__("r6"), w3 __asm__("r8");
        uint32_t low, high;
        __asm__ volatile( /* volatile: its effect is the stores */
            "1: ldr %[low], [%[row]], #4\n"
            "ldr %[high], [%[row]], #4\n"
            "sxtb16 %[w0], %[low]\n"
            "sxtb16 %[w1], %[low], ror #8\n"
            "sxtb16 %[w2], %[high]\n"
            "sxtb16 %[w3], %[high], ror #8\n"
            "stmia %[words]!, {%[w0], %[w1], %[w2], %[w3]}\n"
            "subs %[n], %[n], #1\n"
            "bne 1b\n"
            : [row] "+r"(row), [words] "+r"(words), [n] "+r"(eights), [low] "=&r"(low), [high] "=&r"(high),
              [w0] "=&r"(w0), [w1] "=&r"(w1), [w2] "=&r"(w2), [w3] "=&r"(w3), "=m"(*(uint32_t(*)[])words)
            : "m"(*(const int8_t(*)[])row)
            : "cc");
    }
    for (int32_t k = depth & ~7; k < depth; k += 4, words += 2, row += 4) { /* the rest, zero-padded */
        uint32_t bytes = 0;
        memcpy(&bytes, row, (size_t)(depth - k < 4 ? depth - k : 4));
        words[0] = __sxtb16(bytes);
        words[1] = sxtb16_ror8(bytes);
    }
}

void tfl_arm_fully_connected_eval(const tfl_arm_gemm *gemm, int32_t rows, const int8_t *input, int8_t *output,
    uint32_t *scratch) {
    for (int32_t r = 0; r < rows; r++) {
        int8_t *out = output + (size_t)r * gemm->channels;
        widen_row(scratch, input + (size_t)r * gemm->row_len, gemm->row_len);
        multiply(gemm, scratch, 0, out, out);
    }
}

/* ---- DEPTHWISE_CONV_2D (depth multiplier 1): each channel's own taps, two taps per SMLAD. ---- */

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
    int32_t channels = dw->shape.input_c;
    const uint32_t *w = dw->weights;
    for (int32_t c = 0; c < channels; c += 2, w += 2 * dw->tap_pairs) {
        const tfl_arm_channel *c0 = &dw->channel[c];
        int odd = c + 1 == channels;
        const tfl_arm_channel *c1 = odd ? c0 : c0 + 1;
        int32_t acc[2] = {c0->bias, c1->bias};
        depthwise_pair(window + c, dw->offsets, w, dw->tap_pairs, acc);
        int8_t first = output_of(acc[0], c0, dw, fast, full_range);
        int8_t second = output_of(acc[1], c1, dw, fast, full_range);
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

tfl_status tfl_arm_depthwise_setup(tfl_context *ctx, tfl_arm_depthwise *dw, const int8_t *filter,
    const uint8_t *bias, const tfl_arm_quant *quant) {
    const tfl_arm_conv_shape *s = &dw->shape;
    int32_t channels = s->input_c, taps = s->filter_h * s->filter_w;
    padded_image image = padded_size(s);
    dw->tap_pairs = (taps + 1) / 2;
    dw->output_offset = quant->output_offset;
    dw->act_min = quant->act_min;
    dw->act_max = quant->act_max;
    size_t words = (size_t)(channels + 1) / 2 * 2 * dw->tap_pairs;
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
        int32_t sum = 0, magnitude = 0;
        for (int32_t t = 0; t < taps; t++) {
            sum += filter[t * channels + c];
            magnitude += absolute(filter[t * channels + c]);
        }
        fast &= channel_init(&dw->channel[c], bias, c, sum, magnitude, quant->input_offset, quant->multipliers[c],
            quant->shifts[c]);
    }
    dw->fast_requant = (uint8_t)fast;
    int16_t *packed = (int16_t *)dw->weights;
    memset(packed, 0, 4 * words);
    for (int32_t c = 0; c < channels; c++) {
        int32_t scale = channel_finish(&dw->channel[c], fast, quant->output_offset);
        int16_t *channel_words = packed + (size_t)(c / 2) * 4 * dw->tap_pairs + 2 * (c & 1);
        for (int32_t t = 0; t < taps; t++) {
            channel_words[(t / 2) * 4 + (t & 1)] = (int16_t)(filter[t * channels + c] * scale);
        }
    }
    return TFL_OK;
}

uint32_t tfl_arm_depthwise_scratch_bytes(const tfl_arm_depthwise *dw) {
    return image_halves(&dw->shape) * 2 + 4;
}

void tfl_arm_depthwise_eval(const tfl_arm_depthwise *dw, const int8_t *input, int8_t *output, int16_t *scratch) {
    const tfl_arm_conv_shape *s = &dw->shape;
    padded_image image = padded_size(s);
    int32_t positions = s->output_h * s->output_w;
    for (int32_t b = 0; b < s->batches; b++) {
        widen_image(scratch, &image, s, input + (size_t)b * s->input_h * s->input_w * s->input_c);
        int8_t *out = output + (size_t)b * positions * s->input_c;
        for (int32_t p = 0; p < positions; p++) {
            depthwise_position_any(dw, window_of(s, &image, scratch, p), out + (size_t)p * s->input_c);
        }
    }
}

#endif /* TFL_ARM_DSP */
