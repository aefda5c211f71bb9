/* CONV_2D, NHWC input, weights [out_channels][filter_h][filter_w][in_channels]; SAME/VALID padding, strides,
 * dilation, fused activation. int8 with per-tensor or per-channel weights and int32 bias; float32.
 * A tap outside the input contributes nothing (as if the input there held its zero point). */
#include "common.h"
#include "dot.h"
#include "arm/arm_int8.h"

typedef struct {
    int32_t pad_h, pad_w;
    int partial_windows; /* some output's window reaches into the padding */
    tfl_int8_io io;
    int32_t *multipliers, *shifts;
    int32_t *bias;         /* int8, partial windows only: the model's bias (0 without one) */
    int32_t *window_sums;  /* int8: bias + input_offset * sum of all the channel's weights */
    int32_t *tap_sums;     /* int8, partial windows only: sum over in_channels of weights, per [oc][fy][fx] */
    float act_min, act_max;
#if defined(TFL_ARM_DSP)
    tfl_arm_conv *dsp; /* int8: the DSP variant (kernels/arm/) that runs in place of eval_int8 */
#endif
} conv_data;

typedef tfl_window_shape conv_shape;

static tfl_status check_types(tfl_context *ctx, const tfl_tensor *input, const tfl_tensor *filter,
    const tfl_tensor *bias, const tfl_tensor *output) {
    if (input->type == TFL_TYPE_FLOAT32) {
        if (filter->type != TFL_TYPE_FLOAT32 || output->type != TFL_TYPE_FLOAT32 ||
            (bias != NULL && bias->type != TFL_TYPE_FLOAT32)) {
            return tfl_fail(ctx, TFL_ERR_UNSUPPORTED,
                "CONV_2D: float32 input needs float32 weights, bias and output (hybrid models not supported)");
        }
        return TFL_OK;
    }
    if (input->type != TFL_TYPE_INT8) {
        return tfl_fail(ctx, TFL_ERR_UNSUPPORTED, "CONV_2D: input type not supported; supported: int8, float32");
    }
    if (filter->type != TFL_TYPE_INT8 || output->type != TFL_TYPE_INT8 ||
        (bias != NULL && bias->type != TFL_TYPE_INT32)) {
        return tfl_fail(ctx, TFL_ERR_UNSUPPORTED, "CONV_2D: int8 input needs int8 weights and output and int32 bias");
    }
    if (input->quant.count == 0 || filter->quant.count == 0 || output->quant.count == 0) {
        return tfl_fail(ctx, TFL_ERR_BAD_MODEL, "CONV_2D: int8 tensor without quantisation parameters");
    }
    return TFL_OK;
}

static tfl_status check_shapes(tfl_context *ctx, const tfl_tensor *input, const tfl_tensor *filter,
    const tfl_tensor *bias, const tfl_tensor *output, const tfl_conv_options *options, const conv_shape *s) {
    if (input->dims_count != 4 || filter->dims_count != 4 || output->dims_count != 4 || !filter->is_constant) {
        return tfl_fail(ctx, TFL_ERR_UNSUPPORTED, "CONV_2D: needs 4-D input and output and constant 4-D weights");
    }
    if (filter->dims[3] != s->in_c || filter->dims[0] != s->out_c) {
        return tfl_fail(ctx, TFL_ERR_UNSUPPORTED,
            "CONV_2D: weights' channels do not match input and output (grouped convolution not supported)");
    }
    if (bias != NULL && !bias->is_constant) {
        return tfl_fail(ctx, TFL_ERR_UNSUPPORTED, "CONV_2D: bias must be a constant tensor");
    }
    if (tfl_dim4(output, 0) != s->batches || (bias != NULL && tfl_element_count(bias) != s->out_c)) {
        return tfl_fail(ctx, TFL_ERR_BAD_MODEL, "CONV_2D: batch or bias size does not match");
    }
    if (s->stride_h < 1 || s->stride_w < 1 || s->dilation_h < 1 || s->dilation_w < 1) {
        return tfl_fail(ctx, TFL_ERR_BAD_MODEL, "CONV_2D: stride and dilation must be at least 1");
    }
    if (s->out_h != tfl_conv_output_size(options->padding, s->in_h, s->filter_h, s->stride_h, s->dilation_h) ||
        s->out_w != tfl_conv_output_size(options->padding, s->in_w, s->filter_w, s->stride_w, s->dilation_w)) {
        return tfl_fail(ctx, TFL_ERR_BAD_MODEL, "CONV_2D: output size does not follow from padding and strides");
    }
    if (options->activation == TFL_ACT_TANH) {
        return tfl_fail(ctx, TFL_ERR_UNSUPPORTED,
            "CONV_2D: fused TANH not supported; supported: NONE, RELU, RELU6, RELU_N1_TO_1");
    }
    return TFL_OK;
}

