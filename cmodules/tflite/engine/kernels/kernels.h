/* prepare/eval of every kernel, one pair per op; registry.c puts them in the table. Internal to the engine. */
#ifndef TFL_KERNELS_H
#define TFL_KERNELS_H

#include "../tfl_kernel.h"

#define TFL_DECLARE_KERNEL(name) \
    tfl_status name##_prepare(tfl_context *ctx, tfl_node *node); \
    tfl_status name##_eval(tfl_context *ctx, tfl_node *node);

TFL_DECLARE_KERNEL(tfl_reshape)

#endif
