/* SOFTMAX (over the last dimension) and LOGISTIC. int8 in and out, with the output fixed at scale 1/256 and
 * zero point -128, computed in gemmlowp-style fixed point; float32 with tfl_reference_expf (quant.h). */
#include "common.h"

/* Integer bits of the scaled input differences of int8 softmax, of its sum of exponentials, and of the
 * rescaled input of int8 logistic. */
#define SOFTMAX_DIFF_INTEGER_BITS 5
#define SOFTMAX_SUM_INTEGER_BITS 12
#define LOGISTIC_INPUT_INTEGER_BITS 4

typedef struct {
    int32_t rows, depth;
    int32_t input_multiplier, input_left_shift;
    int32_t diff_min;        /* softmax: differences below it give exp = 0 */
    int32_t input_zero_point; /* logistic */
    int32_t input_radius;     /* logistic: |input| at or beyond it saturates */
    float beta;
} activation_data;

static tfl_status check_int8_output(tfl_context *ctx, const tfl_tensor *output, const char *message) {
    if (output->zero_point != -128 || output->scale != 1.0f / 256.0f) {
        return tfl_fail(ctx, TFL_ERR_UNSUPPORTED, message);
    }
    return TFL_OK;
}

static activation_data *alloc_data(tfl_context *ctx, tfl_node *node) {
    activation_data *data = tfl_alloc_persistent(ctx, sizeof(activation_data));
    node->user_data = data;
    if (data != NULL) {
        memset(data, 0, sizeof(*data));
    }
    return data;
}

tfl_status tfl_softmax_prepare(tfl_context *ctx, tfl_node *node) {
    const tfl_tensor *input = tfl_input(ctx, node, 0);
    const tfl_tensor *output = tfl_output(ctx, node, 0);
    if (input == NULL || output == NULL || input->dims_count < 1 || tfl_element_count(input) != tfl_element_count(output)) {
        return tfl_fail(ctx, TFL_ERR_BAD_MODEL, "SOFTMAX: missing or mismatched input and output");
    }
    if ((input->type != TFL_TYPE_INT8 && input->type != TFL_TYPE_FLOAT32) || output->type != input->type) {
        return tfl_fail(ctx, TFL_ERR_UNSUPPORTED,
            "SOFTMAX: types not supported; supported: int8 -> int8, float32 -> float32");
    }
    activation_data *data = alloc_data(ctx, node);
    if (data == NULL) {
        return tfl_fail(ctx, TFL_ERR_ARENA, "arena too small for SOFTMAX");
    }
    data->depth = input->dims[input->dims_count - 1];
    data->rows = data->depth > 0 ? tfl_element_count(input) / data->depth : 0;
    data->beta = node->options.softmax.beta;
    if (input->type == TFL_TYPE_FLOAT32) {
        return TFL_OK;
    }
    tfl_status status = check_int8_output(ctx, output,
        "SOFTMAX: int8 output must have scale 1/256 and zero point -128 (as the converter makes it)");
    if (status != TFL_OK) {
        return status;
    }
    /* The input differences are rescaled by beta * scale into Q5 fixed point (a left shift plus a Q31
     * multiplier), capped at the largest Q31 value. */
    double real = (double)data->beta * (double)input->scale * (double)(1 << (31 - SOFTMAX_DIFF_INTEGER_BITS));
    if (real > (double)INT32_MAX) {
        real = (double)INT32_MAX;
    }
    int shift;
    tfl_quantize_multiplier(real, &data->input_multiplier, &shift);
    if (shift < 0) {
        return tfl_fail(ctx, TFL_ERR_UNSUPPORTED, "SOFTMAX: int8 input scale times beta below 2^-27 not supported");
    }
    data->input_left_shift = shift;
    data->diff_min = -tfl_input_radius(SOFTMAX_DIFF_INTEGER_BITS, shift);
    return TFL_OK;
}

static void softmax_int8(const activation_data *data, const int8_t *input, int8_t *output) {
    for (int32_t r = 0; r < data->rows; r++) {
        const int8_t *in = input + r * data->depth;
        int8_t *out = output + r * data->depth;
        int32_t max = -128;
        for (int32_t c = 0; c < data->depth; c++) {
            max = in[c] > max ? in[c] : max;
        }
        int32_t sum_of_exps = 0; /* Q12 */
        for (int32_t c = 0; c < data->depth; c++) {
            int32_t diff = in[c] - max;
            if (diff >= data->diff_min) {
                int32_t scaled = tfl_multiply_by_quantized_multiplier(diff, data->input_multiplier, data->input_left_shift);
                sum_of_exps = tfl_wrapping_add(sum_of_exps, tfl_rounding_divide_by_pot(
                    tfl_exp_on_negative_values(scaled, SOFTMAX_DIFF_INTEGER_BITS), SOFTMAX_SUM_INTEGER_BITS));
            }
        }
        int num_bits_over_unit;
        int32_t reciprocal = tfl_reciprocal(sum_of_exps, SOFTMAX_SUM_INTEGER_BITS, &num_bits_over_unit);
        for (int32_t c = 0; c < data->depth; c++) {
            int32_t diff = in[c] - max;
            int32_t value = -128;
            if (diff >= data->diff_min) {
                int32_t scaled = tfl_multiply_by_quantized_multiplier(diff, data->input_multiplier, data->input_left_shift);
                int32_t exp_q0 = tfl_exp_on_negative_values(scaled, SOFTMAX_DIFF_INTEGER_BITS);
                int32_t probability = tfl_rounding_divide_by_pot(
                    tfl_saturating_rounding_doubling_high_mul(reciprocal, exp_q0), num_bits_over_unit + 31 - 8);
                value = tfl_clamp_i32(probability - 128, -128, 127);
            }
            out[c] = (int8_t)value;
        }
    }
}

