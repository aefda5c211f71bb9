/* FULLY_CONNECTED: output[b][u] = act(sum_d input[b][d] * weights[u][d] + bias[u]), weights as [units][depth].
 * int8: per-tensor or per-channel weights (zero point 0), int32 bias; float32. */
#include "dot.h"
#include "reference.h"

typedef tfl_fully_connected_data fc_data;

static tfl_status check_types(tfl_context *ctx, const tfl_tensor *input, const tfl_tensor *weights,
    const tfl_tensor *bias, const tfl_tensor *output) {
    if (input->type == TFL_TYPE_FLOAT32) {
        if (weights->type != TFL_TYPE_FLOAT32 || output->type != TFL_TYPE_FLOAT32 ||
            (bias != NULL && bias->type != TFL_TYPE_FLOAT32)) {
            return tfl_fail(ctx, TFL_ERR_UNSUPPORTED,
                "FULLY_CONNECTED: float32 input needs float32 weights, bias and output (hybrid models not supported)");
        }
        return TFL_OK;
    }
    if (input->type != TFL_TYPE_INT8) {
        return tfl_fail(ctx, TFL_ERR_UNSUPPORTED,
            "FULLY_CONNECTED: input type not supported; supported: int8, float32");
    }
    if (weights->type != TFL_TYPE_INT8 || output->type != TFL_TYPE_INT8 ||
        (bias != NULL && bias->type != TFL_TYPE_INT32)) {
        return tfl_fail(ctx, TFL_ERR_UNSUPPORTED,
            "FULLY_CONNECTED: int8 input needs int8 weights and output and int32 bias");
    }
    if (input->quant.count == 0 || weights->quant.count == 0 || output->quant.count == 0) {
        return tfl_fail(ctx, TFL_ERR_BAD_MODEL, "FULLY_CONNECTED: int8 tensor without quantisation parameters");
    }
    return TFL_OK;
}

tfl_status tfl_fully_connected_prepare(tfl_context *ctx, tfl_node *node) {
    const tfl_tensor *input = tfl_input(ctx, node, 0);
    const tfl_tensor *weights = tfl_input(ctx, node, 1);
    const tfl_tensor *bias = tfl_input(ctx, node, 2);
    const tfl_tensor *output = tfl_output(ctx, node, 0);
    const tfl_fully_connected_options *options = &node->options.fully_connected;
    if (input == NULL || weights == NULL || output == NULL) {
        return tfl_fail(ctx, TFL_ERR_BAD_MODEL, "FULLY_CONNECTED: missing input, weights or output");
    }
    if (options->weights_format != 0) {
        return tfl_fail(ctx, TFL_ERR_UNSUPPORTED, "FULLY_CONNECTED: shuffled weights format not supported");
    }
    if (options->activation == TFL_ACT_TANH) {
        return tfl_fail(ctx, TFL_ERR_UNSUPPORTED,
            "FULLY_CONNECTED: fused TANH not supported; supported: NONE, RELU, RELU6, RELU_N1_TO_1");
    }
    tfl_status status = check_types(ctx, input, weights, bias, output);
    if (status != TFL_OK) {
        return status;
    }
    if (weights->dims_count != 2 || !weights->is_constant) {
        return tfl_fail(ctx, TFL_ERR_UNSUPPORTED, "FULLY_CONNECTED: weights must be a constant 2-D tensor");
    }
    if (bias != NULL && !bias->is_constant) {
        return tfl_fail(ctx, TFL_ERR_UNSUPPORTED, "FULLY_CONNECTED: bias must be a constant tensor");
    }
    fc_data *data = tfl_alloc_persistent(ctx, sizeof(fc_data));
    if (data == NULL) {
        return tfl_fail(ctx, TFL_ERR_ARENA, "arena too small for FULLY_CONNECTED");
    }
    data->units = weights->dims[0];
    data->depth = weights->dims[1];
    if (data->depth <= 0 || tfl_element_count(input) % data->depth != 0) {
        return tfl_fail(ctx, TFL_ERR_BAD_MODEL, "FULLY_CONNECTED: input size is not a multiple of the weights' depth");
    }
    data->batches = tfl_element_count(input) / data->depth;
    if ((int64_t)tfl_element_count(output) != (int64_t)data->batches * data->units) {
        return tfl_fail(ctx, TFL_ERR_BAD_MODEL, "FULLY_CONNECTED: output size does not match batches x units");
    }
    if (bias != NULL && tfl_element_count(bias) != data->units) {
        return tfl_fail(ctx, TFL_ERR_BAD_MODEL, "FULLY_CONNECTED: bias size does not match the number of units");
    }
    node->user_data = data;
    data->variant = NULL;
    if (input->type == TFL_TYPE_FLOAT32) {
        tfl_float_activation_range(options->activation, &data->act_min, &data->act_max);
        return TFL_OK;
    }
    tfl_int8_io_setup(&data->io, input, output, options->activation);
    return tfl_per_channel_multipliers(ctx, input, weights, output, data->units, 0, &data->multipliers,
        &data->shifts);
}

static void eval_int8(const fc_data *data, const int8_t *input, const int8_t *weights, const uint8_t *bias,
    int8_t *output) {
    const int32_t depth = data->depth, offset = data->io.input_offset;
    for (int32_t b = 0; b < data->batches; b++) {
        const int8_t *row = input + (size_t)b * (size_t)depth;
        int8_t *out = output + (size_t)b * (size_t)data->units;
        int32_t u = 0;
        for (; u + 4 <= data->units; u += 4) {
            int32_t acc[4];
            tfl_dot4_s8_offset(row, offset, weights + (size_t)u * (size_t)depth, (size_t)depth, depth, acc);
            for (int j = 0; j < 4; j++) {
                out[u + j] = tfl_requantize_channel(&data->io, data->multipliers, data->shifts, bias, u + j, acc[j]);
            }
        }
        for (; u < data->units; u++) {
            int32_t acc = tfl_dot_s8_offset(row, offset, weights + (size_t)u * (size_t)depth, depth);
            out[u] = tfl_requantize_channel(&data->io, data->multipliers, data->shifts, bias, u, acc);
        }
    }
}

static void eval_float(const fc_data *data, const float *input, const uint8_t *weights, const uint8_t *bias,
    float *output) {
    for (int32_t b = 0; b < data->batches; b++) {
        const float *row = input + b * data->depth;
        for (int32_t u = 0; u < data->units; u++) {
            float total = tfl_dot_f32(0.0f, row, weights + 4 * (size_t)(u * data->depth), data->depth);
            float bias_value = bias != NULL ? tfl_read_f32(bias + 4 * (size_t)u) : 0.0f;
            output[b * data->units + u] = tfl_clamp_f32(total + bias_value, data->act_min, data->act_max);
        }
    }
}

tfl_status tfl_fully_connected_eval(tfl_context *ctx, tfl_node *node) {
    const fc_data *data = node->user_data;
    const tfl_tensor *input = tfl_input(ctx, node, 0);
    const tfl_tensor *weights = tfl_input(ctx, node, 1);
    const tfl_tensor *bias = tfl_input(ctx, node, 2);
    tfl_tensor *output = tfl_output(ctx, node, 0);
    if (input->type == TFL_TYPE_INT8) {
        eval_int8(data, (const int8_t *)input->data, (const int8_t *)weights->data, bias != NULL ? bias->data : NULL,
            (int8_t *)output->data);
    } else {
        eval_float(data, (const float *)input->data, weights->data, bias != NULL ? bias->data : NULL,
            (float *)output->data);
    }
    return TFL_OK;
}
