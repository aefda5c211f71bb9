/* The one table of supported ops: the loader looks kernels up here, its "unsupported op" message and the docs
 * list these names. Keep it sorted by op code. The one place that picks a platform variant of an op: on cores
 * with the DSP extension the kernels of arm/ run in place of the reference's (see arm/arm_int8.h). */
#include "kernels.h"
#include "arm/arm_int8.h"

#define REFERENCE(name) tfl_##name##_prepare, tfl_##name##_eval
#if defined(TFL_ARM_DSP)
#define VARIANT(name) tfl_arm_##name##_prepare, tfl_arm_##name##_eval
#else
#define VARIANT(name) REFERENCE(name)
#endif

const tfl_kernel tfl_kernels[] = {
    {TFL_OP_ADD, "ADD", 2, REFERENCE(add)},
    {TFL_OP_AVERAGE_POOL_2D, "AVERAGE_POOL_2D", 2, REFERENCE(average_pool)},
    {TFL_OP_CONV_2D, "CONV_2D", 5, VARIANT(conv)},
    {TFL_OP_DEPTHWISE_CONV_2D, "DEPTHWISE_CONV_2D", 6, VARIANT(depthwise_conv)},
    {TFL_OP_DEQUANTIZE, "DEQUANTIZE", 2, REFERENCE(dequantize)},
    {TFL_OP_FULLY_CONNECTED, "FULLY_CONNECTED", 9, VARIANT(fully_connected)},
    {TFL_OP_LOGISTIC, "LOGISTIC", 2, REFERENCE(logistic)},
    {TFL_OP_MAX_POOL_2D, "MAX_POOL_2D", 2, VARIANT(max_pool)},
    {TFL_OP_RELU, "RELU", 3, REFERENCE(relu)},
    {TFL_OP_RELU6, "RELU6", 2, REFERENCE(relu6)},
    {TFL_OP_RESHAPE, "RESHAPE", 1, REFERENCE(reshape)},
    {TFL_OP_SOFTMAX, "SOFTMAX", 2, REFERENCE(softmax)},
    {TFL_OP_MEAN, "MEAN", 2, REFERENCE(mean)},
    {TFL_OP_QUANTIZE, "QUANTIZE", 2, REFERENCE(quantize)},
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
