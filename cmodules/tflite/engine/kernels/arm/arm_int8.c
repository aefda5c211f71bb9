/*
 * DSP (SMLAD) matrix-product kernels for int8 CONV_2D and FULLY_CONNECTED; see arm_int8.h for the idea.
 *
 * Layouts, in 32-bit words each holding two int16 values (low half first):
 * - Depth runs in groups of 4. Inside a group the values sit in the order SXTB16 produces from four bytes,
 *   k0 k2 | k1 k3, so widening four input bytes takes two SXTB16s and no repacking; weights use the same order,
 *   so every SMLAD multiplies matching k.
 * - Weights: for each pair of output channels and each group: channel A's two words, then channel B's.
 * - Inputs (scratch): for each group: position 0's two words, then position 1's.
 * So the inner loop walks both arrays forwards with post-incremented double-word loads.
 */
#include "arm_int8.h"

#if defined(__ARM_FEATURE_DSP)

#include <arm_acle.h>

#include "../../quant.h"

/* The position of depth index k inside its group (swap the two low bits: 0 2 1 3). */
static inline int32_t slot_of(int32_t k) {
    return (k & ~3) | ((k & 1) << 1) | ((k >> 1) & 1);
}

/* round(a * b / 2^32), halves upwards: the reference's doubling high multiply of a/2 and b. */
static inline int32_t smmulr(int32_t a, int32_t b) {
    int32_t result;
    __asm__("smmulr %0, %1, %2" : "=r"(result) : "r"(a), "r"(b));
    return result;
}

static inline uint32_t ror8(uint32_t x) {
    return (x >> 8) | (x << 24);
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
    int64_t bound = ((int64_t)absolute(bias) + 128 * (int64_t)weight_magnitude) << left;
    return bound < ((int64_t)1 << 31) && left <= 8 && right >= 1 && right <= 22;
}

