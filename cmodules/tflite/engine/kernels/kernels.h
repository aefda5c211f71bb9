/* prepare/eval of every kernel, one pair per op; registry.c puts them in the table. Internal to the engine. */
#ifndef TFL_KERNELS_H
#define TFL_KERNELS_H

#include "../tfl_kernel.h"

#define TFL_DECLARE_KERNEL(name) \
    tfl_status name##_prepare(tfl_context *ctx, tfl_node *node); \
    tfl_status name##_eval(tfl_context *ctx, tfl_node *node);

TFL_DECLARE_KERNEL(tfl_add)
TFL_DECLARE_KERNEL(tfl_average_pool)
TFL_DECLARE_KERNEL(tfl_conv)
TFL_DECLARE_KERNEL(tfl_depthwise_conv)
TFL_DECLARE_KERNEL(tfl_dequantize)
TFL_DECLARE_KERNEL(tfl_fully_connected)
TFL_DECLARE_KERNEL(tfl_logistic)
TFL_DECLARE_KERNEL(tfl_max_pool)
TFL_DECLARE_KERNEL(tfl_mean)
TFL_DECLARE_KERNEL(tfl_quantize)
TFL_DECLARE_KERNEL(tfl_relu)
TFL_DECLARE_KERNEL(tfl_relu6)
TFL_DECLARE_KERNEL(tfl_reshape)
TFL_DECLARE_KERNEL(tfl_softmax)

#endif
