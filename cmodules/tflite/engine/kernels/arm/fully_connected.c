/* FULLY_CONNECTED, int8, with the DSP matrix product (gemm.c): widen each input row with SXTB16 (the weights are
 * in its order). */
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

static void eval(const tfl_arm_gemm *gemm, int32_t rows, const int8_t *input, int8_t *output, uint32_t *scratch) {
    for (int32_t r = 0; r < rows; r++) {
        int8_t *out = output + (size_t)r * gemm->channels;
        widen_row(scratch, input + (size_t)r * gemm->row_len, gemm->row_len);
        tfl_arm_gemm_multiply(gemm, scratch, 0, out, out);
    }
}

/* ---- the node: the reference prepare's checks and figures, then the packed weights ---- */

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
    status = tfl_arm_gemm_prepare(ctx, gemm, TFL_ARM_FULLY_CONNECTED, (const int8_t *)weights->data,
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
