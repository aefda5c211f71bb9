/* The one table of supported ops: the loader looks kernels up here, its "unsupported op" message and the docs
 * list these names. Keep it sorted by op code. */
#include "kernels.h"

const tfl_kernel tfl_kernels[] = {
    {TFL_OP_ADD, "ADD", 2, tfl_add_prepare, tfl_add_eval},
    {TFL_OP_AVERAGE_POOL_2D, "AVERAGE_POOL_2D", 2, tfl_average_pool_prepare, tfl_average_pool_eval},
    {TFL_OP_CONV_2D, "CONV_2D", 5, tfl_conv_prepare, tfl_conv_eval},
    {TFL_OP_DEPTHWISE_CONV_2D, "DEPTHWISE_CONV_2D", 6, tfl_depthwise_conv_prepare, tfl_depthwise_conv_eval},
    {TFL_OP_DEQUANTIZE, "DEQUANTIZE", 2, tfl_dequantize_prepare, tfl_dequantize_eval},
    {TFL_OP_FULLY_CONNECTED, "FULLY_CONNECTED", 9, tfl_fully_connected_prepare, tfl_fully_connected_eval},
    {TFL_OP_LOGISTIC, "LOGISTIC", 2, tfl_logistic_prepare, tfl_logistic_eval},
    {TFL_OP_MAX_POOL_2D, "MAX_POOL_2D", 2, tfl_max_pool_prepare, tfl_max_pool_eval},
    {TFL_OP_RELU, "RELU", 3, tfl_relu_prepare, tfl_relu_eval},
    {TFL_OP_RELU6, "RELU6", 2, tfl_relu6_prepare, tfl_relu6_eval},
    {TFL_OP_RESHAPE, "RESHAPE", 1, tfl_reshape_prepare, tfl_reshape_eval},
    {TFL_OP_SOFTMAX, "SOFTMAX", 2, tfl_softmax_prepare, tfl_softmax_eval},
    {TFL_OP_MEAN, "MEAN", 2, tfl_mean_prepare, tfl_mean_eval},
    {TFL_OP_QUANTIZE, "QUANTIZE", 2, tfl_quantize_prepare, tfl_quantize_eval},
};

const int tfl_kernels_count = (int)(sizeof(tfl_kernels) / sizeof(tfl_kernels[0]));

const tfl_kernel *tfl_find_kernel(int op) {
    for (int i = 0; i < tfl_kernels_count; i++) {
        if (tfl_kernels[i].op == op) {
            return &tfl_kernels[i];
        }
    }
    return NULL;
}
