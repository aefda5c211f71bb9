/*
 * The matrix product under the DSP (SMLAD) kernels of int8 CONV_2D and FULLY_CONNECTED; see arm_int8.h for the
 * idea.
 *
 * Layouts, in 32-bit words each holding two int16 values (low half first), a "k-pair" being the two depth
 * indices one SMLAD multiplies:
 * - Conv: k-pairs are (k, k+1) in natural order; each filter row (filter_w * input_c values) is padded to an even
 *   length with zero weights, so that a row of the widened input image is copied into a patch a word at a time.
 * - Groups (FC; conv whose input channels come in fours): depth padded to a multiple of 4; in each group of four
 *   the pairs are (k0, k2) and (k1, k3), what SXTB16 makes of four bytes, so that an input row or a window row
 *   and the int8 weights are widened with two SXTB16s per word and nothing else.
 * - Conv k-pairs are made odd with a zero k-pair at the end (the assembly loop takes one, then groups of two);
 *   groups of four make an even number, which tfl_arm_gemm_2x2_even takes in groups of two alone.
 * - Weights: the model's int8 weights, used in place; eval widens a tile of channels at a time into scratch, for
 *   each pair of output channels a block: head (the biases), for each k-pair channel A's word then channel B's,
 *   tail (requantisation and the assembly loop's next branch); see TFL_ARM_HEAD in arm_int8.h.
 * - Patch (scratch) for two positions: for each k-pair: position 0's word, then position 1's; for one position
 *   the words are consecutive.
 * The inner loops walk both arrays forwards with post-incremented multiple loads.
 */
#include "arm_int8.h"

#if defined(TFL_ARM_DSP)

/* The firmware is built for size (-Os); these loops are where the inference spends its time. */
#pragma GCC optimize("O2")

/* Whether the fast requantisation gives the reference's result for every accumulator of magnitude at most
 * `bound`: SMMULR(acc * 2^left, m) is the reference's rounding doubling high multiply of acc * 2^(left - 1) when
 * the shifted accumulator cannot overflow; the rounding shortcut needs a right shift of at least 1, and folding
 * the output offset into the rounding constant needs offset * 2^right to stay far from overflow. */
static int32_t left_of(int32_t shift) {
    return (shift > 0 ? shift : 0) + 1;
}

static int bound_fits(int64_t bound, int32_t shift) {
    int32_t left = left_of(shift), right = shift > 0 ? 0 : -shift;
    return (bound << left) < ((int64_t)1 << 31) && left <= 8 && right >= 1 && right <= 22;
}

static uint32_t code_address(void (*label)(void)) {
    return (uint32_t)(uintptr_t)label | 1u; /* a Thumb branch target */
}

int tfl_arm_fast_requant_holds(const uint8_t *bias, int32_t n, const int8_t *weights, int32_t count,
    int32_t stride, int32_t input_magnitude, int32_t shift) {
    int64_t bound = bias ? tfl_read_i32(bias + 4 * (size_t)n) : 0;
    bound = bound < 0 ? -bound : bound;
    for (int32_t i = 0; i < count; i++) {
        int32_t w = weights[(size_t)i * stride];
        bound += (int64_t)input_magnitude * (w < 0 ? -w : w);
    }
    return bound_fits(bound, shift);
}

int tfl_arm_fold_bias(int32_t *folded, const uint8_t *bias, int32_t n, const int8_t *weights, int32_t count,
    int32_t stride, int32_t input_offset, int32_t shift) {
    int32_t weight_sum = 0, weight_magnitude = 0;
    for (int32_t i = 0; i < count; i++) {
        int32_t w = weights[(size_t)i * stride];
        weight_sum += w;
        weight_magnitude += w < 0 ? -w : w;
    }
    /* wrapping like the reference's int32 sum (a malformed model may overflow it), without undefined behaviour */
    *folded = (int32_t)((uint32_t)(bias ? tfl_read_i32(bias + 4 * (size_t)n) : 0) +
        (uint32_t)input_offset * (uint32_t)weight_sum);
    /* the folded sum is sum(x * w) over int8 inputs, each at most 128 in magnitude */
    return bound_fits((*folded < 0 ? -(int64_t)*folded : (int64_t)*folded) + 128 * (int64_t)weight_magnitude, shift);
}