static void softmax_float(const activation_data *data, const float *input, float *output) {
    for (int32_t r = 0; r < data->rows; r++) {
        const float *in = input + r * data->depth;
        float *out = output + r * data->depth;
        float max = -3.4028235e38f;
        for (int32_t c = 0; c < data->depth; c++) {
            max = in[c] > max ? in[c] : max;
        }
        float sum = 0.0f;
        for (int32_t c = 0; c < data->depth; c++) {
            out[c] = tfl_reference_expf((in[c] - max) * data->beta);
            sum += out[c];
        }
        for (int32_t c = 0; c < data->depth; c++) {
            out[c] = out[c] / sum;
        }
    }
}

tfl_status tfl_softmax_eval(tfl_context *ctx, tfl_node *node) {
    const activation_data *data = node->user_data;
    const tfl_tensor *input = tfl_input(ctx, node, 0);
    tfl_tensor *output = tfl_output(ctx, node, 0);
    if (input->type == TFL_TYPE_INT8) {
        softmax_int8(data, (const int8_t *)input->data, (int8_t *)output->data);
    } else {
        softmax_float(data, (const float *)input->data, (float *)output->data);
    }
    return TFL_OK;
}

tfl_status tfl_logistic_prepare(tfl_context *ctx, tfl_node *node) {
    const tfl_tensor *input = tfl_input(ctx, node, 0);
    const tfl_tensor *output = tfl_output(ctx, node, 0);
    if (input == NULL || output == NULL || tfl_element_count(input) != tfl_element_count(output)) {
        return tfl_fail(ctx, TFL_ERR_BAD_MODEL, "LOGISTIC: missing or mismatched input and output");
    }
    if ((input->type != TFL_TYPE_INT8 && input->type != TFL_TYPE_FLOAT32) || output->type != input->type) {
        return tfl_fail(ctx, TFL_ERR_UNSUPPORTED,
            "LOGISTIC: types not supported; supported: int8 -> int8, float32 -> float32");
    }
    activation_data *data = alloc_data(ctx, node);
    if (data == NULL) {
        return tfl_fail(ctx, TFL_ERR_ARENA, "arena too small for LOGISTIC");
    }
    data->rows = tfl_element_count(input);
    if (input->type == TFL_TYPE_FLOAT32) {
        return TFL_OK;
    }
    tfl_status status = check_int8_output(ctx, output,
        "LOGISTIC: int8 output must have scale 1/256 and zero point -128 (as the converter makes it)");
    if (status != TFL_OK) {
        return status;
    }
    /* The input, less its zero point, is rescaled into Q4 with a left shift and a Q31 multiplier. */
    double real = (double)input->scale * (double)(1 << (31 - LOGISTIC_INPUT_INTEGER_BITS));
    int shift;
    tfl_quantize_multiplier(real, &data->input_multiplier, &shift);
    if (shift < 0) {
        return tfl_fail(ctx, TFL_ERR_UNSUPPORTED, "LOGISTIC: int8 input scale below 2^-27 not supported");
    }
    data->input_left_shift = shift;
    data->input_zero_point = input->zero_point;
    data->input_radius = tfl_input_radius(LOGISTIC_INPUT_INTEGER_BITS, shift);
    return TFL_OK;
}

static void logistic_int8(const activation_data *data, const int8_t *input, int8_t *output) {
    for (int32_t i = 0; i < data->rows; i++) {
        int32_t x = input[i] - data->input_zero_point;
        int32_t y;
        if (x <= -data->input_radius) {
            y = -128;
        } else if (x >= data->input_radius) {
            y = 127;
        } else {
            int32_t x_q4 = tfl_multiply_by_quantized_multiplier(x, data->input_multiplier, data->input_left_shift);
            int32_t y_q0 = tfl_logistic(x_q4, LOGISTIC_INPUT_INTEGER_BITS);
            y = tfl_clamp_i32(tfl_rounding_divide_by_pot(y_q0, 31 - 8) - 128, -128, 127);
        }
        output[i] = (int8_t)y;
    }
}

static void logistic_float(const activation_data *data, const float *input, float *output) {
    /* Beyond these bounds the reference answers 1, or exp(x) which is then within rounding of the logistic. */
    const float upper = 16.619047164916992188f;
    const float lower = -9.0f;
    for (int32_t i = 0; i < data->rows; i++) {
        float x = input[i];
        output[i] = x > upper ? 1.0f : (x < lower ? tfl_reference_expf(x) : 1.0f / (1.0f + tfl_reference_expf(-x)));
    }
}

tfl_status tfl_logistic_eval(tfl_context *ctx, tfl_node *node) {
    const activation_data *data = node->user_data;
    const tfl_tensor *input = tfl_input(ctx, node, 0);
    tfl_tensor *output = tfl_output(ctx, node, 0);
    if (input->type == TFL_TYPE_INT8) {
        logistic_int8(data, (const int8_t *)input->data, (int8_t *)output->data);
    } else {
        logistic_float(data, (const float *)input->data, (float *)output->data);
    }
    return TFL_OK;
}
