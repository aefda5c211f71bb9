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
 * - Weights: for each pair of output channels, for each k-pair: channel A's word, then channel B's.
 * - Patch (scratch) for two positions: for each k-pair: position 0's word, then position 1's; for one position
 *   the words are consecutive.
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
        *pair = r * row_pairs + j / 2;
        *half = j & 1;
    } else if (gemm->layout == TFL_ARM_SINGLE_CHANNEL) { /* the last column of an odd filter_w */
        *pair = gemm->rows * row_pairs + r / 2;
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
        gemm->kpairs = rows * (row_len / 2) + (row_len & 1) * (rows + 1) / 2;
    } else {
        gemm->kpairs = rows * gemm->row_len2 / 2;
    }
    gemm->output_offset = output_offset;
    gemm->act_min = act_min;
    gemm->act_max = act_max;
    size_t packed_words = (size_t)(channels + 1) / 2 * 2 * gemm->kpairs;
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
    int16_t *packed = (int16_t *)gemm->weights;
    memset(packed, 0, packed_words * 4);
    for (int32_t n = 0; n < channels; n++) {
        int32_t scale = channel_finish(&gemm->channel[n], fast, output_offset);
        int16_t *channel_words = packed + (size_t)(n / 2) * 4 * gemm->kpairs + 2 * (n & 1);
        for (int32_t r = 0; r < rows; r++) {
            for (int32_t j = 0; j < row_len; j++) {
                int32_t pair, half;
                place(gemm, r, j, &pair, &half);
                channel_words[pair * 4 + half] = (int16_t)(weights[(size_t)n * depth + r * row_len + j] * scale);
            }
        }
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
    const uint32_t *w = gemm->weights;
    const tfl_arm_channel *c = gemm->channel, *end = c + (gemm->channels & ~1);
    for (; c != end; c += 2, out0 += 2) {
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
 * filter rows (filter_w values, padded to even) are too short for the row copies below to pay, and padding an
 * odd row wastes a multiply in every row. So each image row is also laid out as consecutive words
 * (v[2m], v[2m+1]), (v[2m+1], v[2m+2]) for m = 0, 1, ... ("paired rows"): the taps (j, j+1) of positions x (even)
 * and x+1 are then one run of aligned words in exactly the order the 2x2 product reads; and for an odd filter_w
 * the image is also laid out as words (v[y][x], v[y+1][x]) ("stacked rows"), which pair the last column's taps
 * of two filter rows (the SINGLE_CHANNEL layout, arm_int8.h). A 5x5 filter takes 13 k-pairs instead of 15. */
int tfl_arm_conv_single_channel(const tfl_arm_conv_shape *s) {
    return s->input_c == 1 && s->stride_w == 1 && s->dilation_w == 1 && s->dilation_h == 1 && s->output_w >= 2;
}

/* Words per paired row: pairs m up to (width + 1) / 2 - 1 cover every window of an even position. */
static int32_t paired_row_words(const padded_image *image) {
    return 2 * ((image->width + 1) / 2);
}

static int32_t stacked_words(const tfl_arm_conv_shape *s, const padded_image *image) {
    return (s->filter_w & 1) ? image->height * image->width : 0;
}

/* Bytes of the widened image: int16 values (4-aligned), then for single-channel inputs the paired and the
 * stacked rows. */
static uint32_t image_bytes(const tfl_arm_conv_shape *s) {
    uint32_t bytes = (image_halves(s) * 2 + 3) & ~3u;
    if (tfl_arm_conv_single_channel(s)) {
        padded_image image = padded_size(s);
        bytes += 4 * (uint32_t)(image.height * paired_row_words(&image) + stacked_words(s, &image));
    }
    return bytes;
}

uint32_t tfl_arm_conv_scratch_bytes(const tfl_arm_gemm *gemm, const tfl_arm_conv_shape *shape) {
    return image_bytes(shape) + 2 * 4 * (uint32_t)gemm->kpairs;
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

/* The paired rows of the widened single-channel image (see tfl_arm_conv_single_channel). Reads one value past a
 * row's end (the next row's first, or the image's spare), which meets only zero weights. */
static void pair_rows(uint32_t *paired, const int16_t *image16, const padded_image *image) {
    int32_t words = paired_row_words(image);
    for (int32_t y = 0; y < image->height; y++) {
        const uint16_t *row = (const uint16_t *)image16 + (size_t)y * image->width;
        for (int32_t i = 0; i < words; i += 2, row += 2, paired += 2) {
            paired[0] = row[0] | (uint32_t)row[1] << 16;
            paired[1] = row[1] | (uint32_t)row[2] << 16;
        }
    }
}

/* The stacked rows: (v[y][x], v[y+1][x]); the last row's second value is 0 (it meets only a zero weight). */
static void stack_rows(uint32_t *stacked, const int16_t *image16, const padded_image *image) {
    const uint16_t *values = (const uint16_t *)image16;
    int32_t below = image->width, count = image->height * image->width, i = 0;
    for (; i < count - below; i++) {
        stacked[i] = values[i] | (uint32_t)values[i + below] << 16;
    }
    for (; i < count; i++) {
        stacked[i] = values[i];
    }
}

typedef struct {
    const uint32_t *paired, *stacked;
    int32_t paired_words, stacked_words; /* per row */
} single_channel_image;

/* The 2x2 patch of positions x (even) and x + 1 of output row out_y: per filter row a run of 2 * (filter_w / 2)
 * paired words, then for an odd filter_w two stacked words per pair of filter rows. */
static void gather_pair(uint32_t *patch, const single_channel_image *in, const tfl_arm_gemm *gemm,
    const tfl_arm_conv_shape *s, int32_t out_y, int32_t x) {
    int32_t pairs = gemm->row_len / 2;
    const uint32_t *from = in->paired + (size_t)out_y * s->stride_h * in->paired_words + x;
    int32_t rows = gemm->rows;
    if (pairs == 2) { /* filter_w 4 or 5: a row's run is four words, one multiple load and store */
        register uint32_t a __asm__("r4"), b __asm__("r5"), c __asm__("r6"), d __asm__("r8");
        __asm__ volatile(
            "1: ldmia %[from], {%[a], %[b], %[c], %[d]}\n"
            "stmia %[patch]!, {%[a], %[b], %[c], %[d]}\n"
            "add %[from], %[from], %[step]\n"
            "subs %[rows], %[rows], #1\n"
            "bne 1b\n"
            : [from] "+r"(from), [patch] "+r"(patch), [rows] "+r"(rows), [a] "=&r"(a), [b] "=&r"(b), [c] "=&r"(c),
              [d] "=&r"(d)
            : [step] "r"(4 * in->paired_words)
            : "cc", "memory");
    } else if (pairs > 0) {
        int32_t skip = 4 * (in->paired_words - 2 * pairs); /* bytes from a run's end to the next's */
        int32_t n;
        uint32_t a, b;
        __asm__ volatile( /* two words a step: one double load, one double store */
            "1: mov %[n], %[pairs]\n"
            "2: ldrd %[a], %[b], [%[from]], #8\n"
            "strd %[a], %[b], [%[patch]], #8\n"
            "subs %[n], %[n], #1\n"
            "bne 2b\n"
            "add %[from], %[from], %[skip]\n"
            "subs %[rows], %[rows], #1\n"
            "bne 1b\n"
            : [from] "+r"(from), [patch] "+r"(patch), [rows] "+r"(rows), [n] "=&r"(n), [a] "=&r"(a), [b] "=&r"(b)
            : [pairs] "r"(pairs), [skip] "r"(skip)
            : "cc", "memory");
    }
    if (gemm->row_len & 1) { /* locals: the stores below may alias anything the compiler would reload */
        const uint32_t *column = in->stacked + (size_t)out_y * s->stride_h * in->stacked_words + x + gemm->row_len - 1;
        int32_t step = 2 * in->stacked_words;
        for (int32_t t = (gemm->rows + 1) / 2; t > 0; t--, column += step, patch += 2) {
            uint32_t first = column[0], second = column[1];
            patch[0] = first;
            patch[1] = second;
        }
    }
}

/* The patch of position x (even) alone: the even paired words, then one stacked word per pair of filter rows. */
static void gather_one(uint32_t *patch, const single_channel_image *in, const tfl_arm_gemm *gemm,
    const tfl_arm_conv_shape *s, int32_t out_y, int32_t x) {
    const uint32_t *row = in->paired + (size_t)out_y * s->stride_h * in->paired_words + x;
    for (int32_t r = 0; r < gemm->rows; r++, row += in->paired_words) {
        for (int32_t i = 0; i < gemm->row_len / 2; i++) {
            *patch++ = row[2 * i];
        }
    }
    if (gemm->row_len & 1) {
        const uint32_t *column = in->stacked + (size_t)out_y * s->stride_h * in->stacked_words + x + gemm->row_len - 1;
        for (int32_t r = 0; r < gemm->rows; r += 2, column += 2 * in->stacked_words) {
            *patch++ = column[0];
        }
    }
}

static void conv_single_channel(const tfl_arm_gemm *gemm, const tfl_arm_conv_shape *s, const padded_image *image,
    const int16_t *image16, uint32_t *layouts, uint32_t *patch, int8_t *out) {
    single_channel_image in = {layouts, layouts + image->height * paired_row_words(image), paired_row_words(image),
        image->width};
    pair_rows(layouts, image16, image);
    if (gemm->row_len & 1) {
        stack_rows((uint32_t *)in.stacked, image16, image);
    }
    for (int32_t y = 0; y < s->output_h; y++) {
        int32_t x = 0;
        for (; x + 1 < s->output_w; x += 2) {
            int8_t *out0 = out + ((size_t)y * s->output_w + x) * gemm->channels;
            gather_pair(patch, &in, gemm, s, y, x);
            multiply(gemm, patch, 1, out0, out0 + gemm->channels);
        }
        if (x < s->output_w) { /* an odd last position, alone */
            int8_t *out0 = out + ((size_t)y * s->output_w + x) * gemm->channels;
            gather_one(patch, &in, gemm, s, y, x);
            multiply(gemm, patch, 0, out0, out0);
        }
    }
}

void tfl_arm_conv_eval(const tfl_arm_gemm *gemm, const tfl_arm_conv_shape *shape, const int8_t *input,
    int8_t *output, uint32_t *scratch) {
    padded_image image = padded_size(shape);
    int16_t *image16 = (int16_t *)scratch;
    uint32_t *layouts = scratch + (image_halves(shape) * 2 + 3) / 4; /* single-channel path */
    uint32_t *patch = scratch + image_bytes(shape) / 4;
    int32_t positions = shape->output_h * shape->output_w;
    int32_t row_step = shape->dilation_h * image.width * image.channels;
    for (int32_t b = 0; b < shape->batches; b++) {
        widen_image(image16, &image, shape, input + (size_t)b * shape->input_h * shape->input_w * shape->input_c);
        int8_t *out = output + (size_t)b * positions * gemm->channels;
        if (gemm->layout == TFL_ARM_SINGLE_CHANNEL) {
            conv_single_channel(gemm, shape, &image, image16, layouts, patch, out);
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
            multiply(gemm, patch, two, out + (size_t)p * gemm->channels, out + (size_t)(p + 1) * gemm->channels);
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
