/* FULLY_CONNECTED (and a pointwise CONV_2D, conv.c), int8. A lone input row meets each weight once, so widening
 * weights at run time costs as much as using them; two ways:
 * - weights the converter packed as int16 into the model (host/mpy_mnist/packing.py, layout TFL_PACKED_FC_PAIRS),
 *   checked once in prepare against the model's own weights and read in place: the input row is widened once into
 *   scratch, and per pair of channels an assembly loop feeds each 4-word load of input and of weights to four
 *   SMLADs;
 * - otherwise, with no memory of its own: two output channels at a time, each group of four input values widened
 *   in registers as (x - zero point) pairs in SXTB16's order and each channel's four int8 weights read in place
 *   and widened the same way; the bias is read in place. */
#include "arm_int8.h"

#if defined(TFL_ARM_DSP)

/* The firmware is built for size (-Os); these loops are where the inference spends its time. */
#pragma GCC optimize("O2")

/* Four widened input values x - zero point (in [-255, 255]) as (v0, v2), (v1, v3). */
static inline __attribute__((always_inline)) void widen_input(const int8_t *x, uint32_t offsets, uint32_t *even,
    uint32_t *odd) {
    uint32_t u;
    memcpy(&u, x, 4);
    *even = __sadd16(__sxtb16(u), offsets);
    *odd = __sadd16(tfl_arm_sxtb16_ror8(u), offsets);
}

/* Two channels' sums over the row's whole groups of four, the second channel's weights `depth` bytes after the
 * first's: per group the input widened once to (x - zero point) pairs, each channel's four int8 weights widened in
 * registers (SXTB16, the same order). */
static inline __attribute__((always_inline)) void dot2(const int8_t *x, const int8_t *w, size_t depth,
    uint32_t offsets, int32_t groups, int32_t acc[2]) {
    int32_t a0 = acc[0], a1 = acc[1];
    uint32_t even, odd, u, t;
    __asm__(
        "1: ldr %[u], [%[x]], #4\n"
        "sxtb16 %[even], %[u]\n"
        "sxtb16 %[odd], %[u], ror #8\n"
        "sadd16 %[even], %[even], %[offsets]\n"
        "sadd16 %[odd], %[odd], %[offsets]\n"
        "ldr %[u], [%[w], %[depth]]\n"
        "sxtb16 %[t], %[u]\n"
        "smlad %[a1], %[even], %[t], %[a1]\n"
        "sxtb16 %[t], %[u], ror #8\n"
        "smlad %[a1], %[odd], %[t], %[a1]\n"
        "ldr %[u], [%[w]], #4\n"
        "sxtb16 %[t], %[u]\n"
        "smlad %[a0], %[even], %[t], %[a0]\n"
        "sxtb16 %[t], %[u], ror #8\n"
        "smlad %[a0], %[odd], %[t], %[a0]\n"
        "subs %[n], %[n], #1\n"
        "bne 1b\n"
        : [x] "+r"(x), [w] "+r"(w), [n] "+r"(groups), [a0] "+r"(a0), [a1] "+r"(a1), [even] "=&r"(even),
          [odd] "=&r"(odd), [u] "=&r"(u), [t] "=&r"(t)
        : [depth] "r"(depth), [offsets] "r"(offsets)
        : "cc", "memory");
    acc[0] = a0;
    acc[1] = a1;
}

/* The same for the last, partial group (zero weights past `depth`). */
static void dot2_rest(const int8_t *x, const int8_t *w, size_t depth, uint32_t offsets, size_t rest,
    int32_t acc[2]) {
    int8_t last[4] = {0, 0, 0, 0};
    uint32_t u0 = 0, u1 = 0, u;
    memcpy(last, x, rest);
    memcpy(&u, last, 4);
    memcpy(&u0, w, rest);
    memcpy(&u1, w + depth, rest);
    uint32_t even = __sadd16(__sxtb16(u), offsets), odd = __sadd16(tfl_arm_sxtb16_ror8(u), offsets);
    acc[0] = __smlad(even, __sxtb16(u0), __smlad(odd, tfl_arm_sxtb16_ror8(u0), acc[0]));
    acc[1] = __smlad(even, __sxtb16(u1), __smlad(odd, tfl_arm_sxtb16_ror8(u1), acc[1]));
}

