#ifndef CONV_REFERENCE_H
#define CONV_REFERENCE_H

#include "kernels/arm/arm_int8.h"

/* The harness's interpreter context: a bump allocator over `pool` for tfl_alloc_persistent. */
struct tfl_context {
    uint8_t *pool;
    size_t used, size;
};

/* One int8 convolution (FC: a 1x1 image per row): shape, per-channel requantisation, activation range. */
typedef struct {
    tfl_arm_conv_shape shape;
    int32_t channels, input_offset, output_offset, act_min, act_max;
    int32_t multiplier[64], shift[64];
} conv_case;

/* NHWC input, OHWI weights, little-endian int32 bias -> NHWC output. */
void reference_conv(const conv_case *c, const int8_t *input, const int8_t *weights, const uint8_t *bias,
    int8_t *output);

#endif