static tfl_status prepare_int8(tfl_context *ctx, conv_data *data, const tfl_tensor *input,
    const tfl_tensor *filter, const tfl_tensor *bias, const tfl_tensor *output, const conv_shape *s, int activation) {
    tfl_int8_io_setup(&data->io, input, output, activation);
    tfl_status status = tfl_per_channel_multipliers(ctx, input, filter, output, s->out_c, 0, &data->multipliers,
        &data->shifts);
    if (status != TFL_OK) {
        return status;
    }
    int32_t taps = s->filter_h * s->filter_w;
    data->window_sums = tfl_alloc_persistent(ctx, sizeof(int32_t) * (size_t)s->out_c);
    data->bias = NULL;
    data->tap_sums = NULL;
    if (data->partial_windows) {
        data->bias = tfl_alloc_persistent(ctx, sizeof(int32_t) * (size_t)s->out_c);
        data->tap_sums = tfl_alloc_persistent(ctx, sizeof(int32_t) * (size_t)(s->out_c * taps));
    }
    if (data->window_sums == NULL || (data->partial_windows && (data->bias == NULL || data->tap_sums == NULL))) {
        return tfl_fail(ctx, TFL_ERR_ARENA, "arena too small for CONV_2D");
    }
    const int8_t *w = (const int8_t *)filter->data;
    for (int32_t oc = 0; oc < s->out_c; oc++) {
        int32_t total = 0;
        for (int32_t t = 0; t < taps; t++) {
            int32_t tap_sum = 0;
            for (int32_t ic = 0; ic < s->in_c; ic++) {
                tap_sum = tfl_wrapping_add(tap_sum, w[(oc * taps + t) * s->in_c + ic]);
            }
            if (data->tap_sums != NULL) {
                data->tap_sums[oc * taps + t] = tap_sum;
            }
            total = tfl_wrapping_add(total, tap_sum);
        }
        int32_t b = bias != NULL ? tfl_read_i32(bias->data + 4 * (size_t)oc) : 0;
        if (data->bias != NULL) {
            data->bias[oc] = b;
        }
        data->window_sums[oc] = tfl_wrapping_add(b, tfl_wrapping_mul(data->io.input_offset, total));
    }
    return TFL_OK;
}

