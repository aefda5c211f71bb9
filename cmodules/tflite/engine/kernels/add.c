/* ADD with broadcasting over up to TFL_MAX_DIMS dimensions and a fused activation. int8: both inputs are
 * brought to a common scale (twice the larger input scale) with 20 bits of headroom, added, then rescaled to
 * the output; float32: a + b. */
#include "common.h"

#define ADD_LEFT_SHIFT 20

typedef struct {
    int32_t dims_count;
    int32_t out_dims[TFL_MAX_DIMS];
    int32_t stride1[TFL_MAX_DIMS], stride2[TFL_MAX_DIMS]; /* element strides, 0 along broadcast dimensions */
    int32_t count;
    int32_t offset1, offset2, output_offset;
    int32_t multiplier1, shift1, multiplier2, shift2, output_multiplier, output_shift;
    int32_t act_min, act_max;
    float act_min_f, act_max_f;
} add_data;

/* Strides of `t` seen through the output's shape (aligned at the last dimension), 0 where it broadcasts. */
static int broadcast_strides(const tfl_tensor *t, const tfl_tensor *output, int32_t *strides) {
    int32_t stride = 1;
    for (int i = output->dims_count - 1; i >= 0; i--) {
        int j = i - (output->dims_count - t->dims_count);
        int32_t dim = j >= 0 ? t->dims[j] : 1;
        if (dim != 1 && dim != output->dims[i]) {
            return 0;
        }
        strides[i] = dim == 1 ? 0 : stride;
        stride *= dim;
    }
    return 1;
}

static tfl_status prepare_int8(add_data *data, const tfl_tensor *input1, const tfl_tensor *input2,
    const tfl_tensor *output, int activation) {
    double max_scale = input1->scale > input2->scale ? (double)input1->scale : (double)input2->scale;
    double twice_max_scale = max_scale * 2;
    int shift;
    tfl_quantize_multiplier((double)input1->scale / twice_max_scale, &data->multiplier1, &shift);
    data->shift1 = shift;
    tfl_quantize_multiplier((double)input2->scale / twice_max_scale, &data->multiplier2, &shift);
    data->shift2 = shift;
    tfl_quantize_multiplier(twice_max_scale / ((double)(1 << ADD_LEFT_SHIFT) * (double)output->scale),
        &data->output_multiplier, &shift);
    data->output_shift = shift;
    data->offset1 = -input1->zero_point;
    data->offset2 = -input2->zero_point;
    data->output_offset = output->zero_point;
    tfl_quantized_activation_range(activation, output->scale, output->zero_point, -128, 127, &data->act_min,
        &data->act_max);
    return TFL_OK;
}

tfl_status tfl_add_prepare(tfl_context *ctx, tfl_node *node) {
    const tfl_tensor *input1 = tfl_input(ctx, node, 0);
    const tfl_tensor *input2 = tfl_input(ctx, node, 1);
    const tfl_tensor *output = tfl_output(ctx, node, 0);
    if (input1 == NULL || input2 == NULL || output == NULL) {
        return tfl_fail(ctx, TFL_ERR_BAD_MODEL, "ADD: missing input or output");
    }
    if ((input1->type != TFL_TYPE_INT8 && input1->type != TFL_TYPE_FLOAT32) || input2->type != input1->type ||
        output->type != input1->type) {
        return tfl_fail(ctx, TFL_ERR_UNSUPPORTED, "ADD: types not supported; supported: int8, float32");
    }
    if (node->options.add.activation == TFL_ACT_TANH) {
        return tfl_fail(ctx, TFL_ERR_UNSUPPORTED,
            "ADD: fused TANH not supported; supported: NONE, RELU, RELU6, RELU_N1_TO_1");
    }
    add_data *data = tfl_alloc_persistent(ctx, sizeof(add_data));
    if (data == NULL) {
        return tfl_fail(ctx, TFL_ERR_ARENA, "arena too small for ADD");
    }
    node->user_data = data;
    if (input1->dims_count > output->dims_count || input2->dims_count > output->dims_count ||
        !broadcast_strides(input1, output, data->stride1) || !broadcast_strides(input2, output, data->stride2)) {
        return tfl_fail(ctx, TFL_ERR_BAD_MODEL, "ADD: input shapes do not broadcast to the output shape");
    }
    data->dims_count = output->dims_count;
    memcpy(data->out_dims, output->dims, sizeof(data->out_dims));
    data->count = tfl_element_count(output);
    if (input1->type == TFL_TYPE_FLOAT32) {
        tfl_float_activation_range(node->options.add.activation, &data->act_min_f, &data->act_max_f);
        return TFL_OK;
    }
    return prepare_int8(data, input1, input2, output, node->options.add.activation);
}

static int8_t add_int8(const add_data *d, int32_t a, int32_t b) {
    int32_t scaled1 = tfl_multiply_by_quantized_multiplier((a + d->offset1) * (1 << ADD_LEFT_SHIFT), d->multiplier1,
        d->shift1);
    int32_t scaled2 = tfl_multiply_by_quantized_multiplier((b + d->offset2) * (1 << ADD_LEFT_SHIFT), d->multiplier2,
        d->shift2);
    int32_t sum = tfl_multiply_by_quantized_multiplier(scaled1 + scaled2, d->output_multiplier, d->output_shift);
    return (int8_t)tfl_clamp_i32(tfl_wrapping_add(sum, d->output_offset), d->act_min, d->act_max);
}

tfl_status tfl_add_eval(tfl_context *ctx, tfl_node *node) {
    const add_data *d = node->user_data;
    const tfl_tensor *input1 = tfl_input(ctx, node, 0);
    const tfl_tensor *input2 = tfl_input(ctx, node, 1);
    tfl_tensor *output = tfl_output(ctx, node, 0);
    int32_t index[TFL_MAX_DIMS] = {0};
    int32_t i1 = 0, i2 = 0;
    for (int32_t i = 0; i < d->count; i++) {
        if (input1->type == TFL_TYPE_INT8) {
            ((int8_t *)output->data)[i] = add_int8(d, ((const int8_t *)input1->data)[i1],
                ((const int8_t *)input2->data)[i2]);
        } else {
            /* an input may be a constant of the model, which need not be aligned */
            float sum = tfl_read_f32(input1->data + 4 * (size_t)i1) + tfl_read_f32(input2->data + 4 * (size_t)i2);
            ((float *)output->data)[i] = tfl_clamp_f32(sum, d->act_min_f, d->act_max_f);
        }
        /* advance the output index like an odometer, moving both input offsets along */
        for (int k = d->dims_count - 1; k >= 0; k--) {
            i1 += d->stride1[k];
            i2 += d->stride2[k];
            if (++index[k] < d->out_dims[k]) {
                break;
            }
            i1 -= d->stride1[k] * d->out_dims[k];
            i2 -= d->stride2[k] * d->out_dims[k];
            index[k] = 0;
        }
    }
    return TFL_OK;
}