int tfl_arm_rows_fast(const uint8_t *bias, const int8_t *weights, int32_t units, int32_t depth,
    const tfl_shift *shifts) {
    int fast = 1;
    for (int32_t n = 0; n < units; n++) {
        fast &= tfl_arm_fast_requant_holds(bias, n, weights + (size_t)n * depth, depth, 1, 255, shifts[n]);
    }
    return fast;
}

void tfl_arm_rows_eval(const tfl_arm_rows *m, int32_t rows, const int8_t *input, int8_t *output) {
    int32_t depth = m->depth, units = m->units;
    uint32_t offsets = 0x00010001u * (uint16_t)m->io->input_offset;
    size_t whole = (size_t)depth & ~(size_t)3;
    for (int32_t r = 0; r < rows; r++) {
        const int8_t *row = input + (size_t)r * depth;
        int8_t *out = output + (size_t)r * units;
        for (int32_t u = 0; u < units; u += 2) {
            int32_t first = u + 2 <= units ? u : units - 2; /* an odd last unit: the last two, one again */
            const int8_t *w = m->weights + (size_t)first * depth;
            int32_t acc[2];
            for (int j = 0; j < 2; j++) {
                acc[j] = m->bias != NULL ? tfl_read_i32(m->bias + 4 * (size_t)(first + j)) : 0;
            }
            if (whole > 0) {
                dot2(row, w, (size_t)depth, offsets, (int32_t)(whole / 4), acc);
            }
            if (whole < (size_t)depth) {
                dot2_rest(row + whole, w + whole, (size_t)depth, offsets, (size_t)depth - whole, acc);
            }
            for (int j = 0; j < 2; j++) {
                tfl_arm_channel c;
                tfl_arm_channel_init(&c, 0, m->multipliers[first + j], m->shifts[first + j], m->io->output_offset);
                out[first + j] = tfl_arm_output_of(acc[j], &c, m->io, m->fast_requant, 0);
            }
        }
    }
}

/* ---- packed weights (TFL_PACKED_FC_PAIRS): per channel pair the two folded biases, then per group of 8 inputs
 * channel A's four words and channel B's, each word two int16 weights in SXTB16's order ---- */

enum { GROUP = 8, PAIR_HEAD_BYTES = 8, GROUP_BYTES = 2 * GROUP * 2 };

/* The node's data: the in-place kernel's figures, and the packed weights when they check out. */
typedef struct {
    tfl_arm_rows rows;
    const uint8_t *packed; /* word-aligned pair blocks in the model, or NULL: the in-place kernel runs */
    int32_t groups;        /* groups of 8 inputs per channel (the depth rounded up) */
} fc_variant;

/* Per pair of channels (acc[0], acc[1]): the block's two biases plus the widened input row `x` (groups x 4 words)
 * times the block's weights. Registers: r0 the input, r1 the block, r2 the groups left, r3 `acc`, r4-r7 four input
 * words, r8-r11 four weight words, r12/lr the accumulators of channels A and B. */
void tfl_arm_fc_pair(const uint32_t *x, const uint8_t *block, int32_t groups, int32_t acc[2]);

/* Eight inputs of both channels: 11 instructions for 16 MACs. */
#define FC_GROUP                    \
    "   ldmia.w r0!, {r4-r7}\n"     \
    "   ldmia.w r1!, {r8-r11}\n"    \
    "   smlad r12, r4, r8, r12\n"   \
    "   smlad r12, r5, r9, r12\n"   \
    "   smlad r12, r6, r10, r12\n"  \
    "   smlad r12, r7, r11, r12\n"  \
    "   ldmia.w r1!, {r8-r11}\n"    \
    "   smlad lr, r4, r8, lr\n"     \
    "   smlad lr, r5, r9, lr\n"     \
    "   smlad lr, r6, r10, lr\n"    \
    "   smlad lr, r7, r11, lr\n"

__asm__(
    "   .pushsection .text.tfl_arm_fc_pair, \"ax\", %progbits\n"
    "   .syntax unified\n"
    "   .thumb\n"
    "   .p2align 2\n"
    "   .global tfl_arm_fc_pair\n"
    "   .type tfl_arm_fc_pair, %function\n"
    "   .thumb_func\n"
    "tfl_arm_fc_pair:\n"
    "   push {r4-r11, lr}\n"
    "   ldmia r1!, {r12, lr}\n"     /* the biases start the accumulators */
    "   subs r2, r2, #8\n"
    "   blt 2f\n"
    "1:\n" FC_GROUP FC_GROUP FC_GROUP FC_GROUP FC_GROUP FC_GROUP FC_GROUP FC_GROUP
    "   subs r2, r2, #8\n"
    "   bge 1b\n"
    "2: adds r2, r2, #8\n"
    "   beq 4f\n"
    "3:\n" FC_GROUP
    "   subs r2, r2, #1\n"
    "   bne 3b\n"
    "4: stm r3, {r12, lr}\n"
    "   pop {r4-r11, pc}\n"
    "   .size tfl_arm_fc_pair, . - tfl_arm_fc_pair\n"
    "   .popsection\n");

