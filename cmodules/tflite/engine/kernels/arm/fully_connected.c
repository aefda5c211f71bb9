/* FULLY_CONNECTED (and a pointwise CONV_2D, conv.c), int8, with no memory of its own: two output channels at a time, each group of four input
 * values widened in registers as (x - zero point) pairs in SXTB16's order and each channel's four int8 weights
 * read in place and widened the same way; the bias is read in place. A lone input row has no other position to
 * share a widened weight with, so widening the weights anywhere else would only cost memory. */
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

/* ---- the node: the reference prepare's checks and figures, then whether the fast requantisation holds ---- */

tfl_status tfl_arm_fully_connected_prepare(tfl_context *ctx, tfl_node *node) {
    tfl_status status = tfl_fully_connected_prepare(ctx, node);
    const tfl_tensor *input = tfl_input(ctx, node, 0), *weights = tfl_input(ctx, node, 1);
    tfl_fully_connected_data *data = node->user_data;
    if (status != TFL_OK || input->type != TFL_TYPE_INT8 || data->units < 2) {
        return status; /* a single unit: the reference runs */
    }
    const tfl_tensor *bias = tfl_input(ctx, node, 2);
    tfl_arm_rows *m = tfl_alloc_persistent(ctx, sizeof(tfl_arm_rows));
    if (m == NULL) {
        return tfl_fail(ctx, TFL_ERR_ARENA, "arena too small for FULLY_CONNECTED");
    }
    *m = (tfl_arm_rows){(const int8_t *)weights->data, bias != NULL ? bias->data : NULL, &data->io, data->multipliers,
        data->shifts, data->depth, data->units, 0};
    m->fast_requant = (uint8_t)tfl_arm_rows_fast(m->bias, m->weights, m->units, m->depth, m->shifts);
    node->scratch_bytes = 0; /* the input is widened in registers */
    data->variant = m;
    return TFL_OK;
}

tfl_status tfl_arm_fully_connected_eval(tfl_context *ctx, tfl_node *node) {
    const tfl_fully_connected_data *data = node->user_data;
    if (data->variant == NULL) {
        return tfl_fully_connected_eval(ctx, node);
    }
    tfl_arm_rows_eval(data->variant, data->batches, (const int8_t *)tfl_input(ctx, node, 0)->data,
        (int8_t *)tfl_output(ctx, node, 0)->data);
    return TFL_OK;
}

#endif /* TFL_ARM_DSP */
