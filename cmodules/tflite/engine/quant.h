/* The fixed-point numerics every quantised kernel shares, written from the maths of gemmlowp-style integer
 * arithmetic that TFLite's reference kernels use: a real multiplier M in (0, 1) or above is held as a Q31
 * mantissa and a power-of-two exponent, and applied with a rounding doubling high multiply followed by a
 * rounding right shift. */
#ifndef TFL_QUANT_H
#define TFL_QUANT_H

#include <stdint.h>

/* real = multiplier * 2^(shift - 31), multiplier in [2^30, 2^31) (or 0). Positive shift means a left shift. */
void tfl_quantize_multiplier(double real, int32_t *multiplier, int *shift);

/* (a * b * 2) >> 32 rounded to nearest, ties away from zero; saturates the one overflowing case. */
int32_t tfl_saturating_rounding_doubling_high_mul(int32_t a, int32_t b);

/* x / 2^exponent rounded to nearest, ties away from zero. exponent in [0, 31]. */
int32_t tfl_rounding_divide_by_pot(int32_t x, int exponent);

/* x * real, where (multiplier, shift) came from tfl_quantize_multiplier(real). */
int32_t tfl_multiply_by_quantized_multiplier(int32_t x, int32_t multiplier, int shift);

/* x * 2^exponent with saturation for exponent > 0, rounding (as tfl_rounding_divide_by_pot) for exponent < 0. */
int32_t tfl_saturating_rounding_multiply_by_pot(int32_t x, int exponent);

/* The three above as inline functions, for the hot loops of CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED (one
 * requantisation per output value); the out-of-line versions call these, so there is one implementation. */
static inline int32_t tfl_srdhm_inline(int32_t a, int32_t b) {
    if (a == b && a == INT32_MIN) {
        return INT32_MAX;
    }
    int64_t product = (int64_t)a * (int64_t)b;
    int32_t nudge = product >= 0 ? (1 << 30) : (1 - (1 << 30));
    return (int32_t)((product + nudge) / ((int64_t)1 << 31));
}

static inline int32_t tfl_rdbp_inline(int32_t x, int exponent) {
    int32_t mask = (int32_t)(((int64_t)1 << exponent) - 1);
    int32_t remainder = x & mask;
    int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
    return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

static inline int32_t tfl_mbqm_inline(int32_t x, int32_t multiplier, int shift) {
    int left_shift = shift > 0 ? shift : 0;
    int right_shift = shift > 0 ? 0 : -shift;
    return tfl_rdbp_inline(tfl_srdhm_inline((int32_t)((uint32_t)x << left_shift), multiplier), right_shift);
}

/* Fixed-point transcendental functions on raw int32 values. A "Qm" value has m integer bits and 31 - m
 * fractional bits; results are Q0 (value * 2^31, saturated at 1). */

/* exp(a) for a <= 0 given in Q`integer_bits`. */
int32_t tfl_exp_on_negative_values(int32_t a, int integer_bits);

/* 1 / (1 + x) for x in [0, 1] given in Q0. */
int32_t tfl_one_over_one_plus_x_for_x_in_0_1(int32_t x);

/* 1 / (1 + exp(-a)) for a given in Q`integer_bits`. */
int32_t tfl_logistic(int32_t a, int integer_bits);

/* 1 / x for a positive x in Q`integer_bits`: returns y in Q0 and sets *num_bits_over_unit so that
 * 1/x = y * 2^-num_bits_over_unit. */
int32_t tfl_reciprocal(int32_t x, int integer_bits, int *num_bits_over_unit);

/* floor of the largest |input| (in the rescaled domain) that a Q`integer_bits` value reached with a left shift
 * of `left_shift` can represent. Inputs beyond it saturate softmax/logistic. */
int32_t tfl_input_radius(int integer_bits, int left_shift);

/* exp(x) as the float reference kernels compute it (expf). On the host that is the C library's expf, as in the
 * TFLM runtime. On the device the C library's expf (MicroPython's lib/libm, or newlib's single-precision one) is
 * 1 ulp off glibc's on about 10% of softmax-range inputs, so the device uses tfl_expf_via_double instead. */
float tfl_reference_expf(float x);

/* exp(x) evaluated in double (no libm: range reduction by ln 2 and a degree-14 Taylor polynomial) and rounded
 * once to float: the correctly rounded expf except within ~2^-50 of a tie. The same bits on every IEEE-754
 * platform, so host tests speak for the device. */
float tfl_expf_via_double(float x);

/* x rounded to the nearest integer, halves away from zero (as roundf), saturated to +-1e9; no libm needed. */
int32_t tfl_round_half_away_f32(float x);

/* Output range of a fused activation for a quantised tensor with this scale and zero point, clamped to
 * [qmin, qmax] of its type. */
void tfl_quantized_activation_range(int activation, float scale, int32_t zero_point,
    int32_t qmin, int32_t qmax, int32_t *act_min, int32_t *act_max);

/* Output range of a fused activation for float32. */
void tfl_float_activation_range(int activation, float *act_min, float *act_max);

#endif
