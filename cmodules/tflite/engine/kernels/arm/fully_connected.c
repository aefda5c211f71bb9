/* FULLY_CONNECTED, int8: widen each input row with SXTB16 once (the GROUPS order, arm_int8.h), then per pair of
 * output channels read the int8 weights in place, four at a time, widened in registers the same way: a lone
 * input row has no other position to share a widened weight with, so widening it anywhere else costs more. */
#include "arm_int8.h"

#if defined(TFL_ARM_DSP)

/* The firmware is built for size (-Os); these loops are where the inference spends its time. */
#pragma GCC optimize("O2")

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
        words[1] = tfl_arm_sxtb16_ror8(bytes);
    }
}

/* sum_k x[k] * (w0[k], w1[k]) over the widened row x (GROUPS words) and two channels' int8 weights, from acc. */
static inline __attribute__((always_inline)) void dot_in_place(const uint32_t *x, const int8_t *w0,
    const int8_t *w1, int32_t depth, int32_t acc[2]) {
    int32_t a0 = acc[0], a1 = acc[1], k = 0;
    for (; k + 8 <= depth; k += 8, x += 4) {
        uint32_t u0, u1, v0, v1;
        memcpy(&u0, w0 + k, 4);
        memcpy(&v0, w1 + k, 4);
        memcpy(&u1, w0 + k + 4, 4);
        memcpy(&v1, w1 + k + 4, 4);
        a0 = __smlad(x[0], __sxtb16(u0), a0);
        a1 = __smlad(x[0], __sxtb16(v0), a1);
        a0 = __smlad(x[1], tfl_arm_sxtb16_ror8(u0), a0);
        a1 = __smlad(x[1], tfl_arm_sxtb16_ror8(v0), a1);
        a0 = __smlad(x[2], __sxtb16(u1), a0);
        a1 = __smlad(x[2], __sxtb16(v1), a1);
        a0 = __smlad(x[3], tfl_arm_sxtb16_ror8(u1), a0);
        a1 = __smlad(x[3], tfl_arm_sxtb16_ror8(v1), a1);
    }
    for (; k < depth; k += 4, x += 2) { /* the rest: the row's padding is zero, the weights' tail is cut off */
        uint32_t u = 0, v = 0;
        memcpy(&u, w0 + k, (size_t)(depth - k < 4 ? depth - k : 4));
        memcpy(&v, w1 + k, (size_t)(depth - k < 4 ? depth - k : 4));
        a0 = __smlad(x[0], __sxtb16(u), a0);
        a1 = __smlad(x[0], __sxtb16(v), a1);
        a0 = __smlad(x[1], tfl_arm_sxtb16_ror8(u), a0);
        a1 = __smlad(x[1], tfl_arm_sxtb16_ror8(v), a1);
    }
    acc[0] = a0;
    acc[1] = a1;
}

static int8_t output_of(const tfl_arm_gemm *gemm, int32_t n, int32_t acc) {
    tfl_arm_channel c;
    tfl_arm_channel_init(&c, 0, gemm->multipliers[n], gemm->shifts[n], gemm->output_offset);
    return tfl_arm_output_of(acc, &c, gemm, gemm->fast_requant, 0);
}

static void eval(const tfl_arm_gemm *gemm, int32_t rows, const int8_t *input, int8_t *output, uint32_t *scratch) {
    int32_t depth = gemm->row_len, channels = gemm->channels;
    for (int32_t r = 0; r < rows; r++) {
        int8_t *out = output + (size_t)r * channels;
        widen_row(scratch, input + (size_t)r * depth, depth);
        for (int32_t n = 0; n < channels; n += 2) {
            const int8_t *w0 = gemm->source + (size_t)n * depth;
            int two = n + 1 < channels; /* a lone last channel: its partner's weights are its own */
            int32_t acc[2] = {gemm->bias[n], gemm->bias[two ? n + 1 : n]};
            dot_in_place(scratch, w0, two ? w0 + depth : w0, depth, acc);
            int8_t first = output_of(gemm, n, acc[0]);
            if (two) {
                out[n + 1] = output_of(gemm, n + 1, acc[1]);
            }
            out[n] = first;
        }
    }
}

/* ---- the node: the reference prepare's checks and figures, then the folded biases ---- */

tfl_status tfl_arm_fully_connected_prepare(tfl_context *ctx, tfl_node *node) {
    tfl_status status = tfl_fully_connected_prepare(ctx, node);
    const tfl_tensor *input = tfl_input(ctx, node, 0), *weights = tfl_input(ctx, node, 1);
    if (status != TFL_OK || input->type != TFL_TYPE_INT8) {
        return status;
    }
    tfl_fully_connected_data *data = node->user_data;
    const tfl_tensor *bias = tfl_input(ctx, node, 2);
    tfl_arm_gemm *gemm = tfl_alloc_persistent(ctx, sizeof(tfl_arm_gemm));
    if (gemm == NULL) {
        return tfl_fail(ctx, TFL_ERR_ARENA, "arena too small for FULLY_CONNECTED");
    }
    status = tfl_arm_gemm_prepare(ctx, gemm, TFL_ARM_GROUPS, (const int8_t *)weights->data,
        bias != NULL ? bias->data : NULL, data->units, 1, data->depth, &data->io, data->multipliers, data->shifts);
    if (status != TFL_OK) {
        return status;
    }
    node->scratch_bytes = 4 * (uint32_t)gemm->kpairs; /* one widened input row */
    data->variant = gemm;
    return TFL_OK;
}

tfl_status tfl_arm_fully_connected_eval(tfl_context *ctx, tfl_node *node) {
    const tfl_fully_connected_data *data = node->user_data;
    if (data->variant == NULL) {
        return tfl_fully_connected_eval(ctx, node);
    }
    eval(data->variant, data->batches, (const int8_t *)tfl_input(ctx, node, 0)->data,
        (int8_t *)tfl_output(ctx, node, 0)->data, node->scratch);
    return TFL_OK;
}

#endif /* TFL_ARM_DSP */