/* Sixteen int8 inputs as eight words of int16 pairs in SXTB16's order, `blocks` times (input at any alignment: one
 * 4-word load when it is word-aligned, else four). */
void tfl_arm_fc_widen(uint32_t *x, const int8_t *input, int32_t blocks);

/* The four words in r3, r10, r11, r12 widened and stored, and the loop back to `label` while blocks remain. */
#define WIDEN_STORE(label)              \
    "   sxtb16 r4, r3\n"                \
    "   sxtb16 r5, r3, ror #8\n"        \
    "   sxtb16 r6, r10\n"               \
    "   sxtb16 r7, r10, ror #8\n"       \
    "   sxtb16 r8, r11\n"               \
    "   sxtb16 r9, r11, ror #8\n"       \
    "   sxtb16 r10, r12\n"              \
    "   sxtb16 r11, r12, ror #8\n"      \
    "   stmia r0!, {r4-r11}\n"          \
    "   subs r2, r2, #1\n"              \
    "   bne " label "\n"

__asm__(
    "   .pushsection .text.tfl_arm_fc_widen, \"ax\", %progbits\n"
    "   .syntax unified\n"
    "   .thumb\n"
    "   .p2align 2\n"
    "   .global tfl_arm_fc_widen\n"
    "   .type tfl_arm_fc_widen, %function\n"
    "   .thumb_func\n"
    "tfl_arm_fc_widen:\n"
    "   push {r4-r11}\n"
    "   tst r1, #3\n"
    "   bne 2f\n"
    "1: ldmia r1!, {r3, r10-r12}\n"
    WIDEN_STORE("1b")
    "   b 3f\n"
    "2: ldr r3, [r1], #4\n"
    "   ldr r10, [r1], #4\n"
    "   ldr r11, [r1], #4\n"
    "   ldr r12, [r1], #4\n"
    WIDEN_STORE("2b")
    "3: pop {r4-r11}\n"
    "   bx lr\n"
    "   .size tfl_arm_fc_widen, . - tfl_arm_fc_widen\n"
    "   .popsection\n");

/* Whether the packed data at p (bytes long) is the layout of these weights, biases and input offset, exactly. */
static int packed_matches(const uint8_t *p, uint32_t bytes, const tfl_arm_rows *m, int32_t groups) {
    static const uint8_t order[GROUP] = {0, 2, 1, 3, 4, 6, 5, 7};
    int32_t pairs = (m->units + 1) / 2;
    uint64_t block_bytes = PAIR_HEAD_BYTES + (uint64_t)groups * GROUP_BYTES;
    if (bytes != (uint64_t)pairs * block_bytes) {
        return 0;
    }
    for (int32_t n = 0; n < 2 * pairs; n++) {
        const uint8_t *block = p + (size_t)(n / 2) * (size_t)block_bytes;
        const uint8_t *channel = block + PAIR_HEAD_BYTES + (size_t)(n & 1) * (GROUP_BYTES / 2);
        const int8_t *w = m->weights + (size_t)n * m->depth;
        int64_t sum = 0;
        for (int32_t g = 0; g < groups; g++) {
            for (int i = 0; i < GROUP; i++) {
                int32_t k = g * GROUP + order[i];
                int16_t value, want = n < m->units && k < m->depth ? w[k] : 0;
                memcpy(&value, channel + (size_t)g * GROUP_BYTES + 2 * (size_t)i, 2);
                if (value != want) {
                    return 0;
                }
                sum += want;
            }
        }
        int64_t bias = n < m->units && m->bias != NULL ? tfl_read_i32(m->bias + 4 * (size_t)n) : 0;
        if (tfl_read_i32(block + 4 * (n & 1)) != bias + m->io->input_offset * sum) {
            return 0;
        }
    }
    return 1;
}

