#include "common.h"

tfl_status tfl_per_channel_multipliers(tfl_context *ctx, const tfl_tensor *input, const tfl_tensor *filter,
    const tfl_tensor *output, int32_t channels, int32_t channel_dimension, int32_t **multipliers, tfl_shift **shifts) {
    int32_t count = filter->quant.count;
    if (count != 1 && (count != channels || filter->quant.quantized_dimension != channel_dimension)) {
        return tfl_fail(ctx, TFL_ERR_BAD_MODEL, "int8 weights have neither one scale nor one per output channel");
    }
    for (int32_t c = 0; c < count; c++) {
        if (tfl_quant_zero_point(&filter->quant, c) != 0) {
            return tfl_fail(ctx, TFL_ERR_UNSUPPORTED, "int8 weights need zero point 0 (symmetric quantisation)");
        }
    }
    /* one block: the multipliers, then the shifts */
    *multipliers = tfl_alloc_persistent(ctx, (sizeof(int32_t) + sizeof(tfl_shift)) * (size_t)channels);
    if (*multipliers == NULL) {
        return tfl_fail(ctx, TFL_ERR_ARENA, "arena too small for per-channel multipliers");
    }
    *shifts = (tfl_shift *)(void *)(*multipliers + channels);
    for (int32_t c = 0; c < channels; c++) {
        double filter_scale = (double)tfl_quant_scale(&filter->quant, count == 1 ? 0 : c);
        double real = (double)input->scale * filter_scale / (double)output->scale;
        int shift;
        tfl_quantize_multiplier(real, &(*multipliers)[c], &shift);
        (*shifts)[c] = (tfl_shift)shift;
    }
    return TFL_OK;
}

void tfl_int8_io_setup(tfl_int8_io *io, const tfl_tensor *input, const tfl_tensor *output, int activation) {
    io->input_offset = -input->zero_point;
    io->output_offset = output->zero_point;
    tfl_quantized_activation_range(activation, output->scale, output->zero_point, -128, 127, &io->act_min,
        &io->act_max);
}

/* In 64 bits: a model's filter size times its dilation need not fit in 32. */
int32_t tfl_conv_output_size(int padding, int32_t input, int32_t filter, int32_t stride, int32_t dilation) {
    int64_t effective_filter = (int64_t)(filter - 1) * dilation + 1;
    int64_t size = padding == TFL_PADDING_SAME ? ((int64_t)input + stride - 1) / stride
                                               : ((int64_t)input - effective_filter + stride) / stride;
    return size < 0 ? -1 : (int32_t)size;
}

int32_t tfl_conv_padding(int32_t input, int32_t output, int32_t filter, int32_t stride, int32_t dilation) {
    int64_t effective_filter = (int64_t)(filter - 1) * dilation + 1;
    int64_t total = (int64_t)(output - 1) * stride + effective_filter - input;
    return total > 0 ? (int32_t)(total / 2) : 0;
}

tfl_window_shape tfl_window_shape_of(const tfl_tensor *input, const tfl_tensor *filter, const tfl_tensor *output,
    const tfl_conv_options *options) {
    tfl_window_shape s;
    s.batches = tfl_dim4(input, 0);
    s.in_h = tfl_dim4(input, 1);
    s.in_w = tfl_dim4(input, 2);
    s.in_c = tfl_dim4(input, 3);
    s.out_h = tfl_dim4(output, 1);
    s.out_w = tfl_dim4(output, 2);
    s.out_c = tfl_dim4(output, 3);
    s.filter_h = tfl_dim4(filter, 1);
    s.filter_w = tfl_dim4(filter, 2);
    s.multiplier = s.in_c > 0 ? s.out_c / s.in_c : 0;
    s.stride_h = options->stride_h;
    s.stride_w = options->stride_w;
    s.dilation_h = options->dilation_h;
    s.dilation_w = options->dilation_w;
    s.pad_h = tfl_conv_padding(s.in_h, s.out_h, s.filter_h, s.stride_h, s.dilation_h);
    s.pad_w = tfl_conv_padding(s.in_w, s.out_w, s.filter_w, s.stride_w, s.dilation_w);
    return s;
}
