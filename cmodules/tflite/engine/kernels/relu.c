/* Standalone RELU and RELU6 (the converter fuses them into the op before when it can). int8: RELU rescales to
 * the output's scale and zero point, then clamps; RELU6 clamps in the input's own quantisation, which the
 * output shares. float32: max(x, 0), and min(that, 6). */
#include "common.h"

typedef struct {
    int32_t count;
    int32_t input_zero_point, output_zero_point, multiplier, shift;
    int32_t act_min, act_max;
} relu_data;

static int32_t quantize_rounded(float value, float scale, int32_t zero_point) {
    return zero_point + tfl_round_half_away_f32(value / scale);
}

static tfl_status prepare(tfl_context *ctx, tfl_node *node, int relu6) {
    const tfl_tensor *input = tfl_input(ctx, node, 0);
    const tfl_tensor *output = tfl_output(ctx, node, 0);
    if (input == NULL || output == NULL || tfl_element_count(input) != tfl_element_count(output)) {
        return tfl_fail(ctx, TFL_ERR_BAD_MODEL, relu6 ? "RELU6: missing or mismatched input and output"
                                                      : "RELU: missing or mismatched input and output");
    }
    if ((input->type != TFL_TYPE_INT8 && input->type != TFL_TYPE_FLOAT32) || output->type != input->type) {
        return tfl_fail(ctx, TFL_ERR_UNSUPPORTED, relu6 ? "RELU6: types not supported; supported: int8, float32"
                                                        : "RELU: types not supported; supported: int8, float32");
    }
    relu_data *data = tfl_alloc_persistent(ctx, sizeof(relu_data));
    if (data == NULL) {
        return tfl_fail(ctx, TFL_ERR_ARENA, "arena too small for RELU");
    }
    node->user_data = data;
    data->count = tfl_element_count(input);
    if (input->type == TFL_TYPE_FLOAT32) {
        return TFL_OK;
    }
    data->input_zero_point = input->zero_point;
    data->output_zero_point = output->zero_point;
    if (relu6) {
        data->act_min = input->zero_point;
        data->act_max = tfl_clamp_i32(quantize_rounded(6.0f, input->scale, input->zero_point), -128, 127);
        return TFL_OK;
    }
    int shift;
    tfl_quantize_multiplier((double)input->scale / (double)output->scale, &data->multiplier, &shift);
    data->shift = shift;
    data->act_min = tfl_clamp_i32(quantize_rounded(0.0f, output->scale, output->zero_point), -128, 127);
    data->act_max = 127;
    return TFL_OK;
}

tfl_status tfl_relu_prepare(tfl_context *ctx, tfl_node *node) {
    return prepare(ctx, node, 0);
}

tfl_status tfl_relu6_prepare(tfl_context *ctx, tfl_node *node) {
    return prepare(ctx, node, 1);
}

tfl_status tfl_relu_eval(tfl_context *ctx, tfl_node *node) {
    const relu_data *d = node->user_data;
    const tfl_tensor *input = tfl_input(ctx, node, 0);
    tfl_tensor *output = tfl_output(ctx, node, 0);
    if (input->type == TFL_TYPE_INT8) {
        const int8_t *in = (const int8_t *)input->data;
        int8_t *out = (int8_t *)output->data;
        for (int32_t i = 0; i < d->count; i++) {
            int32_t v = tfl_wrapping_add(d->output_zero_point,
                tfl_multiply_by_quantized_multiplier(in[i] - d->input_zero_point, d->multiplier, d->shift));
            out[i] = (int8_t)tfl_clamp_i32(v, d->act_min, d->act_max);
        }
    } else {
        const float *in = (const float *)input->data;
        float *out = (float *)output->data;
        for (int32_t i = 0; i < d->count; i++) {
            out[i] = in[i] > 0.0f ? in[i] : 0.0f;
        }
    }
    return TFL_OK;
}

tfl_status tfl_relu6_eval(tfl_context *ctx, tfl_node *node) {
    const relu_data *d = node->user_data;
    const tfl_tensor *input = tfl_input(ctx, node, 0);
    tfl_tensor *output = tfl_output(ctx, node, 0);
    if (input->type == TFL_TYPE_INT8) {
        const int8_t *in = (const int8_t *)input->data;
        int8_t *out = (int8_t *)output->data;
        for (int32_t i = 0; i < d->count; i++) {
            out[i] = (int8_t)tfl_clamp_i32(in[i], d->act_min, d->act_max);
        }
    } else {
        const float *in = (const float *)input->data;
        float *out = (float *)output->data;
        for (int32_t i = 0; i < d->count; i++) {
            out[i] = tfl_clamp_f32(in[i], 0.0f, 6.0f);
        }
    }
    return TFL_OK;
}
