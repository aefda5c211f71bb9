/* DEPTHWISE_CONV_2D, NHWC input, weights [1][filter_h][filter_w][in_channels * depth_multiplier]: output channel
 * ic * depth_multiplier + m sees only input channel ic. SAME/VALID padding, strides, dilation, fused
 * activation; int8 (per-tensor or per-channel weights, int32 bias) and float32. Each output pixel accumulates
 * all its channels at once in scratch, tap by tap, which keeps every channel's sum in the reference order. */
#include "reference.h"

typedef tfl_conv_data depthwise_data;

typedef tfl_window_shape depthwise_shape;

static tfl_status check_node(tfl_context *ctx, const tfl_tensor *input, const tfl_tensor *filter,
    const tfl_tensor *bias, const tfl_tensor *output, const tfl_conv_options *options, const depthwise_shape *s) {
    if (input->type == TFL_TYPE_FLOAT32) {
        if (filter->type != TFL_TYPE_FLOAT32 || output->type != TFL_TYPE_FLOAT32 ||
            (bias != NULL && bias->type != TFL_TYPE_FLOAT32)) {
            return tfl_fail(ctx, TFL_ERR_UNSUPPORTED,
                "DEPTHWISE_CONV_2D: float32 input needs float32 weights, bias and output (hybrid not supported)");
        }
    } else if (input->type != TFL_TYPE_INT8) {
        return tfl_fail(ctx, TFL_ERR_UNSUPPORTED,
            "DEPTHWISE_CONV_2D: input type not supported; supported: int8, float32");
    } else if (filter->type != TFL_TYPE_INT8 || output->type != TFL_TYPE_INT8 ||
               (bias != NULL && bias->type != TFL_TYPE_INT32)) {
        return tfl_fail(ctx, TFL_ERR_UNSUPPORTED,
            "DEPTHWISE_CONV_2D: int8 input needs int8 weights and output and int32 bias");
    } else if (input->quant.count == 0 || filter->quant.count == 0 || output->quant.count == 0) {
        return tfl_fail(ctx, TFL_ERR_BAD_MODEL, "DEPTHWISE_CONV_2D: int8 tensor without quantisation parameters");
    }
    if (input->dims_count != 4 || filter->dims_count != 4 || output->dims_count != 4 || !filter->is_constant) {
        return tfl_fail(ctx, TFL_ERR_UNSUPPORTED,
            "DEPTHWISE_CONV_2D: needs 4-D input and output and constant 4-D weights");
    }
    if (bias != NULL && !bias->is_constant) {
        return tfl_fail(ctx, TFL_ERR_UNSUPPORTED, "DEPTHWISE_CONV_2D: bias must be a constant tensor");
    }
    if (s->in_c <= 0 || s->out_c != s->in_c * s->multiplier || filter->dims[3] != s->out_c ||
        filter->dims[0] != 1 || tfl_dim4(output, 0) != s->batches ||
        (bias != NULL && tfl_element_count(bias) != s->out_c)) {
        return tfl_fail(ctx, TFL_ERR_BAD_MODEL, "DEPTHWISE_CONV_2D: channels of input, weights, bias and output do not match");
    }
    if (s->stride_h < 1 || s->stride_w < 1 || s->dilation_h < 1 || s->dilation_w < 1) {
        return tfl_fail(ctx, TFL_ERR_BAD_MODEL, "DEPTHWISE_CONV_2D: stride and dilation must be at least 1");
    }
    if (s->out_h != tfl_conv_output_size(options->padding, s->in_h, s->filter_h, s->stride_h, s->dilation_h) ||
        s->out_w != tfl_conv_output_size(options->padding, s->in_w, s->filter_w, s->stride_w, s->dilation_w)) {
        return tfl_fail(ctx, TFL_ERR_BAD_MODEL, "DEPTHWISE_CONV_2D: output size does not follow from padding and strides");
    }
    if (options->activation == TFL_ACT_TANH) {
        return tfl_fail(ctx, TFL_ERR_UNSUPPORTED,
            "DEPTHWISE_CONV_2D: fused TANH not supported; supported: NONE, RELU, RELU6, RELU_N1_TO_1");
    }
    return TFL_OK;
}

tfl_status tfl_depthwise_conv_prepare(tfl_context *ctx, tfl_node *node) {
    const tfl_tensor *input = tfl_input(ctx, node, 0);
    const tfl_tensor *filter = tfl_input(ctx, node, 1);
    const tfl_tensor *bias = tfl_input(ctx, node, 2);
    const tfl_tensor *output = tfl_output(ctx, node, 0);
    const tfl_conv_options *options = &node->options.conv;
    if (input == NULL || filter == NULL || output == NULL) {
        return tfl_fail(ctx, TFL_ERR_BAD_MODEL, "DEPTHWISE_CONV_2D: missing input, weights or output");
    }
    depthwise_shape s = tfl_window_shape_of(input, filter, output, options);
    tfl_status status = check_node(ctx, input, filter, bias, output, options, &s);
    if (status != TFL_OK) {
        return status;
    }
    depthwise_data *data = tfl_alloc_persistent(ctx, sizeof(depthwise_data));
    if (data == NULL) {
        return tfl_fail(ctx, TFL_ERR_ARENA, "arena too small for DEPTHWISE_CONV_2D");
    }
    node->user_data = data;
    node->scratch_bytes = 4 * (uint32_t)s.out_c; /* one accumulator per output channel */
    data->variant = NULL;
    if (input->type == TFL_TYPE_FLOAT32) {
        tfl_float_activation_range(options->activation, &data->act_min, &data->act_max);
        return TFL_OK;
    }
    tfl_int8_io_setup(&data->io, input, output, options->activation);
    return tfl_per_channel_multipliers(ctx, input, filter, output, s.out_c, 3, &data->multipliers, &data->shifts);
}