void tfl_arm_channel_init(tfl_arm_channel *c, int32_t bias, int32_t multiplier, int32_t shift,
    int32_t output_offset) {
    c->bias = bias;
    c->multiplier = multiplier;
    c->shift = shift;
    c->right_shift = shift > 0 ? 0 : -shift;
    c->left = left_of(shift);
    c->round = (int32_t)(((1u << c->right_shift) >> 1) + ((uint32_t)output_offset << c->right_shift));
}

/* Where logical depth index k (row r, index j in the row) sits: k-pair number and half (0 low, 1 high). */
static void place(const tfl_arm_gemm *gemm, int32_t r, int32_t j, int32_t *pair, int32_t *half) {
    int32_t row_pairs = gemm->row_len / 2;
    if (gemm->layout == TFL_ARM_GROUPS) {
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
    const uint8_t *bias, int32_t channels, int32_t rows, int32_t row_len, const tfl_int8_io *io,
    const int32_t *multiplier, const tfl_shift *shift) {
    int32_t depth = rows * row_len;
    gemm->channels = channels;
    gemm->rows = rows;
    gemm->row_len = row_len;
    gemm->row_len2 = (row_len + 1) & ~1;
    gemm->layout = (uint8_t)layout;
    if (layout == TFL_ARM_GROUPS) { /* even: tfl_arm_gemm_2x2_even */
        gemm->kpairs = ((depth + 3) & ~3) / 2;
    } else if (layout == TFL_ARM_SINGLE_CHANNEL) {
        gemm->kpairs = (rows * (row_len / 2) + (row_len & 1) * (rows + 1) / 2) | 1;
    } else {
        gemm->kpairs = (rows * gemm->row_len2 / 2) | 1;
    }
    gemm->output_offset = io->output_offset;
    gemm->act_min = io->act_min;
    gemm->act_max = io->act_max;
    gemm->block_words = TFL_ARM_HEAD + 2 * (uint32_t)gemm->kpairs + TFL_ARM_TAIL;
    gemm->tile = channels;
    gemm->records = 1;
    gemm->source = weights;
    gemm->multipliers = multiplier;
    gemm->shifts = shift;
    gemm->weights = NULL;
    gemm->channel = NULL;
    gemm->bias = tfl_alloc_persistent(ctx, sizeof(int32_t) * (size_t)channels);
    if (gemm->bias == NULL) {
        return tfl_fail(ctx, TFL_ERR_ARENA, "arena too small for the DSP kernel's biases");
    }
    int fast = 1;
    for (int32_t n = 0; n < channels; n++) {
        fast &= tfl_arm_fold_bias(&gemm->bias[n], bias, n, weights + (size_t)n * depth, depth, 1, io->input_offset,
            shift[n]);
    }
    gemm->fast_requant = (uint8_t)fast;
    int32_t groups = gemm->kpairs / 2; /* k-pairs in twos (an odd number's first goes before them) */
    gemm->assembly = (uint8_t)(fast && io->act_min == -128 && io->act_max == 127 && io->output_offset == -128 &&
        groups <= TFL_ARM_MAX_GROUPS);
    /* widened per inference one by one anyway, these layouts' weights are scaled for free: 4 fewer instructions per
     * channel pair and two positions */
    gemm->scaled = (uint8_t)(fast && layout != TFL_ARM_GROUPS);
    void (*end)(void) = gemm->scaled && groups <= TFL_ARM_SCALED_MAX_GROUPS ? tfl_arm_gemm_2x2_scaled_end :
        tfl_arm_gemm_2x2_groups_end;
    gemm->entry = code_address(end) - 40u * (uint32_t)groups; /* 40 bytes a group */
    return TFL_OK;
}

uint32_t tfl_arm_gemm_tile_bytes(const tfl_arm_gemm *gemm) {
    return (uint32_t)((gemm->records ? sizeof(tfl_arm_channel) * (size_t)gemm->tile : 0) +
        (size_t)(gemm->tile + 1) / 2 * gemm->block_words * 4);
}

/* One group: four bytes of a and of b, their (v0, v2) and (v1, v3) pairs stored a's, b's, a's, b's. */
#define WIDEN_GROUP                     \
    "   ldr r4, [r1], #4\n"             \
    "   ldr r5, [r2], #4\n"             \
    "   sxtb16 r6, r4\n"                \
    "   sxtb16 r7, r5\n"                \
    "   sxtb16 r8, r4, ror #8\n"        \
    "   sxtb16 r9, r5, ror #8\n"        \
    "   stmia r0!, {r6-r9}\n"

/* Two groups from word-aligned a and b: a double load of each, the eight words stored at once. */
#define WIDEN_TWO_GROUPS                \
    "   ldrd r4, r8, [r1], #8\n"        \
    "   ldrd r5, r9, [r2], #8\n"        \
    "   sxtb16 r6, r4, ror #8\n"        \
    "   sxtb16 r4, r4\n"                \
    "   sxtb16 r7, r5, ror #8\n"        \
    "   sxtb16 r5, r5\n"                \
    "   sxtb16 r10, r8, ror #8\n"       \
    "   sxtb16 r8, r8\n"                \
    "   sxtb16 r11, r9, ror #8\n"       \
    "   sxtb16 r9, r9\n"                \
    "   stmia r0!, {r4-r11}\n"

/* tfl_arm_widen_two (arm_int8.h), in assembly so that a whole patch of window rows is one call: per row an odd
 * group first, then two a pass. When a, b and the step are all word-aligned (activations in the arena are; the
 * model's weights may be anywhere), the two groups of each come in one double load; otherwise four bytes at a
 * time (single loads may be unaligned, double ones may not). */
__asm__(
    "   .pushsection .text.tfl_arm_widen_two, \"ax\", %progbits\n"
    "   .syntax unified\n"
    "   .thumb\n"
    "   .p2align 2\n"
    "   .global tfl_arm_widen_two\n"
    "   .type tfl_arm_widen_two, %function\n"
    "   .thumb_func\n"
    "tfl_arm_widen_two:\n"              /* r0 words, r1 a, r2 b, r3 groups, [sp] rows, [sp, #4] step */
    "   push {r4-r11, lr}\n"
    "   sub sp, sp, #4\n"
    "   ldrd lr, r4, [sp, #40]\n"       /* rows, step */
    "   orr r5, r1, r2\n"
    "   orr r5, r5, r4\n"
    "   sub r4, r4, r3, lsl #2\n"       /* from the end of a row to the start of the next */
    "   str r4, [sp]\n"
    "   tst r5, #3\n"
    "   bne 5f\n"
    "1: lsrs r12, r3, #1\n"             /* word-aligned */
    "   bcc 2f\n"
    WIDEN_GROUP
    "2: cmp r12, #0\n"
    "   beq 4f\n"
    "3:\n"
    WIDEN_TWO_GROUPS
    "   subs r12, r12, #1\n"
    "   bne 3b\n"
    "4: ldr r4, [sp]\n"
    "   add r1, r1, r4\n"
    "   add r2, r2, r4\n"
    "   subs lr, lr, #1\n"
    "   bne 1b\n"
    "   add sp, sp, #4\n"
    "   pop {r4-r11, pc}\n"
    "5: lsrs r12, r3, #1\n"             /* any alignment */
    "   bcc 6f\n"
    WIDEN_GROUP
    "6: cmp r12, #0\n"
    "   beq 8f\n"
    "7:\n"
    WIDEN_GROUP
    WIDEN_GROUP
    "   subs r12, r12, #1\n"
    "   bne 7b\n"
    "8: ldr r4, [sp]\n"
    "   add r1, r1, r4\n"
    "   add r2, r2, r4\n"
    "   subs lr, lr, #1\n"
    "   bne 5b\n"
    "   add sp, sp, #4\n"
    "   pop {r4-r11, pc}\n"
    "   .size tfl_arm_widen_two, . - tfl_arm_widen_two\n"
    "   .popsection\n");

/* Two channels' int8 weights (b NULL: a lone channel, zero weights) as GROUPS k-pair words, A's then B's. */
static void widen_groups(uint32_t *words, const int8_t *a, const int8_t *b, int32_t depth) {
    int32_t whole = depth / 4;
    if (whole > 0 && b != NULL) {
        tfl_arm_widen_two(words, a, b, whole, 1, 0);
        words += 4 * whole;
    }
    for (int32_t k = b != NULL ? 4 * whole : 0; k < depth; k += 4, words += 4) { /* zero-padded */
        uint32_t wa = 0, wb = 0;
        memcpy(&wa, a + k, (size_t)(depth - k < 4 ? depth - k : 4));
        if (b != NULL) {
            memcpy(&wb, b + k, (size_t)(depth - k < 4 ? depth - k : 4));
        }
        words[0] = __sxtb16(wa);
        words[1] = __sxtb16(wb);
        words[2] = tfl_arm_sxtb16_ror8(wa);
        words[3] = tfl_arm_sxtb16_ror8(wb);
    }
}

/* What channel n's weights and bias are multiplied by in a tile: 2^left when gemm->scaled (the bounds checked
 * by bound_fits keep the scaled weights within int16 and the accumulator within int32), else 1. */
static int32_t weight_scale(const tfl_arm_gemm *gemm, int32_t n) {
    return gemm->scaled ? (int32_t)1 << left_of(gemm->shifts[n]) : 1;
}

static uint32_t halves(int32_t low, int32_t high) {
    return (uint32_t)(uint16_t)low | (uint32_t)high << 16;
}

/* Two channels' weights (b NULL: a lone channel) times their scales in the SINGLE_CHANNEL layout, k-pair by
 * k-pair in order: each row's run of tap pairs, and after every even row of an odd filter_w its last tap stacked
 * with the next row's. */
static inline __attribute__((always_inline)) uint32_t *single_channel_words(uint32_t *words, const int8_t *a,
    int32_t scale_a, const int8_t *b, int32_t scale_b, int32_t rows, int32_t row_len) {
    int32_t run = row_len & ~1, last = row_len - 1;
    for (int32_t r = 0; r < rows; r++) {
        const int8_t *ra = a + (size_t)r * row_len, *rb = b != NULL ? b + (size_t)r * row_len : NULL;
        for (int32_t j = 0; j < run; j += 2) {
            *words++ = halves(ra[j] * scale_a, ra[j + 1] * scale_a);
            *words++ = rb != NULL ? halves(rb[j] * scale_b, rb[j + 1] * scale_b) : 0;
        }
        if ((row_len & 1) && (r & 1) == 0) {
            int next = r + 1 < rows;
            *words++ = halves(ra[last] * scale_a, next ? ra[row_len + last] * scale_a : 0);
            *words++ = rb != NULL ? halves(rb[last] * scale_b, next ? rb[row_len + last] * scale_b : 0) : 0;
        }
    }
    return words;
}

/* The same, its loops unrolled for a first layer's common 5 columns. */
static uint32_t *widen_single_channel(uint32_t *words, const int8_t *a, int32_t scale_a, const int8_t *b,
    int32_t scale_b, int32_t rows, int32_t row_len) {
    if (row_len == 5) {
        return single_channel_words(words, a, scale_a, b, scale_b, rows, 5);
    }
    return single_channel_words(words, a, scale_a, b, scale_b, rows, row_len);
}

void tfl_arm_gemm_pack(tfl_arm_gemm *gemm, const tfl_arm_gemm *whole, int32_t first, int32_t count, void *scratch) {
    *gemm = *whole;
    gemm->channels = count;
    gemm->channel = gemm->records ? scratch : NULL;
    gemm->weights = (uint32_t *)(void *)((tfl_arm_channel *)scratch + (gemm->records ? gemm->tile : 0));
    int32_t depth = gemm->rows * gemm->row_len, pairs = (count + 1) / 2;
    const int8_t *source = gemm->source + (size_t)first * depth;
    if (gemm->layout == TFL_ARM_ROWS) {
        memset(gemm->weights, 0, (size_t)pairs * gemm->block_words * 4);
    }
    for (int32_t n = 0; n < count; n++) {
        tfl_arm_channel record, *c = gemm->records ? &gemm->channel[n] : &record;
        tfl_arm_channel_init(c, gemm->bias[first + n], gemm->multipliers[first + n], gemm->shifts[first + n],
            gemm->output_offset);
        if (gemm->scaled) { /* the accumulator comes scaled by its weights and bias instead */
            c->bias = (int32_t)((uint32_t)c->bias * (uint32_t)weight_scale(gemm, first + n));
            c->left = 0;
        }
        uint32_t *block = gemm->weights + (size_t)(n / 2) * gemm->block_words;
        block[n & 1] = (uint32_t)c->bias;
        uint32_t *tail = block + TFL_ARM_HEAD + 2 * gemm->kpairs;
        tail[3 * (n & 1)] = (uint32_t)c->multiplier;
        tail[3 * (n & 1) + 1] = (uint32_t)c->round;
        tail[3 * (n & 1) + 2] = (uint32_t)c->right_shift;
        tail[6 + (n & 1)] = (uint32_t)c->left;
        tail[8] = code_address(n / 2 + 1 == count / 2 ? tfl_arm_gemm_2x2_done : gemm->kpairs & 1 ?
            tfl_arm_gemm_2x2_next : tfl_arm_gemm_2x2_next_even);
        if (gemm->layout != TFL_ARM_ROWS) {
            if ((n & 1) == 0) { /* the pair's weights, then zeros up to the end (the zero k-pair, if any) */
                uint32_t *words = block + TFL_ARM_HEAD, *end = words + 2 * gemm->kpairs;
                const int8_t *a = source + (size_t)n * depth, *b = n + 1 < count ? a + depth : NULL;
                if (gemm->layout == TFL_ARM_GROUPS) {
                    widen_groups(words, a, b, depth);
                    words += ((depth + 3) & ~3);
                } else {
                    words = widen_single_channel(words, a, weight_scale(gemm, first + n), b,
                        b != NULL ? weight_scale(gemm, first + n + 1) : 1, gemm->rows, gemm->row_len);
                }
                memset(words, 0, 4 * (size_t)(end - words));
            }
            continue;
        }
        int16_t *channel_words = (int16_t *)(block + TFL_ARM_HEAD) + 2 * (n & 1);
        int32_t scale = weight_scale(gemm, first + n);
        for (int32_t r = 0; r < gemm->rows; r++) {
            for (int32_t j = 0; j < gemm->row_len; j++) {
                int32_t pair, half;
                place(gemm, r, j, &pair, &half);
                channel_words[pair * 4 + half] = (int16_t)(source[(size_t)n * depth + r * gemm->row_len + j] * scale);
            }
        }
    }
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
            int8_t p0c0 = tfl_arm_output_of(acc[0], &c[0], gemm, fast, full_range);
            int8_t p1c0 = tfl_arm_output_of(acc[1], &c[0], gemm, fast, full_range);
            int8_t p0c1 = tfl_arm_output_of(acc[2], &c[1], gemm, fast, full_range);
            int8_t p1c1 = tfl_arm_output_of(acc[3], &c[1], gemm, fast, full_range);
            out0[0] = p0c0;
            out0[1] = p0c1;
            out0[other] = p1c0;
            out0[other + 1] = p1c1;
        } else {
            int32_t acc[2] = {c[0].bias, c[1].bias};
            dot_1x2(x, &w, kpairs, acc);
            int8_t p0c0 = tfl_arm_output_of(acc[0], &c[0], gemm, fast, full_range);
            int8_t p0c1 = tfl_arm_output_of(acc[1], &c[1], gemm, fast, full_range);
            out0[0] = p0c0;
            out0[1] = p0c1;
        }
    }
    if (gemm->channels & 1) { /* its pair's second channel has zero weights */
        if (two) {
            int32_t acc[4] = {c->bias, c->bias, 0, 0};
            dot_2x2(x, &w, kpairs, acc);
            int8_t p0 = tfl_arm_output_of(acc[0], c, gemm, fast, full_range);
            int8_t p1 = tfl_arm_output_of(acc[1], c, gemm, fast, full_range);
            out0[0] = p0;
            out0[other] = p1;
        } else {
            int32_t acc[2] = {c->bias, 0};
            dot_1x2(x, &w, kpairs, acc);
            out0[0] = tfl_arm_output_of(acc[0], c, gemm, fast, full_range);
        }
    }
}

/* The variants of multiply_rows, chosen once per call: one or two positions; fast or exact requantisation;
 * the int8 range as the clamp or another. */
void tfl_arm_gemm_multiply(const tfl_arm_gemm *gemm, const uint32_t *x, int two, int8_t *out0, int8_t *out1) {
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

void tfl_arm_gemm_lone_channel(const tfl_arm_gemm *gemm, const uint32_t *x, int8_t *out0, int8_t *out1) {
    int32_t pairs = gemm->channels / 2;
    const tfl_arm_channel *c = &gemm->channel[2 * pairs];
    const uint32_t *w = gemm->weights + (size_t)pairs * gemm->block_words + TFL_ARM_HEAD;
    int32_t acc[4] = {c->bias, c->bias, 0, 0}; /* its pair's second channel has zero weights */
    dot_2x2(x, &w, gemm->kpairs, acc);
    int8_t p0 = tfl_arm_output_of(acc[0], c, gemm, 1, 1);
    int8_t p1 = tfl_arm_output_of(acc[1], c, gemm, 1, 1);
    out0[2 * pairs] = p0;
    out1[2 * pairs] = p1;
}

#endif /* TFL_ARM_DSP */
