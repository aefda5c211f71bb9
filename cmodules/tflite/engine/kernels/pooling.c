/* AVERAGE_POOL_2D and MAX_POOL_2D over NHWC, SAME/VALID padding, strides, fused activation; int8 and float32.
 * A window is clipped to the input: the average divides by the number of taps inside it. */
#include "reference.h"

typedef tfl_pool_data pool_data;

static tfl_status prepare(tfl_context *ctx, tfl_node *node, const char *type_message, const char *shape_message) {
    const tfl_tensor *input = tfl_input(ctx, node, 0);
    const tfl_tensor *output = tfl_output(ctx, node, 0);
    const tfl_pool_options *options = &node->options.pool;
    if (input == NULL || output == NULL) {
        return tfl_fail(ctx, TFL_ERR_BAD_MODEL, shape_message);
    }
    if ((input->type != TFL_TYPE_INT8 && input->type != TFL_TYPE_FLOAT32) || output->type != input->type) {
        return tfl_fail(ctx, TFL_ERR_UNSUPPORTED, type_message);
    }
    if (input->type == TFL_TYPE_INT8 && (input->scale != output->scale || input->zero_point != output->zero_point)) {
        return tfl_fail(ctx, TFL_ERR_UNSUPPORTED, type_message);
    }
    if (input->dims_count != 4 || output->dims_count != 4 || options->stride_h < 1 || options->stride_w < 1 ||
        options->filter_h < 1 || options->filter_w < 1 || options->activation == TFL_ACT_TANH) {
        return tfl_fail(ctx, TFL_ERR_UNSUPPORTED, shape_message);
    }
    pool_data *data = tfl_alloc_persistent(ctx, sizeof(pool_data));
    if (data == NULL) {
        return tfl_fail(ctx, TFL_ERR_ARENA, "arena too small for a pooling node");
    }
    node->user_data = data;
    data->batches = input->dims[0];
    data->in_h = input->dims[1];
    data->in_w = input->dims[2];
    data->channels = input->dims[3];
    data->out_h = output->dims[1];
    data->out_w = output->dims[2];
    if (output->dims[0] != data->batches || output->dims[3] != data->channels ||
        data->out_h != tfl_conv_output_size(options->padding, data->in_h, options->filter_h, options->stride_h, 1) ||
        data->out_w != tfl_conv_output_size(options->padding, data->in_w, options->filter_w, options->stride_w, 1)) {
        return tfl_fail(ctx, TFL_ERR_BAD_MODEL, shape_message);
    }
    data->pad_h = tfl_conv_padding(data->in_h, data->out_h, options->filter_h, options->stride_h, 1);
    data->pad_w = tfl_conv_padding(data->in_w, data->out_w, options->filter_w, options->stride_w, 1);
    if (input->type == TFL_TYPE_INT8) {
        tfl_quantized_activation_range(options->activation, output->scale, output->zero_point, -128, 127,
            &data->act_min, &data->act_max);
    } else {
        tfl_float_activation_range(options->activation, &data->act_min_f, &data->act_max_f);
    }
    return TFL_OK;
}

tfl_status tfl_average_pool_prepare(tfl_context *ctx, tfl_node *node) {
    return prepare(ctx, node,
        "AVERAGE_POOL_2D: type not supported; supported: int8 (same scale and zero point in and out), float32",
        "AVERAGE_POOL_2D: needs 4-D input and output, a window and strides of at least 1, no fused TANH");
}

tfl_status tfl_max_pool_prepare(tfl_context *ctx, tfl_node *node) {
    return prepare(ctx, node,
        "MAX_POOL_2D: type not supported; supported: int8 (same scale and zero point in and out), float32",
        "MAX_POOL_2D: needs 4-D input and output, a window and strides of at least 1, no fused TANH");
}

/* One window, clipped to the input. */
typedef struct { int32_t y0, y1, x0, x1; } window;

static window window_at(const pool_data *d, const tfl_pool_options *o, int32_t oy, int32_t ox) {
    int32_t iy = oy * o->stride_h - d->pad_h, ix = ox * o->stride_w - d->pad_w;
    window w;
    w.y0 = iy < 0 ? 0 : iy;
    w.y1 = iy + o->filter_h < d->in_h ? iy + o->filter_h : d->in_h;
    w.x0 = ix < 0 ? 0 : ix;
    w.x1 = ix + o->filter_w < d->in_w ? ix + o->filter_w : d->in_w;
    return w;
}

/* Integer division rounded to nearest, halves away from zero. */
static int32_t divide_rounded(int32_t sum, int32_t count) {
    return sum > 0 ? (sum + count / 2) / count : (sum - count / 2) / count;
}

/* Each output element's sum (average pool) or maximum (max pool) over its clipped window, channel innermost.
 * One function per type keeps the type test out of the loops. */