tfl_status tfl_arm_gemm_prepare(tfl_context *ctx, tfl_arm_gemm *gemm, const int8_t *weights, const uint8_t *bias,
    int32_t channels, int32_t depth, int32_t input_offset, const int32_t *multiplier, const int32_t *shift,
    int per_channel, int32_t output_offset, int32_t act_min, int32_t act_max) {
    int32_t depth4 = (depth + 3) & ~3;
    size_t packed_bytes = (size_t)(channels + 1) / 2 * 2 * depth4 * sizeof(int16_t);
    gemm->channels = channels;
    gemm->depth = depth;
    gemm->depth4 = depth4;
    gemm->output_offset = output_offset;
    gemm->act_min = act_min;
    gemm->act_max = act_max;
    gemm->weights = tfl_alloc_persistent(ctx, packed_bytes);
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
        tfl_arm_channel *c = &gemm->channel[n];
        int32_t i = per_channel ? n : 0;
        c->bias = (bias ? tfl_read_i32(bias + 4 * (size_t)n) : 0) + input_offset * sum;
        c->multiplier = multiplier[i];
        c->shift = shift[i];
        c->right_shift = shift[i] > 0 ? 0 : -shift[i];
        fast &= fast_requant_holds(c->bias, magnitude, (shift[i] > 0 ? shift[i] : 0) + 1, c->right_shift);
    }
    gemm->fast_requant = (uint8_t)fast;
    int16_t *packed = (int16_t *)gemm->weights;
    memset(packed, 0, packed_bytes);
    for (int32_t n = 0; n < channels; n++) {
        tfl_arm_channel *c = &gemm->channel[n];
        int32_t scale = 1;
        if (fast) { /* pre-scale by 2^left; fold the output offset into the rounding constant */
            scale = 1 << ((c->shift > 0 ? c->shift : 0) + 1);
            c->bias *= scale;
            c->round = (int32_t)(((1u << c->right_shift) >> 1) + ((uint32_t)output_offset << c->right_shift));
        }
        const int8_t *row = weights + (size_t)n * depth;
        int16_t *destination = packed + (size_t)(n / 2) * 2 * depth4 + (n & 1) * 4;
        for (int32_t k = 0; k < depth; k++) {
            int32_t slot = slot_of(k);
            destination[(slot & ~3) * 2 + (slot & 3)] = (int16_t)(row[k] * scale);
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
static inline int8_t output_of(int32_t acc, const tfl_arm_channel *c, const tfl_arm_gemm *gemm, int fast,
    int full_range) {
    int32_t x;
    if (fast) {
        x = requantize_fast(acc, c->multiplier, c->round, c->right_shift);
    } else {
        x = tfl_multiply_by_quantized_multiplier(acc, c->multiplier, c->shift) + gemm->output_offset;
    }
    if (full_range) {
        return (int8_t)__ssat(x, 8);
    }
    x = x < gemm->act_min ? gemm->act_min : x;
    return (int8_t)(x > gemm->act_max ? gemm->act_max : x);
}

/* The inner loops, in assembly so that each group of four depth values costs exactly its loads and SMLADs:
 * four input words in one LDM (fixed ascending registers), weights in double-word loads, two groups per loop
 * pass (one alone first when the count is odd). */
#define GROUP_2X2                                                  \
    "ldmia %[x]!, {%[x0a], %[x0b], %[x1a], %[x1b]}\n"             \
    "ldrd %[wa], %[wb], [%[w]], #16\n"                            \
    "smlad %[p0c0], %[x0a], %[wa], %[p0c0]\n"                     \
    "smlad %[p0c0], %[x0b], %[wb], %[p0c0]\n"                     \
    "smlad %[p1c0], %[x1a], %[wa], %[p1c0]\n"                     \
    "smlad %[p1c0], %[x1b], %[wb], %[p1c0]\n"                     \
    "ldrd %[wa], %[wb], [%[w], #-8]\n"                            \
    "smlad %[p0c1], %[x0a], %[wa], %[p0c1]\n"                     \
    "smlad %[p0c1], %[x0b], %[wb], %[p0c1]\n"                     \
    "smlad %[p1c1], %[x1a], %[wa], %[p1c1]\n"                     \
    "smlad %[p1c1], %[x1b], %[wb], %[p1c1]\n"

/* Two positions x two channels over `groups` groups of depth. acc: p0c0, p1c0, p0c1, p1c1. */
static inline __attribute__((always_inline)) void dot_2x2(const uint32_t *x, const uint32_t *w, int32_t groups,
    int32_t acc[4]) {
    register uint32_t x0a __asm__("r4"), x0b __asm__("r5"), x1a __asm__("r6"), x1b __asm__("r8");
    uint32_t wa, wb;
    int32_t p0c0 = acc[0], p1c0 = acc[1], p0c1 = acc[2], p1c1 = acc[3];
    __asm__ volatile(
        "lsrs %[n], %[n], #1\n"
        "bcc 1f\n"
        GROUP_2X2
        "1: cmp %[n], #0\n"
        "beq 3f\n"
        "2:\n"
        GROUP_2X2
        GROUP_2X2
        "subs %[n], %[n], #1\n"
        "bne 2b\n"
        "3:\n"
        : [x] "+r"(x), [w] "+r"(w), [n] "+r"(groups), [p0c0] "+r"(p0c0), [p1c0] "+r"(p1c0), [p0c1] "+r"(p0c1),
          [p1c1] "+r"(p1c1), [x0a] "=&r"(x0a), [x0b] "=&r"(x0b), [x1a] "=&r"(x1a), [x1b] "=&r"(x1b),
          [wa] "=&r"(wa), [wb] "=&r"(wb)
        : "m"(*(const uint32_t(*)[])x), "m"(*(const uint32_t(*)[])w)
        : "cc");
    acc[0] = p0c0;
    acc[1] = p1c0;
    acc[2] = p0c1;
    acc[3] = p1c1;
}

#define GROUP_1X2                                                  \
    "ldrd %[xa], %[xb], [%[x]], #16\n"                            \
    "ldmia %[w]!, {%[w0a], %[w0b], %[w1a], %[w1b]}\n"             \
    "smlad %[c0], %[xa], %[w0a], %[c0]\n"                         \
    "smlad %[c0], %[xb], %[w0b], %[c0]\n"                         \
    "smlad %[c1], %[xa], %[w1a], %[c1]\n"                         \
    "smlad %[c1], %[xb], %[w1b], %[c1]\n"

/* One position x two channels. acc: c0, c1. The input words of position 1 are skipped (stride 16). */
static inline __attribute__((always_inline)) void dot_1x2(const uint32_t *x, const uint32_t *w, int32_t groups,
    int32_t acc[2]) {
    register uint32_t w0a __asm__("r4"), w0b __asm__("r5"), w1a __asm__("r6"), w1b __asm__("r8");
    uint32_t xa, xb;
    int32_t c0 = acc[0], c1 = acc[1];
    __asm__ volatile(
        "lsrs %[n], %[n], #1\n"
        "bcc 1f\n"
        GROUP_1X2
        "1: cmp %[n], #0\n"
        "beq 3f\n"
        "2:\n"
        GROUP_1X2
        GROUP_1X2
        "subs %[n], %[n], #1\n"
        "bne 2b\n"
        "3:\n"
        : [x] "+r"(x), [w] "+r"(w), [n] "+r"(groups), [c0] "+r"(c0), [c1] "+r"(c1), [w0a] "=&r"(w0a),
          [w0b] "=&r"(w0b), [w1a] "=&r"(w1a), [w1b] "=&r"(w1b), [xa] "=&r"(xa), [xb] "=&r"(xb)
        : "m"(*(const uint32_t(*)[])x), "m"(*(const uint32_t(*)[])w)
        : "cc");
    acc[0] = c0;
    acc[1] = c1;
}

/* Multiply the widened positions in `x` (one or two) by every channel pair and write requantised outputs;
 * out0/out1 are the positions' output rows (out1 unused for one position). The outputs are computed into
 * locals before any store: an int8 store may alias anything, and would make the compiler reload the channel. */
static inline __attribute__((always_inline)) void multiply_rows(const tfl_arm_gemm *gemm, const uint32_t *x, int two,
    int8_t *out0, int8_t *out1, int fast, int full_range) {
    int32_t groups = gemm->depth4 / 4;
    const uint32_t *w = gemm->weights;
    const tfl_arm_channel *c0 = gemm->channel, *end = c0 + gemm->channels;
    for (; c0 < end; c0 += 2, w += 4 * groups, out0 += 2, out1 += 2) {
        int odd = c0 + 1 == end;
        const tfl_arm_channel *c1 = odd ? c0 : c0 + 1;
        if (two) {
            int32_t acc[4] = {c0->bias, c0->bias, c1->bias, c1->bias};
            dot_2x2(x, w, groups, acc);
            int8_t p0c0 = output_of(acc[0], c0, gemm, fast, full_range);
            int8_t p1c0 = output_of(acc[1], c0, gemm, fast, full_range);
            int8_t p0c1 = output_of(acc[2], c1, gemm, fast, full_range);
            int8_t p1c1 = output_of(acc[3], c1, gemm, fast, full_range);
            out0[0] = p0c0;
            out1[0] = p1c0;
            if (!odd) {
                out0[1] = p0c1;
                out1[1] = p1c1;
            }
        } else {
            int32_t acc[2] = {c0->bias, c1->bias};
            dot_1x2(x, w, groups, acc);
            int8_t p0c0 = output_of(acc[0], c0, gemm, fast, full_range);
            int8_t p0c1 = output_of(acc[1], c1, gemm, fast, full_range);
            out0[0] = p0c0;
            if (!odd) {
                out0[1] = p0c1;
            }
        }
    }
}

static void multiply(const tfl_arm_gemm *gemm, const uint32_t *x, int two, int8_t *out0, int8_t *out1) {
    int full_range = gemm->act_min == -128 && gemm->act_max == 127;
    if (gemm->fast_requant && full_range) {
        multiply_rows(gemm, x, two, out0, out1, 1, 1);
    } else if (gemm->fast_requant) {
        multiply_rows(gemm, x, two, out0, out1, 1, 0);
    } else {
        multiply_rows(gemm, x, two, out0, out1, 0, 0);
    }
}

/* Copy `count` bytes; short runs (a filter row is often 3 or 5 bytes) cost less inline than a memcpy call. */
static inline void copy_bytes(int8_t *destination, const int8_t *source, int32_t count) {
    for (; count >= 4; count -= 4, source += 4, destination += 4) {
        uint32_t word;
        memcpy(&word, source, 4);
        memcpy(destination, &word, 4);
    }
    for (; count > 0; count--) {
        *destination++ = *source++;
    }
}

/* Widen a row of int8 values (a multiple of 4 long, any alignment) into position `position` of the scratch. */
static void widen(uint32_t *scratch, int position, const int8_t *row, int32_t depth4) {
    uint32_t *group = scratch + position * 2;
    for (int32_t k = 0; k < depth4; k += 4, group += 4) {
        uint32_t bytes;
        memcpy(&bytes, row + k, 4);
        group[0] = __sxtb16(bytes);
        group[1] = __sxtb16(ror8(bytes));
    }
}

/* im2col for one output position into `patch` (int8, depth long): the filter's window over the input, the
 * input zero point where it falls outside. A filter row that lies inside the image is one contiguous run. */
static void gather_patch(int8_t *patch, const tfl_arm_conv_shape *s, const int8_t *image, int32_t out_y,
    int32_t out_x) {
    int32_t row_bytes = s->filter_w * s->input_c;
    int32_t in_x0 = out_x * s->stride_w - s->pad_left;
    int row_inside = s->dilation_w == 1 && in_x0 >= 0 && in_x0 + s->filter_w <= s->input_w;
    for (int32_t fy = 0; fy < s->filter_h; fy++, patch += row_bytes) {
        int32_t in_y = out_y * s->stride_h - s->pad_top + fy * s->dilation_h;
        if (in_y < 0 || in_y >= s->input_h) {
            memset(patch, s->input_zero_point, (size_t)row_bytes);
            continue;
        }
        const int8_t *line = image + (size_t)in_y * s->input_w * s->input_c;
        if (row_inside) {
            copy_bytes(patch, line + (size_t)in_x0 * s->input_c, row_bytes);
            continue;
        }
        for (int32_t fx = 0; fx < s->filter_w; fx++) {
            int32_t in_x = in_x0 + fx * s->dilation_w;
            if (in_x < 0 || in_x >= s->input_w) {
                memset(patch + fx * s->input_c, s->input_zero_point, (size_t)s->input_c);
            } else {
                copy_bytes(patch + fx * s->input_c, line + (size_t)in_x * s->input_c, s->input_c);
            }
        }
    }
}

/* The scratch: two widened positions (4 * depth4 bytes), then one int8 patch (depth4 bytes, tail zero). */
static int8_t *patch_of(const tfl_arm_gemm *gemm, uint32_t *scratch) {
    int8_t *patch = (int8_t *)(scratch + gemm->depth4);
    memset(patch + gemm->depth, 0, (size_t)(gemm->depth4 - gemm->depth));
    return patch;
}

void tfl_arm_conv_eval(const tfl_arm_gemm *gemm, const tfl_arm_conv_shape *shape, const int8_t *input,
    int8_t *output, uint32_t *scratch) {
    int8_t *patch = patch_of(gemm, scratch);
    int32_t positions = shape->output_h * shape->output_w;
    for (int32_t b = 0; b < shape->batches; b++) {
        const int8_t *image = input + (size_t)b * shape->input_h * shape->input_w * shape->input_c;
        int8_t *out = output + (size_t)b * positions * gemm->channels;
        for (int32_t p = 0; p < positions; p += 2) {
            int two = p + 1 < positions;
            gather_patch(patch, shape, image, p / shape->output_w, p % shape->output_w);
            widen(scratch, 0, patch, gemm->depth4);
            if (two) {
                gather_patch(patch, shape, image, (p + 1) / shape->output_w, (p + 1) % shape->output_w);
                widen(scratch, 1, patch, gemm->depth4);
            }
            multiply(gemm, scratch, two, out + (size_t)p * gemm->channels, out + (size_t)(p + 1) * gemm->channels);
        }
    }
}

void tfl_arm_fully_connected_eval(const tfl_arm_gemm *gemm, int32_t rows, const int8_t *input, int8_t *output,
    uint32_t *scratch) {
    int8_t *patch = patch_of(gemm, scratch);
    int32_t whole = gemm->depth & ~3; /* widened straight from the input; the rest through the zero-padded patch */
    for (int32_t r = 0; r < rows; r++) {
        const int8_t *row = input + (size_t)r * gemm->depth;
        widen(scratch, r & 1, row, whole);
        copy_bytes(patch, row + whole, gemm->depth - whole);
        widen(scratch + whole, r & 1, patch, gemm->depth4 - whole);
        if ((r & 1) || r + 1 == rows) {
            int two = r & 1;
            int32_t first = r - two;
            multiply(gemm, scratch, two, output + (size_t)first * gemm->channels,
                output + (size_t)r * gemm->channels);
        }
    }
}

#endif /* __ARM_FEATURE_DSP */
