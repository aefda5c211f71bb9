/* What the reference kernels' prepare leaves in node->user_data, for the platform variants (kernels/arm/) whose
 * prepare runs the reference prepare first and builds on its checks and figures. Internal to kernels/. */
#ifndef TFL_KERNELS_REFERENCE_H
#define TFL_KERNELS_REFERENCE_H

#include "common.h"

/* CONV_2D and DEPTHWISE_CONV_2D. */
typedef struct {
    tfl_int8_io io;
    int32_t *multipliers;
    tfl_shift *shifts;
    float act_min, act_max; /* float32 */
    void *variant;          /* a platform variant's own data (kernels/arm/), or NULL: the reference runs */
} tfl_conv_data;

typedef struct {
    int32_t batches, depth, units;
    tfl_int8_io io;
    int32_t *multipliers;
    tfl_shift *shifts;
    float act_min, act_max; /* float32 */
    void *variant;          /* as in tfl_conv_data */
} tfl_fully_connected_data;

/* AVERAGE_POOL_2D and MAX_POOL_2D. */
typedef struct {
    int32_t batches, in_h, in_w, channels, out_h, out_w, pad_h, pad_w;
    int32_t act_min, act_max; /* int8 */
    float act_min_f, act_max_f;
} tfl_pool_data;

#endif