tfl_status tfl_conv_prepare(tfl_context *ctx, tfl_node *node) {
    const tfl_tensor *input = tfl_input(ctx, node, 0);
    const tfl_tensor *filter = tfl_input(ctx, node, 1);
    const tfl_tensor *bias = tfl_input(ctx, node, 2);
    const tfl_tensor *output = tfl_output(ctx, node, 0);
    const tfl_conv_options *options = &node->options.conv;
    if (input == NULL || filter == NULL || output == NULL) {
        return tfl_fail(ctx, TFL_ERR_BAD_MODEL, "CONV_2D: missing input, weights or output");
    }
    tfl_status status = check_types(ctx, input, filter, bias, output);
    if (status != TFL_OK) {
        return status;
    }
    conv_shape s = tfl_window_shape_of(input, filter, output, options);
    status = check_shapes(ctx, input, filter, bias, output, options, &s);
    if (status != TFL_OK) {
        return status;
    }
    conv_data *data = tfl_alloc_persistent(ctx, sizeof(conv_data));
    if (data == NULL) {
        return tfl_fail(ctx, TFL_ERR_ARENA, "arena too small for CONV_2D");
    }
    node->user_data = data;
    data->pad_h = tfl_conv_padding(s.in_h, s.out_h, s.filter_h, s.stride_h, s.dilation_h);
    data->pad_w = tfl_conv_padding(s.in_w, s.out_w, s.filter_w, s.stride_w, s.dilation_w);
    int64_t overhang_h = (int64_t)(s.out_h - 1) * s.stride_h + (int64_t)(s.filter_h - 1) * s.dilation_h + 1 - s.in_h;
    int64_t overhang_w = (int64_t)(s.out_w - 1) * s.stride_w + (int64_t)(s.filter_w - 1) * s.dilation_w + 1 - s.in_w;
    data->partial_windows = overhang_h > 0 || overhang_w > 0;
    if (input->type == TFL_TYPE_FLOAT32) {
        tfl_float_activation_range(options->activation, &data->act_min, &data->act_max);
        return TFL_OK;
    }
    status = prepare_int8(ctx, data, input, filter, bias, output, &s, options->activation);
#if defined(TFL_ARM_DSP)
    if (status == TFL_OK) {
        tfl_arm_quant quant = {data->io.input_offset, data->io.output_offset, data->io.act_min, data->io.act_max,
            data->multipliers, data->shifts};
        status = tfl_arm_conv_prepare(ctx, node, data->pad_h, data->pad_w, &quant, &data->dsp);
    }
#endif
    return status;
}

/* The taps of a window that fall inside the input along one axis: [*first, *end). */
static void valid_taps(int32_t origin, int32_t filter, int32_t dilation, int32_t size, int32_t *first,
    int32_t *end) {
    int32_t f = 0;
    while (f < filter && origin + f * dilation < 0) {
        f++;
    }
    *first = f;
    int32_t e = filter;
    while (e > f && origin + (e - 1) * dilation >= size) {
        e--;
    }
    *end = e;
}

static void eval_int8(const conv_data *data, const conv_shape *s, const int8_t *input, const int8_t *filter,
    int8_t *output) {
    const int32_t taps = s->filter_h * s->filter_w;
    for (int32_t b = 0; b < s->batches; b++) {
        for (int32_t oy = 0; oy < s->out_h; oy++) {
            int32_t iy0 = oy * s->stride_h - data->pad_h, fy0, fy1;
            valid_taps(iy0, s->filter_h, s->dilation_h, s->in_h, &fy0, &fy1);
            for (int32_t ox = 0; ox < s->out_w; ox++) {
                int32_t ix0 = ox * s->stride_w - data->pad_w, fx0, fx1;
                valid_taps(ix0, s->filter_w, s->dilation_w, s->in_w, &fx0, &fx1);
                int whole = fy0 == 0 && fx0 == 0 && fy1 == s->filter_h && fx1 == s->filter_w;
                int8_t *out = output + ((b * s->out_h + oy) * s->out_w + ox) * s->out_c;
                for (int32_t oc = 0; oc < s->out_c; oc++) {
                    int32_t acc = 0, weight_sum = 0;
                    for (int32_t fy = fy0; fy < fy1; fy++) {
                        const int8_t *in_row = input + ((b * s->in_h + iy0 + fy * s->dilation_h) * s->in_w) * s->in_c;
                        if (s->dilation_w == 1) { /* the taps of a filter row are one run of input and weights */
                            acc = tfl_wrapping_add(acc, tfl_dot_s8(in_row + (ix0 + fx0) * s->in_c,
                                filter + (oc * taps + fy * s->filter_w + fx0) * s->in_c, (fx1 - fx0) * s->in_c));
                            if (whole) {
                                continue;
                            }
                        }
                        for (int32_t fx = fx0; fx < fx1; fx++) {
                            int32_t tap = fy * s->filter_w + fx;
                            if (s->dilation_w != 1) {
                                acc = tfl_wrapping_add(acc, tfl_dot_s8(in_row + (ix0 + fx * s->dilation_w) * s->in_c,
                                    filter + (oc * taps + tap) * s->in_c, s->in_c));
                            }
                            if (!whole) {
                                weight_sum = tfl_wrapping_add(weight_sum, data->tap_sums[oc * taps + tap]);
                            }
                        }
                    }
                    acc = tfl_wrapping_add(acc, whole ? data->window_sums[oc]
                        : tfl_wrapping_add(data->bias[oc], tfl_wrapping_mul(data->io.input_offset, weight_sum)));
                    acc = tfl_multiply_by_quantized_multiplier(acc, data->multipliers[oc], data->shifts[oc]);
                    out[oc] = (int8_t)tfl_clamp_i32(tfl_wrapping_add(acc, data->io.output_offset), data->io.act_min, data->io.act_max);
                }
            }
        }
    }
}

