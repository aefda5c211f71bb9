/* CONV_2D, NHWC input, weights [out_channels][filter_h][filter_w][in_channels]; SAME/VALID padding, strides,
 * dilation, fused activation. int8 with per-tensor or per-channel weights and int32 bias; float32.
 * A tap outside the input contributes nothing (as if the input there held its zero point). */
#include "dot.h"
#include "reference.h"

typedef tfl_conv_data conv_data;

typedef tfl_window_shape conv_shape;

/* Window values summed per dot product: the window's depth rounded up to whole vectors of 16. The window's tail
 * holds zeros, so a dot product may run over it while the weights it meets (the next filter's first bytes) are
 * still inside the weights tensor: the vector loop then needs no scalar remainder. */
#define DOT_STEP 16

static int32_t padded_depth(const conv_shape *s) {
    int32_t depth = s->filter_h * s->filter_w * s->in_c;
    return depth + (DOT_STEP - depth % DOT_STEP) % DOT_STEP;
}

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

/* int8 keeps only the requantisation per output channel: the bias is read in place from the model, and the
 * input zero point goes into the window that eval gathers (see gather_window), so nothing else is kept per
 * channel or per tap. */
static tfl_status prepare_int8(tfl_context *ctx, tfl_node *node, conv_data *data, const tfl_tensor *input,
    const tfl_tensor *filter, const tfl_tensor *output, const conv_shape *s, int activation) {
    tfl_int8_io_setup(&data->io, input, output, activation);
    /* eval's scratch: one window as int16, padded (see padded_depth). The weights are a constant tensor of out_c
     * windows' worth of bytes in the model, so the size fits. */
    node->scratch_bytes = (uint32_t)(sizeof(int16_t) * (size_t)padded_depth(s));
    return tfl_per_channel_multipliers(ctx, input, filter, output, s->out_c, 0, &data->multipliers, &data->shifts);
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
    data->variant = NULL;
    if (input->type == TFL_TYPE_FLOAT32) {
        tfl_float_activation_range(options->activation, &data->act_min, &data->act_max);
        return TFL_OK;
    }
    return prepare_int8(ctx, node, data, input, filter, output, &s, options->activation);
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

/* One window of the input, laid out as the weights are ([fy][fx][ic]), as int16 values x - zero point: a tap
 * outside the input is 0 there, exactly what the reference's skipped tap contributes. The window's dot product
 * with each filter is then one run of filter_h * filter_w * in_c values. */
static void gather_window(const conv_shape *s, int32_t input_offset, const int8_t *input, int32_t iy0, int32_t ix0,
    int16_t *window) {
    const int32_t row_values = s->filter_w * s->in_c;
    for (int32_t fy = 0; fy < s->filter_h; fy++) {
        int64_t iy = (int64_t)iy0 + (int64_t)fy * s->dilation_h;
        int16_t *to = window + fy * row_values;
        if (iy < 0 || iy >= s->in_h) {
            memset(to, 0, sizeof(int16_t) * (size_t)row_values);
            continue;
        }
        const int8_t *row = input + (size_t)iy * (size_t)s->in_w * (size_t)s->in_c;
        if (s->dilation_w == 1 && ix0 >= 0 && (int64_t)ix0 + s->filter_w <= s->in_w) {
            const int8_t *from = row + (size_t)ix0 * (size_t)s->in_c; /* the filter row is one run of the input */
            for (int32_t i = 0; i < row_values; i++) {
                to[i] = (int16_t)(from[i] + input_offset);
            }
            continue;
        }
        for (int32_t fx = 0; fx < s->filter_w; fx++) {
            int64_t ix = (int64_t)ix0 + (int64_t)fx * s->dilation_w;
            int16_t *tap = to + fx * s->in_c;
            if (ix < 0 || ix >= s->in_w) {
                memset(tap, 0, sizeof(int16_t) * (size_t)s->in_c);
                continue;
            }
            const int8_t *from = row + (size_t)ix * (size_t)s->in_c;
            for (int32_t c = 0; c < s->in_c; c++) {
                tap[c] = (int16_t)(from[c] + input_offset);
            }
        }
    }
}

static void eval_int8(const conv_data *data, const conv_shape *s, const int8_t *input, const int8_t *filter,
    const uint8_t *bias, int8_t *output, int16_t *window) {
    const int32_t depth = s->filter_h * s->filter_w * s->in_c, padded = padded_depth(s);
    const size_t filter_bytes = (size_t)s->out_c * (size_t)depth;
    memset(window + depth, 0, sizeof(int16_t) * (size_t)(padded - depth));
    for (int32_t b = 0; b < s->batches; b++) {
        const int8_t *in = input + (size_t)b * (size_t)s->in_h * (size_t)s->in_w * (size_t)s->in_c;
        for (int32_t oy = 0; oy < s->out_h; oy++) {
            for (int32_t ox = 0; ox < s->out_w; ox++) {
                gather_window(s, data->io.input_offset, in, oy * s->stride_h - s->pad_h,
                    ox * s->stride_w - s->pad_w, window);
                int8_t *out = output + ((size_t)(b * s->out_h + oy) * (size_t)s->out_w + (size_t)ox) * (size_t)s->out_c;
                int32_t oc = 0;
                for (; oc + 4 <= s->out_c; oc += 4) {
                    const int8_t *w = filter + (size_t)oc * (size_t)depth;
                    int32_t n = (size_t)(oc + 3) * (size_t)depth + (size_t)padded <= filter_bytes ? padded : depth;
                    int32_t acc[4];
                    tfl_dot4_s16_s8(window, w, (size_t)depth, n, acc);
                    for (int j = 0; j < 4; j++) {
                        out[oc + j] = tfl_requantize_channel(&data->io, data->multipliers, data->shifts, bias, oc + j,
                            acc[j]);
                    }
                }
                for (; oc < s->out_c; oc++) {
                    const int8_t *w = filter + (size_t)oc * (size_t)depth;
                    int32_t n = (size_t)oc * (size_t)depth + (size_t)padded <= filter_bytes ? padded : depth;
                    out[oc] = tfl_requantize_channel(&data->io, data->multipliers, data->shifts, bias, oc,
                        tfl_dot_s16_s8(window, w, n));
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
            int32_t iy0 = oy * s->stride_h - s->pad_h, fy0, fy1;
            valid_taps(iy0, s->filter_h, s->dilation_h, s->in_h, &fy0, &fy1);
            for (int32_t ox = 0; ox < s->out_w; ox++) {
                int32_t ix0 = ox * s->stride_w - s->pad_w, fx0, fx1;
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
        eval_int8(data, &s, (const int8_t *)input->data, (const int8_t *)filter->data, bias != NULL ? bias->data : NULL,
            (int8_t *)output->data, node->scratch);
    } else {
        eval_float(data, &s, (const float *)input->data, filter->data, bias != NULL ? bias->data : NULL,
            (float *)output->data);
    }
    return TFL_OK;
}
