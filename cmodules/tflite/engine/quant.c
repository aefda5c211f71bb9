#include "quant.h"

#include <string.h>

#include "tfl_kernel.h"

/* frexp and round for IEEE-754 doubles, done on the bits: the device's libm is single precision only. */
static double split_exponent(double x, int *exponent) {
    uint64_t bits;
    memcpy(&bits, &x, 8);
    int biased = (int)((bits >> 52) & 0x7ff);
    if (biased == 0) { /* zero or subnormal: scale into the normal range first */
        double scaled = x * 18014398509481984.0; /* 2^54 */
        double mantissa = split_exponent(scaled, exponent);
        *exponent -= 54;
        return mantissa;
    }
    *exponent = biased - 1022;
    bits = (bits & ~((uint64_t)0x7ff << 52)) | ((uint64_t)1022 << 52); /* mantissa in [0.5, 1) */
    memcpy(&x, &bits, 8);
    return x;
}

static int64_t round_half_away(double x) {
    return x >= 0 ? (int64_t)(x + 0.5) : -(int64_t)(-x + 0.5);
}

void tfl_quantize_multiplier(double real, int32_t *multiplier, int *shift) {
    if (real == 0.0) {
        *multiplier = 0;
        *shift = 0;
        return;
    }
    double mantissa = split_exponent(real, shift);
    int64_t fixed = round_half_away(mantissa * 2147483648.0); /* mantissa * 2^31 */
    if (fixed == ((int64_t)1 << 31)) { /* rounding carried into the next power of two */
        fixed /= 2;
        ++*shift;
    }
    if (*shift < -31) { /* too small to represent: the product is zero */
        *shift = 0;
        fixed = 0;
    }
    *multiplier = (int32_t)fixed;
}

int32_t tfl_saturating_rounding_doubling_high_mul(int32_t a, int32_t b) {
    if (a == b && a == INT32_MIN) {
        return INT32_MAX;
    }
    int64_t product = (int64_t)a * (int64_t)b;
    int32_t nudge = product >= 0 ? (1 << 30) : (1 - (1 << 30));
    return (int32_t)((product + nudge) / ((int64_t)1 << 31));
}

int32_t tfl_rounding_divide_by_pot(int32_t x, int exponent) {
    int32_t mask = (int32_t)(((int64_t)1 << exponent) - 1);
    int32_t remainder = x & mask;
    int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
    return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

int32_t tfl_multiply_by_quantized_multiplier(int32_t x, int32_t multiplier, int shift) {
    int left_shift = shift > 0 ? shift : 0;
    int right_shift = shift > 0 ? 0 : -shift;
    return tfl_rounding_divide_by_pot(
        tfl_saturating_rounding_doubling_high_mul((int32_t)((uint32_t)x << left_shift), multiplier), right_shift);
}

static int32_t quantize_clamped(float value, float scale, int32_t zero_point, int32_t qmin, int32_t qmax) {
    float scaled = value / scale;
    int32_t q = zero_point + (int32_t)(scaled >= 0 ? scaled + 0.5f : scaled - 0.5f);
    return q < qmin ? qmin : (q > qmax ? qmax : q);
}

void tfl_quantized_activation_range(int activation, float scale, int32_t zero_point,
    int32_t qmin, int32_t qmax, int32_t *act_min, int32_t *act_max) {
    *act_min = qmin;
    *act_max = qmax;
    if (activation == TFL_ACT_RELU) {
        *act_min = quantize_clamped(0.0f, scale, zero_point, qmin, qmax);
    } else if (activation == TFL_ACT_RELU6) {
        *act_min = quantize_clamped(0.0f, scale, zero_point, qmin, qmax);
        *act_max = quantize_clamped(6.0f, scale, zero_point, qmin, qmax);
    } else if (activation == TFL_ACT_RELU_N1_TO_1) {
        *act_min = quantize_clamped(-1.0f, scale, zero_point, qmin, qmax);
        *act_max = quantize_clamped(1.0f, scale, zero_point, qmin, qmax);
    }
}

void tfl_float_activation_range(int activation, float *act_min, float *act_max) {
    *act_min = -3.4028235e38f;
    *act_max = 3.4028235e38f;
    if (activation == TFL_ACT_RELU) {
        *act_min = 0.0f;
    } else if (activation == TFL_ACT_RELU6) {
        *act_min = 0.0f;
        *act_max = 6.0f;
    } else if (activation == TFL_ACT_RELU_N1_TO_1) {
        *act_min = -1.0f;
        *act_max = 1.0f;
    }
}