/* The row widened into x (groups x 4 words; past depth, zeros). */
static void widen_row(uint32_t *x, const int8_t *row, int32_t depth, int32_t groups) {
    int32_t blocks = depth / 16, done = blocks * 16;
    if (blocks > 0) {
        tfl_arm_fc_widen(x, row, blocks);
    }
    for (int32_t k = done; k < groups * GROUP; k += 4) {
        uint8_t last[4] = {0, 0, 0, 0};
        uint32_t u;
        if (k < depth) {
            memcpy(last, row + k, depth - k < 4 ? (size_t)(depth - k) : 4);
        }
        memcpy(&u, last, 4);
        x[k / 2] = __sxtb16(u);
        x[k / 2 + 1] = tfl_arm_sxtb16_ror8(u);
    }
}

static void packed_eval(const fc_variant *v, int32_t rows, const int8_t *input, int8_t *output, uint32_t *x) {
    const tfl_arm_rows *m = &v->rows;
    size_t block_bytes = PAIR_HEAD_BYTES + (size_t)v->groups * GROUP_BYTES;
    for (int32_t r = 0; r < rows; r++) {
        widen_row(x, input + (size_t)r * m->depth, m->depth, v->groups);
        int8_t *out = output + (size_t)r * m->units;
        for (int32_t n = 0; n < m->units; n += 2) {
            int32_t acc[2];
            tfl_arm_fc_pair(x, v->packed + (size_t)(n / 2) * block_bytes, v->groups, acc);
            for (int32_t j = 0; j < 2 && n + j < m->units; j++) {
                tfl_arm_channel c;
                tfl_arm_channel_init(&c, 0, m->multipliers[n + j], m->shifts[n + j], m->io->output_offset);
                out[n + j] = tfl_arm_output_of(acc[j], &c, m->io, m->fast_requant, 0);
            }
        }
    }
}

/* ---- the node: the reference prepare's checks and figures, then whether the fast requantisation holds and
 * whether the model's packed weights can be used ---- */

tfl_status tfl_arm_fully_connected_prepare(tfl_context *ctx, tfl_node *node) {
    tfl_status status = tfl_fully_connected_prepare(ctx, node);
    const tfl_tensor *input = tfl_input(ctx, node, 0), *weights = tfl_input(ctx, node, 1);
    tfl_fully_connected_data *data = node->user_data;
    if (status != TFL_OK || input->type != TFL_TYPE_INT8 || data->units < 2) {
        return status; /* a single unit: the reference runs */
    }
    const tfl_tensor *bias = tfl_input(ctx, node, 2);
    fc_variant *v = tfl_alloc_persistent(ctx, sizeof(fc_variant));
    if (v == NULL) {
        return tfl_fail(ctx, TFL_ERR_ARENA, "arena too small for FULLY_CONNECTED");
    }
    tfl_arm_rows *m = &v->rows;
    *m = (tfl_arm_rows){(const int8_t *)weights->data, bias != NULL ? bias->data : NULL, &data->io, data->multipliers,
        data->shifts, data->depth, data->units, 0};
    m->fast_requant = (uint8_t)tfl_arm_rows_fast(m->bias, m->weights, m->units, m->depth, m->shifts);
    v->groups = (data->depth + GROUP - 1) / GROUP;
    uint32_t bytes = 0;
    v->packed = tfl_packed_weights(ctx, node, TFL_PACKED_FC_PAIRS, &bytes);
    if (v->packed != NULL && (((uintptr_t)v->packed & 3) != 0 || !packed_matches(v->packed, bytes, m, v->groups))) {
        v->packed = NULL; /* misaligned for LDM (the model's own address), or not these weights: in place */
    }
    node->scratch_bytes = v->packed != NULL ? (uint32_t)v->groups * GROUP * 2 : 0; /* the widened input row */
    data->variant = v;
    return TFL_OK;
}

tfl_status tfl_arm_fully_connected_eval(tfl_context *ctx, tfl_node *node) {
    const tfl_fully_connected_data *data = node->user_data;
    const fc_variant *v = data->variant;
    if (v == NULL) {
        return tfl_fully_connected_eval(ctx, node);
    }
    const int8_t *input = (const int8_t *)tfl_input(ctx, node, 0)->data;
    int8_t *output = (int8_t *)tfl_output(ctx, node, 0)->data;
    if (v->packed != NULL) {
        packed_eval(v, data->batches, input, output, node->scratch);
    } else {
        tfl_arm_rows_eval(&v->rows, data->batches, input, output);
    }
    return TFL_OK;
}

#endif /* TFL_ARM_DSP */