static void average_int8(const pool_data *d, const tfl_pool_options *o, const int8_t *in, int8_t *out) {
    for (int32_t b = 0; b < d->batches; b++) {
        for (int32_t oy = 0; oy < d->out_h; oy++) {
            for (int32_t ox = 0; ox < d->out_w; ox++) {
                window w = window_at(d, o, oy, ox);
                int32_t count = (w.y1 - w.y0) * (w.x1 - w.x0);
                for (int32_t c = 0; c < d->channels; c++) {
                    int32_t sum = 0;
                    for (int32_t y = w.y0; y < w.y1; y++) {
                        for (int32_t x = w.x0; x < w.x1; x++) {
                            sum += in[((b * d->in_h + y) * d->in_w + x) * d->channels + c];
                        }
                    }
                    int32_t average = count > 0 ? divide_rounded(sum, count) : 0;
                    *out++ = (int8_t)tfl_clamp_i32(average, d->act_min, d->act_max);
                }
            }
        }
    }
}

static void average_float(const pool_data *d, const tfl_pool_options *o, const float *in, float *out) {
    for (int32_t b = 0; b < d->batches; b++) {
        for (int32_t oy = 0; oy < d->out_h; oy++) {
            for (int32_t ox = 0; ox < d->out_w; ox++) {
                window w = window_at(d, o, oy, ox);
                int32_t count = (w.y1 - w.y0) * (w.x1 - w.x0);
                for (int32_t c = 0; c < d->channels; c++) {
                    float sum = 0.0f;
                    for (int32_t y = w.y0; y < w.y1; y++) {
                        for (int32_t x = w.x0; x < w.x1; x++) {
                            sum += in[((b * d->in_h + y) * d->in_w + x) * d->channels + c];
                        }
                    }
                    *out++ = tfl_clamp_f32(sum / (float)count, d->act_min_f, d->act_max_f);
                }
            }
        }
    }
}

/* Channels innermost, so that the maxima of a whole pixel's channels are taken at once (the compiler vectorises
 * the loops over c). */
static void max_int8(const pool_data *d, const tfl_pool_options *o, const int8_t *restrict in,
    int8_t *restrict out) {
    for (int32_t b = 0; b < d->batches; b++) {
        for (int32_t oy = 0; oy < d->out_h; oy++) {
            for (int32_t ox = 0; ox < d->out_w; ox++) {
                window w = window_at(d, o, oy, ox);
                for (int32_t c = 0; c < d->channels; c++) {
                    out[c] = -128;
                }
                for (int32_t y = w.y0; y < w.y1; y++) {
                    for (int32_t x = w.x0; x < w.x1; x++) {
                        const int8_t *pixel =
                            in + ((size_t)(b * d->in_h + y) * (size_t)d->in_w + (size_t)x) * (size_t)d->channels;
                        for (int32_t c = 0; c < d->channels; c++) {
                            out[c] = pixel[c] > out[c] ? pixel[c] : out[c];
                        }
                    }
                }
                for (int32_t c = 0; c < d->channels; c++) {
                    out[c] = (int8_t)tfl_clamp_i32(out[c], d->act_min, d->act_max);
                }
                out += d->channels;
            }
        }
    }
}

static void max_float(const pool_data *d, const tfl_pool_options *o, const float *in, float *out) {
    for (int32_t b = 0; b < d->batches; b++) {
        for (int32_t oy = 0; oy < d->out_h; oy++) {
            for (int32_t ox = 0; ox < d->out_w; ox++) {
                window w = window_at(d, o, oy, ox);
                for (int32_t c = 0; c < d->channels; c++) {
                    float max = -3.4028235e38f;
                    for (int32_t y = w.y0; y < w.y1; y++) {
                        for (int32_t x = w.x0; x < w.x1; x++) {
                            float v = in[((b * d->in_h + y) * d->in_w + x) * d->channels + c];
                            max = v > max ? v : max;
                        }
                    }
                    *out++ = tfl_clamp_f32(max, d->act_min_f, d->act_max_f);
                }
            }
        }
    }
}

tfl_status tfl_average_pool_eval(tfl_context *ctx, tfl_node *node) {
    const tfl_tensor *input = tfl_input(ctx, node, 0);
    tfl_tensor *output = tfl_output(ctx, node, 0);
    if (input->type == TFL_TYPE_INT8) {
        average_int8(node->user_data, &node->options.pool, (const int8_t *)input->data, (int8_t *)output->data);
    } else {
        average_float(node->user_data, &node->options.pool, (const float *)input->data, (float *)output->data);
    }
    return TFL_OK;
}

tfl_status tfl_max_pool_eval(tfl_context *ctx, tfl_node *node) {
    const tfl_tensor *input = tfl_input(ctx, node, 0);
    tfl_tensor *output = tfl_output(ctx, node, 0);
    if (input->type == TFL_TYPE_INT8) {
        max_int8(node->user_data, &node->options.pool, (const int8_t *)input->data, (int8_t *)output->data);
    } else {
        max_float(node->user_data, &node->options.pool, (const float *)input->data, (float *)output->data);
    }
    return TFL_OK;
}
