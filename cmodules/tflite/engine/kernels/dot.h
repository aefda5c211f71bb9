/* The inner products of FULLY_CONNECTED and CONV_2D. Integer sums are exact (modulo 2^32), so any summation
 * order gives the reference's result; float sums must run first to last like the reference loops. */
#ifndef TFL_KERNELS_DOT_H
#define TFL_KERNELS_DOT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* The int8 CONV_2D and FULLY_CONNECTED of the host and reference build (on Cortex-M4/M7 the DSP variants in
 * kernels/arm/ replace these ops whole): an input run already offset by the input zero point (int16, so that
 * x - zero_point fits) against int8 weights read in place from the model. Written for the vectoriser (at -O3,
 * e.g. PMADDWD on x86-64, SMLAL on AArch64): widening int16 products summed in uint32 lanes (wrapping, never
 * overflowing). `tfl_dot4_s16_s8` does four filters at once, `stride` bytes apart, so that each input value is
 * loaded once for four products. */
static inline int32_t tfl_dot_s16_s8(const int16_t *x, const int8_t *w, int32_t n) {
    uint32_t sum = 0;
    for (int32_t i = 0; i < n; i++) {
        sum += (uint32_t)((int32_t)x[i] * (int16_t)w[i]);
    }
    return (int32_t)sum;
}

static inline void tfl_dot4_s16_s8(const int16_t *x, const int8_t *w, size_t stride, int32_t n, int32_t out[4]) {
    const int8_t *w0 = w, *w1 = w + stride, *w2 = w + 2 * stride, *w3 = w + 3 * stride;
    uint32_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    for (int32_t i = 0; i < n; i++) {
        int32_t v = x[i];
        s0 += (uint32_t)(v * (int16_t)w0[i]);
        s1 += (uint32_t)(v * (int16_t)w1[i]);
        s2 += (uint32_t)(v * (int16_t)w2[i]);
        s3 += (uint32_t)(v * (int16_t)w3[i]);
    }
    out[0] = (int32_t)s0;
    out[1] = (int32_t)s1;
    out[2] = (int32_t)s2;
    out[3] = (int32_t)s3;
}

/* The same with the input still int8, offset on the fly (FULLY_CONNECTED, whose input is read once per four
 * units: converting it here costs less than scratch memory for an int16 copy would). */
static inline int32_t tfl_dot_s8_offset(const int8_t *x, int32_t offset, const int8_t *w, int32_t n) {
    uint32_t sum = 0;
    for (int32_t i = 0; i < n; i++) {
        sum += (uint32_t)((int16_t)(x[i] + offset) * (int16_t)w[i]);
    }
    return (int32_t)sum;
}

static inline void tfl_dot4_s8_offset(const int8_t *x, int32_t offset, const int8_t *w, size_t stride, int32_t n,
    int32_t out[4]) {
    const int8_t *w0 = w, *w1 = w + stride, *w2 = w + 2 * stride, *w3 = w + 3 * stride;
    uint32_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    for (int32_t i = 0; i < n; i++) {
        int32_t v = (int16_t)(x[i] + offset);
        s0 += (uint32_t)(v * (int16_t)w0[i]);
        s1 += (uint32_t)(v * (int16_t)w1[i]);
        s2 += (uint32_t)(v * (int16_t)w2[i]);
        s3 += (uint32_t)(v * (int16_t)w3[i]);
    }
    out[0] = (int32_t)s0;
    out[1] = (int32_t)s1;
    out[2] = (int32_t)s2;
    out[3] = (int32_t)s3;
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
