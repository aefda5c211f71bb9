/* QUANTIZE (float32 -> int8, and int8 -> int8 rescaling) and DEQUANTIZE (int8 -> float32), per tensor. */
#include "common.h"

typedef struct {
    int32_t count;
    float scale;            /* QUANTIZE float: output scale; DEQUANTIZE: input scale */
    int32_t zero_point;     /* QUANTIZE float: output zero point; DEQUANTIZE: input zero point */
    int32_t input_zero_point, output_zero_point, multiplier, shift; /* int8 -> int8 */
} quantize_data;

tfl_status tfl_quantize_prepare(tfl_context *ctx, tfl_node *node) {
    const tfl_tensor *input = tfl_input(ctx, node, 0);
    const tfl_tensor *output = tfl_output(ctx, node, 0);
    if (input == NULL || output == NULL || tfl_element_count(input) != tfl_element_count(output)) {
        return tfl_fail(ctx, TFL_ERR_BAD_MODEL, "QUANTIZE: missing or mismatched input and output");
    }
    if ((input->type != TFL_TYPE_FLOAT32 && input->type != TFL_TYPE_INT8) || output->type != TFL_TYPE_INT8) {
        return tfl_fail(ctx, TFL_ERR_UNSUPPORTED,
            "QUANTIZE: types not supported; supported: float32 -> int8, int8 -> int8");
    }
    if (output->quant.count != 1 || (input->type == TFL_TYPE_INT8 && input->quant.count != 1)) {
        return tfl_fail(ctx, TFL_ERR_UNSUPPORTED, "QUANTIZE: only per-tensor quantisation is supported");
    }
    quantize_data *data = tfl_alloc_persistent(ctx, sizeof(quantize_data));
    if (data == NULL) {
        return tfl_fail(ctx, TFL_ERR_ARENA, "arena too small for QUANTIZE");
    }
    node->user_data = data;
    data->count = tfl_element_count(input);
    data->scale = output->scale;
    data->zero_point = output->zero_point;
    if (input->type == TFL_TYPE_INT8) {
        int shift;
        tfl_quantize_multiplier((double)input->scale / (double)output->scale, &data->multiplier, &shift);
        data->shift = shift;
        data->input_zero_point = input->zero_point;
        data->output_zero_point = output->zero_point;
    }
    return TFL_OK;
}

tfl_status tfl_quantize_eval(tfl_context *ctx, tfl_node *node) {
    const quantize_data *data = node->user_data;
    const tfl_tensor *input = tfl_input(ctx, node, 0);
    int8_t *out = (int8_t *)tfl_output(ctx, node, 0)->data;
    if (input->type == TFL_TYPE_FLOAT32) {
        const float *in = (const float *)input->data;
        for (int32_t i = 0; i < data->count; i++) {
            int32_t q = tfl_round_half_away_f32(in[i] / data->scale) + data->zero_point; /* float division, as TFLM */
            out[i] = (int8_t)tfl_clamp_i32(q, -128, 127);
        }
    } else {
        const int8_t *in = (const int8_t *)input->data;
        for (int32_t i = 0; i < data->count; i++) {
            int32_t q = tfl_wrapping_add(tfl_multiply_by_quantized_multiplier(in[i] - data->input_zero_point,
                data->multiplier, data->shift), data->output_zero_point);
            out[i] = (int8_t)tfl_clamp_i32(q, -128, 127);
        }
    }
    return TFL_OK;
}

tfl_status tfl_dequantize_prepare(tfl_context *ctx, tfl_node *node) {
    const tfl_tensor *input = tfl_input(ctx, node, 0);
    const tfl_tensor *output = tfl_output(ctx, node, 0);
    if (input == NULL || output == NULL || tfl_element_count(input) != tfl_element_count(output)) {
        return tfl_fail(ctx, TFL_ERR_BAD_MODEL, "DEQUANTIZE: missing or mismatched input and output");
    }
    if (input->type != TFL_TYPE_INT8 || output->type != TFL_TYPE_FLOAT32) {
        return tfl_fail(ctx, TFL_ERR_UNSUPPORTED, "DEQUANTIZE: types not supported; supported: int8 -> float32");
    }
    if (input->quant.count != 1) {
        return tfl_fail(ctx, TFL_ERR_UNSUPPORTED, "DEQUANTIZE: only per-tensor quantisation is supported");
    }
    quantize_data *data = tfl_alloc_persistent(ctx, sizeof(quantize_data));
    if (data == NULL) {
        return tfl_fail(ctx, TFL_ERR_ARENA, "arena too small for DEQUANTIZE");
    }
    node->user_data = data;
    data->count = tfl_element_count(input);
    data->scale = input->scale;
    data->zero_point = input->zero_point;
    return TFL_OK;
}

tfl_status tfl_dequantize_eval(tfl_context *ctx, tfl_node *node) {
    const quantize_data *data = node->user_data;
    const int8_t *in = (const int8_t *)tfl_input(ctx, node, 0)->data;
    float *out = (float *)tfl_output(ctx, node, 0)->data;
    for (int32_t i = 0; i < data->count; i++) {
        /* exact integer difference times the scale: one rounding, as in the reference's double product */
        out[i] = data->scale * (float)(in[i] - data->zero_point);
    }
    return TFL_OK;
}
