/* The inner products of FULLY_CONNECTED and CONV_2D. Integer sums are exact (modulo 2^32), so any summation
 * order gives the reference's result; float sums must run first to last like the reference loops. */
#ifndef TFL_KERNELS_DOT_H
#define TFL_KERNELS_DOT_H

#include <stdint.h>
#include <string.h>

/* On Cortex-M4/M7 the int8 conv and FC evals do not get here: kernels/arm/ replaces the whole op. */
static inline int32_t tfl_dot_s8(const int8_t *a, const int8_t *b, int32_t n) {
    uint32_t sum = 0; /* wraps, never overflows (see tfl_wrapping_add) */
    for (int32_t i = 0; i < n; i++) {
        sum += (uint32_t)((int32_t)a[i] * (int32_t)b[i]);
    }
    return (int32_t)sum;
}

/* Float weights come from the model and may be unaligned, hence the byte pointer. `sum` carries on from the
 * caller's running total so that the order of additions stays the reference's. */
static inline float tfl_dot_f32(float sum, const float *a, const uint8_t *b, int32_t n) {
    for (int32_t i = 0; i < n; i++) {
        float w;
        memcpy(&w, b + 4 * i, 4);
        sum += a[i] * w;
    }
    return sum;
}

#endif