static void eval_float(const conv_data *data, const conv_shape *s, const float *input, const uint8_t *filter,
    const uint8_t *bias, float *output) {
    const int32_t taps = s->filter_h * s->filter_w;
    for (int32_t b = 0; b < s->batches; b++) {
        for (int32_t oy = 0; oy < s->out_h; oy++) {
            int32_t iy0 = oy * s->stride_h - data->pad_h, fy0, fy1;
            valid_taps(iy0, s->filter_h, s->dilation_h, s->in_h, &fy0, &fy1);
            for (int32_t ox = 0; ox < s->out_w; ox++) {
                int32_t ix0 = ox * s->stride_w - data->pad_w, fx0, fx1;
                valid_taps(ix0, s->filter_w, s->dilation_w, s->in_w, &fx0, &fx1);
                float *out = output + ((b * s->out_h + oy) * s->out_w + ox) * s->out_c;
                for (int32_t oc = 0; oc < s->out_c; oc++) {
                    float total = 0.0f;
                    for (int32_t fy = fy0; fy < fy1; fy++) {
                        const float *in_row = input + ((b * s->in_h + iy0 + fy * s->dilation_h) * s->in_w) * s->in_c;
                        for (int32_t fx = fx0; fx < fx1; fx++) {
                            total = tfl_dot_f32(total, in_row + (ix0 + fx * s->dilation_w) * s->in_c,
                                filter + 4 * (size_t)((oc * taps + fy * s->filter_w + fx) * s->in_c), s->in_c);
                        }
                    }
                    float bias_value = bias != NULL ? tfl_read_f32(bias + 4 * (size_t)oc) : 0.0f;
                    out[oc] = tfl_clamp_f32(total + bias_value, data->act_min, data->act_max);
                }
            }
        }
    }
}

tfl_status tfl_conv_eval(tfl_context *ctx, tfl_node *node) {
    const conv_data *data = node->user_data;
    const tfl_tensor *input = tfl_input(ctx, node, 0);
    const tfl_tensor *filter = tfl_input(ctx, node, 1);
    const tfl_tensor *bias = tfl_input(ctx, node, 2);
    tfl_tensor *output = tfl_output(ctx, node, 0);
    conv_shape s = tfl_window_shape_of(input, filter, output, &node->options.conv);
    if (input->type == TFL_TYPE_INT8) {
#if defined(TFL_ARM_DSP)
        return tfl_arm_conv_run(data->dsp, ctx, node);
#endif
        eval_int8(data, &s, (const int8_t *)input->data, (const int8_t *)filter->data, (int8_t *)output->data);
    } else {
        eval_float(data, &s, (const float *)input->data, filter->data, bias != NULL ? bias->data : NULL,
            (float *)output->data);
    }
    return TFL_OK;
}