/* `bias` is the model's int32 bias (any alignment) or NULL. */
static void eval_int8(const depthwise_data *data, const depthwise_shape *s, const int8_t *input,
    const int8_t *filter, const uint8_t *bias, int8_t *output, int32_t *acc) {
    for (int32_t b = 0; b < s->batches; b++) {
        for (int32_t oy = 0; oy < s->out_h; oy++) {
            for (int32_t ox = 0; ox < s->out_w; ox++) {
                int32_t iy0 = oy * s->stride_h - s->pad_h, ix0 = ox * s->stride_w - s->pad_w;
                if (bias != NULL) {
                    memcpy(acc, bias, sizeof(int32_t) * (size_t)s->out_c);
                } else {
                    memset(acc, 0, sizeof(int32_t) * (size_t)s->out_c);
                }
                for (int32_t fy = 0; fy < s->filter_h; fy++) {
                    int32_t iy = iy0 + fy * s->dilation_h;
                    if (iy < 0 || iy >= s->in_h) {
                        continue;
                    }
                    for (int32_t fx = 0; fx < s->filter_w; fx++) {
                        int32_t ix = ix0 + fx * s->dilation_w;
                        if (ix < 0 || ix >= s->in_w) {
                            continue;
                        }
                        const int8_t *in = input + ((b * s->in_h + iy) * s->in_w + ix) * s->in_c;
                        const int8_t *w = filter + (fy * s->filter_w + fx) * s->out_c;
                        for (int32_t ic = 0; ic < s->in_c; ic++) {
                            int32_t value = in[ic] + data->io.input_offset;
                            for (int32_t m = 0; m < s->multiplier; m++) {
                                int32_t *a = &acc[ic * s->multiplier + m];
                                *a = tfl_wrapping_add(*a, value * w[ic * s->multiplier + m]);
                            }
                        }
                    }
                }
                int8_t *out = output + ((b * s->out_h + oy) * s->out_w + ox) * s->out_c;
                for (int32_t oc = 0; oc < s->out_c; oc++) {
                    int32_t v = tfl_multiply_by_quantized_multiplier(acc[oc], data->multipliers[oc], data->shifts[oc]);
                    out[oc] = (int8_t)tfl_clamp_i32(tfl_wrapping_add(v, data->io.output_offset), data->io.act_min, data->io.act_max);
                }
            }
        }
    }
}

static void eval_float(const depthwise_data *data, const depthwise_shape *s, const float *input,
    const uint8_t *filter, const uint8_t *bias, float *output, float *total) {
    for (int32_t b = 0; b < s->batches; b++) {
        for (int32_t oy = 0; oy < s->out_h; oy++) {
            for (int32_t ox = 0; ox < s->out_w; ox++) {
                int32_t iy0 = oy * s->stride_h - s->pad_h, ix0 = ox * s->stride_w - s->pad_w;
                for (int32_t oc = 0; oc < s->out_c; oc++) {
                    total[oc] = 0.0f;
                }
                for (int32_t fy = 0; fy < s->filter_h; fy++) {
                    int32_t iy = iy0 + fy * s->dilation_h;
                    if (iy < 0 || iy >= s->in_h) {
                        continue;
                    }
                    for (int32_t fx = 0; fx < s->filter_w; fx++) {
                        int32_t ix = ix0 + fx * s->dilation_w;
                        if (ix < 0 || ix >= s->in_w) {
                            continue;
                        }
                        const float *in = input + ((b * s->in_h + iy) * s->in_w + ix) * s->in_c;
                        const uint8_t *w = filter + 4 * (size_t)((fy * s->filter_w + fx) * s->out_c);
                        for (int32_t oc = 0; oc < s->out_c; oc++) {
                            total[oc] += in[oc / s->multiplier] * tfl_read_f32(w + 4 * (size_t)oc);
                        }
                    }
                }
                float *out = output + ((b * s->out_h + oy) * s->out_w + ox) * s->out_c;
                for (int32_t oc = 0; oc < s->out_c; oc++) {
                    float bias_value = bias != NULL ? tfl_read_f32(bias + 4 * (size_t)oc) : 0.0f;
                    out[oc] = tfl_clamp_f32(total[oc] + bias_value, data->act_min, data->act_max);
                }
            }
        }
    }
}

tfl_status tfl_depthwise_conv_eval(tfl_context *ctx, tfl_node *node) {
    const depthwise_data *data = node->user_data;
    const tfl_tensor *input = tfl_input(ctx, node, 0);
    const tfl_tensor *filter = tfl_input(ctx, node, 1);
    const tfl_tensor *bias = tfl_input(ctx, node, 2);
    tfl_tensor *output = tfl_output(ctx, node, 0);
    depthwise_shape s = tfl_window_shape_of(input, filter, output, &node->options.conv);
    if (input->type == TFL_TYPE_INT8) {
        eval_int8(data, &s, (const int8_t *)input->data, (const int8_t *)filter->data,
            bias != NULL ? bias->data : NULL, (int8_t *)output->data, node->scratch);
    } else {
        eval_float(data, &s, (const float *)input->data, filter->data, bias != NULL ? bias->data : NULL,
            (float *)output->data, node->scratch);
    }
    return TFL_OK;
}
