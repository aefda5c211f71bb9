/* The DSP kernels as node operations: read the node's tensors, prepare the packed weights, run. The reference
 * kernels call these under TFL_ARM_DSP (see arm_int8.h); their own checks of types and shapes have passed. */
#include "arm_int8.h"

#if defined(TFL_ARM_DSP)

struct tfl_arm_conv {
    tfl_arm_gemm gemm;
    tfl_arm_conv_shape shape;
};

struct tfl_arm_fully_connected {
    tfl_arm_gemm gemm;
    int32_t batches;
};

/* Dimension i of a tensor counted as 4-D NHWC. */
static int32_t dim4(const tfl_tensor *t, int i) {
    int pad = 4 - t->dims_count;
    return i < pad ? 1 : t->dims[i - pad];
}

static const uint8_t *bias_data(tfl_context *ctx, const tfl_node *node) {
    const tfl_tensor *bias = tfl_input(ctx, node, 2);
    return bias != NULL ? bias->data : NULL;
}

static uint32_t larger(uint32_t a, uint32_t b) {
    return a > b ? a : b;
}

tfl_status tfl_arm_conv_prepare(tfl_context *ctx, tfl_node *node, int32_t pad_top, int32_t pad_left,
    const tfl_arm_quant *quant, tfl_arm_conv **dsp) {
    const tfl_tensor *input = tfl_input(ctx, node, 0), *filter = tfl_input(ctx, node, 1);
    const tfl_tensor *output = tfl_output(ctx, node, 0);
    const tfl_conv_options *options = &node->options.conv;
    tfl_arm_conv *conv = tfl_alloc_persistent(ctx, sizeof(tfl_arm_conv));
    if (conv == NULL) {
        return tfl_fail(ctx, TFL_ERR_ARENA, "arena too small for CONV_2D");
    }
    conv->shape = (tfl_arm_conv_shape){
        .batches = dim4(input, 0), .input_h = dim4(input, 1), .input_w = dim4(input, 2), .input_c = dim4(input, 3),
        .output_h = dim4(output, 1), .output_w = dim4(output, 2), .filter_h = dim4(filter, 1),
        .filter_w = dim4(filter, 2), .stride_h = options->stride_h, .stride_w = options->stride_w,
        .dilation_h = options->dilation_h, .dilation_w = options->dilation_w, .pad_top = pad_top,
        .pad_left = pad_left, .input_zero_point = -quant->input_offset};
    const tfl_arm_conv_shape *s = &conv->shape;
    tfl_status status = tfl_arm_gemm_prepare(ctx, &conv->gemm,
        tfl_arm_conv_single_channel(s) ? TFL_ARM_SINGLE_CHANNEL : TFL_ARM_ROWS, (const int8_t *)filter->data,
        bias_data(ctx, node), dim4(output, 3), s->filter_h, s->filter_w * s->input_c, quant->input_offset,
        quant->multipliers, quant->shifts, quant->output_offset, quant->act_min, quant->act_max);
    if (status != TFL_OK) {
        return status;
    }
    node->scratch_bytes = larger(node->scratch_bytes, tfl_arm_conv_scratch_bytes(&conv->gemm, s));
    *dsp = conv;
    return TFL_OK;
}

tfl_status tfl_arm_conv_run(const tfl_arm_conv *dsp, tfl_context *ctx, tfl_node *node) {
    tfl_arm_conv_eval(&dsp->gemm, &dsp->shape, (const int8_t *)tfl_input(ctx, node, 0)->data,
        (int8_t *)tfl_output(ctx, node, 0)->data, node->scratch);
    return TFL_OK;
}

tfl_status tfl_arm_fully_connected_prepare(tfl_context *ctx, tfl_node *node, int32_t batches,
    const tfl_arm_quant *quant, tfl_arm_fully_connected **dsp) {
    const tfl_tensor *weights = tfl_input(ctx, node, 1);
    tfl_arm_fully_connected *fc = tfl_alloc_persistent(ctx, sizeof(tfl_arm_fully_connected));
    if (fc == NULL) {
        return tfl_fail(ctx, TFL_ERR_ARENA, "arena too small for FULLY_CONNECTED");
    }
    fc->batches = batches;
    tfl_status status = tfl_arm_gemm_prepare(ctx, &fc->gemm, TFL_ARM_FULLY_CONNECTED, (const int8_t *)weights->data,
        bias_data(ctx, node), weights->dims[0], 1, weights->dims[1], quant->input_offset, quant->multipliers,
        quant->shifts, quant->output_offset, quant->act_min, quant->act_max);
    if (status != TFL_OK) {
        return status;
    }
    node->scratch_bytes = larger(node->scratch_bytes, tfl_arm_fully_connected_scratch_bytes(&fc->gemm));
    *dsp = fc;
    return TFL_OK;
}

tfl_status tfl_arm_fully_connected_run(const tfl_arm_fully_connected *dsp, tfl_context *ctx, tfl_node *node) {
    tfl_arm_fully_connected_eval(&dsp->gemm, dsp->batches, (const int8_t *)tfl_input(ctx, node, 0)->data,
        (int8_t *)tfl_output(ctx, node, 0)->data, node->scratch);
    return TFL_OK;
}

tfl_status tfl_arm_depthwise_prepare(tfl_context *ctx, tfl_node *node, int32_t pad_top, int32_t pad_left,
    const tfl_arm_quant *quant, tfl_arm_depthwise **dsp) {
    const tfl_tensor *input = tfl_input(ctx, node, 0), *filter = tfl_input(ctx, node, 1);
    const tfl_tensor *output = tfl_output(ctx, node, 0);
    const tfl_conv_options *options = &node->options.conv;
    tfl_arm_depthwise *dw = tfl_alloc_persistent(ctx, sizeof(tfl_arm_depthwise));
    if (dw == NULL) {
        return tfl_fail(ctx, TFL_ERR_ARENA, "arena too small for DEPTHWISE_CONV_2D");
    }
    dw->shape = (tfl_arm_conv_shape){
        .batches = dim4(input, 0), .input_h = dim4(input, 1), .input_w = dim4(input, 2), .input_c = dim4(input, 3),
        .output_h = dim4(output, 1), .output_w = dim4(output, 2), .filter_h = dim4(filter, 1),
        .filter_w = dim4(filter, 2), .stride_h = options->stride_h, .stride_w = options->stride_w,
        .dilation_h = options->dilation_h, .dilation_w = options->dilation_w, .pad_top = pad_top,
        .pad_left = pad_left, .input_zero_point = -quant->input_offset};
    tfl_status status = tfl_arm_depthwise_setup(ctx, dw, (const int8_t *)filter->data, bias_data(ctx, node), quant);
    if (status != TFL_OK) {
        return status;
    }
    node->scratch_bytes = larger(node->scratch_bytes, tfl_arm_depthwise_scratch_bytes(dw));
    *dsp = dw;
    return TFL_OK;
}

tfl_status tfl_arm_depthwise_run(const tfl_arm_depthwise *dsp, tfl_context *ctx, tfl_node *node) {
    tfl_arm_depthwise_eval(dsp, (const int8_t *)tfl_input(ctx, node, 0)->data,
        (int8_t *)tfl_output(ctx, node, 0)->data, node->scratch);
    return TFL_OK;
}

#endif /* TFL_ARM_DSP */
