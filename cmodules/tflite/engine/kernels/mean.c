/* MEAN over any set of axes given by a constant int32 tensor, with or without keep_dims; int8 and float32.
 * Each output element sums its reduced inputs in row-major order (the reference's order for float). int8: the
 * sum, less the zero points, is rescaled by input_scale / (output_scale * count) with one fixed-point
 * multiplier whose shift absorbs the division. */
#include "common.h"

typedef struct {
    int32_t dims_count;
    int32_t dims[TFL_MAX_DIMS];
    uint8_t reduced[TFL_MAX_DIMS];
    int32_t outputs, reduced_count;
    int32_t input_zero_point, output_zero_point, multiplier, shift;
} mean_data;

static int count_leading_zeros_64(uint64_t x) {
    int n = 0;
    while (n < 64 && (x & ((uint64_t)1 << 63)) == 0) {
        x <<= 1;
        n++;
    }
    return n;
}

tfl_status tfl_mean_prepare(tfl_context *ctx, tfl_node *node) {
    const tfl_tensor *input = tfl_input(ctx, node, 0);
    const tfl_tensor *axis = tfl_input(ctx, node, 1);
    const tfl_tensor *output = tfl_output(ctx, node, 0);
    if (input == NULL || axis == NULL || output == NULL) {
        return tfl_fail(ctx, TFL_ERR_BAD_MODEL, "MEAN: missing input, axis or output");
    }
    if ((input->type != TFL_TYPE_INT8 && input->type != TFL_TYPE_FLOAT32) || output->type != input->type) {
        return tfl_fail(ctx, TFL_ERR_UNSUPPORTED, "MEAN: types not supported; supported: int8, float32");
    }
    if (axis->type != TFL_TYPE_INT32 || !axis->is_constant) {
        return tfl_fail(ctx, TFL_ERR_UNSUPPORTED, "MEAN: the axes must be a constant int32 tensor");
    }
    mean_data *data = tfl_alloc_persistent(ctx, sizeof(mean_data));
    if (data == NULL) {
        return tfl_fail(ctx, TFL_ERR_ARENA, "arena too small for MEAN");
    }
    memset(data, 0, sizeof(*data));
    node->user_data = data;
    data->dims_count = input->dims_count;
    memcpy(data->dims, input->dims, sizeof(data->dims));
    for (int32_t i = 0; i < tfl_element_count(axis); i++) {
        int32_t a = tfl_read_i32(axis->data + 4 * (size_t)i);
        if (a < 0) {
            a += input->dims_count;
        }
        if (a < 0 || a >= input->dims_count) {
            return tfl_fail(ctx, TFL_ERR_BAD_MODEL, "MEAN: axis out of range");
        }
        data->reduced[a] = 1;
    }
    data->outputs = 1;
    data->reduced_count = 1;
    for (int i = 0; i < input->dims_count; i++) {
        if (data->reduced[i]) {
            data->reduced_count *= input->dims[i];
        } else {
            data->outputs *= input->dims[i];
        }
    }
    if (tfl_element_count(output) != data->outputs || data->reduced_count <= 0) {
        return tfl_fail(ctx, TFL_ERR_BAD_MODEL, "MEAN: output size does not match the reduced input");
    }
    if (input->type == TFL_TYPE_INT8) {
        int shift;
        tfl_quantize_multiplier((double)input->scale / (double)output->scale, &data->multiplier, &shift);
        /* fold the division by the count into the multiplier, keeping as many bits as the shift allows */
        int extra = 63 - count_leading_zeros_64((uint64_t)data->reduced_count);
        extra = extra < 32 ? extra : 32;
        extra = extra < 31 + shift ? extra : 31 + shift;
        data->multiplier = (int32_t)(((int64_t)data->multiplier << extra) / data->reduced_count);
        data->shift = shift - extra;
        data->input_zero_point = input->zero_point;
        data->output_zero_point = output->zero_point;
    }
    return TFL_OK;
}

tfl_status tfl_mean_eval(tfl_context *ctx, tfl_node *node) {
    const mean_data *d = node->user_data;
    const tfl_tensor *input = tfl_input(ctx, node, 0);
    tfl_tensor *output = tfl_output(ctx, node, 0);
    int32_t strides[TFL_MAX_DIMS];
    int32_t stride = 1;
    for (int i = d->dims_count - 1; i >= 0; i--) {
        strides[i] = stride;
        stride *= d->dims[i];
    }
    int32_t kept_index[TFL_MAX_DIMS] = {0};
    for (int32_t o = 0; o < d->outputs; o++) {
        int32_t base = 0;
        for (int i = 0; i < d->dims_count; i++) {
            base += d->reduced[i] ? 0 : kept_index[i] * strides[i];
        }
        int32_t reduced_index[TFL_MAX_DIMS] = {0};
        int32_t int_sum = 0;
        float float_sum = 0.0f;
        for (int32_t r = 0; r < d->reduced_count; r++) {
            int32_t at = base;
            for (int i = 0; i < d->dims_count; i++) {
                at += d->reduced[i] ? reduced_index[i] * strides[i] : 0;
            }
            if (input->type == TFL_TYPE_INT8) {
                int_sum = tfl_wrapping_add(int_sum, ((const int8_t *)input->data)[at]);
            } else {
                float_sum += ((const float *)input->data)[at];
            }
            for (int k = d->dims_count - 1; k >= 0; k--) { /* next reduced position, last axis fastest */
                if (d->reduced[k] && ++reduced_index[k] < d->dims[k]) {
                    break;
                }
                reduced_index[k] = 0;
            }
        }
        if (input->type == TFL_TYPE_INT8) {
            int32_t centred = tfl_wrapping_add(int_sum, tfl_wrapping_mul(-d->input_zero_point, d->reduced_count));
            int32_t q = tfl_wrapping_add(tfl_multiply_by_quantized_multiplier(centred, d->multiplier, d->shift),
                d->output_zero_point);
            ((int8_t *)output->data)[o] = (int8_t)tfl_clamp_i32(q, -128, 127);
        } else {
            ((float *)output->data)[o] = float_sum / (float)d->reduced_count;
        }
        for (int k = d->dims_count - 1; k >= 0; k--) { /* next output position */
            if (!d->reduced[k] && ++kept_index[k] < d->dims[k]) {
                break;
            }
            kept_index[k] = 0;
        }
    }
    return TFL_OK;
}
