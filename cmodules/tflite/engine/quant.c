#include "quant.h"

#include <math.h>
#include <string.h>

#include "tfl_kernel.h"

/* The firmware compiles with -fsingle-precision-constant, which makes every unsuffixed floating literal a float:
 * double constants here are built from integers (exact) or from their IEEE-754 bits, never from a literal. */
static double double_from_bits(uint64_t bits) {
    double x;
    memcpy(&x, &bits, 8);
    return x;
}

/* frexp and round for IEEE-754 doubles, done on the bits: the device's libm is single precision only. */
static double split_exponent(double x, int *exponent) {
    uint64_t bits;
    memcpy(&bits, &x, 8);
    int biased = (int)((bits >> 52) & 0x7ff);
    if (biased == 0) { /* zero or subnormal: scale into the normal range first */
        double scaled = x * (double)((int64_t)1 << 54);
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
    const double half = (double)1 / 2;
    return x >= 0 ? (int64_t)(x + half) : -(int64_t)(-x + half);
}

void tfl_quantize_multiplier(double real, int32_t *multiplier, int *shift) {
    if (real == 0) {
        *multiplier = 0;
        *shift = 0;
        return;
    }
    double mantissa = split_exponent(real, shift);
    int64_t fixed = round_half_away(mantissa * (double)((int64_t)1 << 31));
    if (fixed == ((int64_t)1 << 31)) { /* rounding carried into the next power of two */
        fixed /= 2;
        ++*shift;
    }
    if (*shift < -31) { /* too small to represent: the product is zero */
        *shift = 0;
        fixed = 0;
    }
    if (*shift > 31) { /* beyond any int32 product: saturate rather than shift out of range */
        *shift = 31;
        fixed = INT32_MAX;
    }
    *multiplier = (int32_t)fixed;
}

int32_t tfl_saturating_rounding_doubling_high_mul(int32_t a, int32_t b) {
    return tfl_srdhm_inline(a, b);
}

int32_t tfl_rounding_divide_by_pot(int32_t x, int exponent) {
    return tfl_rdbp_inline(x, exponent);
}

int32_t tfl_multiply_by_quantized_multiplier(int32_t x, int32_t multiplier, int shift) {
    return tfl_mbqm_inline(x, multiplier, shift);
}

float tfl_expf_via_double(float x) {
    if (x != x) {
        return x; /* NaN */
    }
    if (x > 89.0f) {
        return HUGE_VALF;
    }
    if (x < -104.0f) {
        return 0.0f;
    }
    /* x = k ln2 + r with |r| <= ln2 / 2: ln2_high = 726817 / 2^20 (20 significant bits, so k * ln2_high is
     * exact) plus ln2_low, the rest of ln 2 to double precision. k only needs to be about right. */
    const double ln2_high = (double)726817 / (double)(1 << 20);
    const double ln2_low = double_from_bits(0x3e9fdf473de6af28u);
    const double inverse_ln2 = double_from_bits(0x3ff71547652b82feu);
    double xd = (double)x;
    int32_t k = (int32_t)(xd * inverse_ln2 + (xd >= 0 ? (double)1 / 2 : (double)-1 / 2));
    double r = (xd - (double)k * ln2_high) - (double)k * ln2_low;
    /* exp(r) = sum r^n / n!, n <= 14 (the next term is below 2^-57 for |r| <= ln2 / 2) */
    double p = (double)1 / (double)87178291200LL;
    int64_t factorial = 87178291200LL; /* 14! */
    for (int n = 14; n >= 1; n--) {
        factorial /= n;
        p = p * r + (double)1 / (double)factorial; /* 1 / (n-1)! */
    }
    uint64_t scale_bits = (uint64_t)(k + 1023) << 52; /* 2^k, k in [-151, 129]: a normal double */
    double scale;
    memcpy(&scale, &scale_bits, 8);
    return (float)(p * scale);
}

float tfl_reference_expf(float x) {
#if defined(__arm__)
    return tfl_expf_via_double(x);
#else
    return expf(x);
#endif
}

int32_t tfl_round_half_away_f32(float x) {
    if (x > 1e9f) {
        return 1000000000;
    }
    if (x < -1e9f) {
        return -1000000000;
    }
    float magnitude = x >= 0 ? x : -x;
    int32_t whole = (int32_t)magnitude;
    /* the fraction is exact in float, unlike magnitude + 0.5f which rounds 0.49999997f up */
    int32_t rounded = whole + (magnitude - (float)whole >= 0.5f ? 1 : 0);
    return x >= 0 ? rounded : -rounded;
}

static int32_t quantize_clamped(float value, float scale, int32_t zero_point, int32_t qmin, int32_t qmax) {
    int32_t q = zero_point + tfl_round_half_away_f32(value / scale);
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

int32_t tfl_saturating_rounding_multiply_by_pot(int32_t x, int exponent) {
    if (exponent < 0) {
        return tfl_rounding_divide_by_pot(x, -exponent);
    }
    if (exponent == 0) {
        return x;
    }
    int32_t threshold = (int32_t)(((int64_t)1 << (31 - exponent)) - 1);
    if (x > threshold) {
        return INT32_MAX;
    }
    if (x < -threshold) {
        return INT32_MIN;
    }
    return (int32_t)((uint32_t)x << exponent);
}

#define Q0_ONE INT32_MAX

/* exp(x) for x in [-1/4, 0), Q0 in and out: a Taylor series around -1/8. */
static int32_t exp_on_interval_minus_quarter_to_zero(int32_t a) {
    const int32_t exp_minus_one_eighth = 1895147668; /* exp(-1/8) in Q0 */
    const int32_t one_third = 715827883;             /* 1/3 in Q0 */
    int32_t x = a + (1 << 28);                       /* a + 1/8 */
    int32_t x2 = tfl_saturating_rounding_doubling_high_mul(x, x);
    int32_t x3 = tfl_saturating_rounding_doubling_high_mul(x2, x);
    int32_t x4 = tfl_saturating_rounding_doubling_high_mul(x2, x2);
    int32_t x4_over_4 = tfl_rounding_divide_by_pot(x4, 2);
    int32_t poly = tfl_rounding_divide_by_pot(
        tfl_saturating_rounding_doubling_high_mul(x4_over_4 + x3, one_third) + x2, 1); /* x^4/24 + x^3/6 + x^2/2 */
    return exp_minus_one_eighth + tfl_saturating_rounding_doubling_high_mul(exp_minus_one_eighth, x + poly);
}

int32_t tfl_exp_on_negative_values(int32_t a, int integer_bits) {
    /* exp(-k/4) in Q0 for the bits of the input's multiple of a quarter: 1/4, 1/2, 1, 2, 4, 8, 16. */
    static const int32_t exp_of_minus_power_of_two[7] = {
        1672461947, 1302514674, 790015084, 290630308, 39332535, 720401, 242};
    const int fractional_bits = 31 - integer_bits;
    const int32_t one_quarter = (int32_t)1 << (fractional_bits - 2);
    /* a = r - q with r in [-1/4, 0) and q a non-negative multiple of 1/4: exp(a) = exp(r) * prod exp(-bits of q). */
    int32_t r = (a & (one_quarter - 1)) - one_quarter;
    int32_t result = exp_on_interval_minus_quarter_to_zero(tfl_saturating_rounding_multiply_by_pot(r, integer_bits));
    int32_t q = r - a;
    for (int exponent = -2; exponent <= 4; exponent++) {
        if (integer_bits > exponent && (q & ((int32_t)1 << (fractional_bits + exponent))) != 0) {
            result = tfl_saturating_rounding_doubling_high_mul(result, exp_of_minus_power_of_two[exponent + 2]);
        }
    }
    if (integer_bits > 5 && a < -((int32_t)1 << (fractional_bits + 5))) { /* below -32: exp underflows Q0 */
        result = 0;
    }
    return a == 0 ? Q0_ONE : result;
}

int32_t tfl_one_over_one_plus_x_for_x_in_0_1(int32_t x) {
    /* Newton-Raphson on the half denominator d = (1 + x) / 2 in [1/2, 1], values of x in Q2. */
    int64_t sum = (int64_t)x + Q0_ONE;
    int32_t half_denominator = (int32_t)((sum + (sum >= 0 ? 1 : -1)) / 2);
    const int32_t q2_48_over_17 = 1515870810;
    const int32_t q2_minus_32_over_17 = -1010580540;
    const int32_t q2_one = 1 << 29;
    int32_t y = q2_48_over_17 + tfl_saturating_rounding_doubling_high_mul(half_denominator, q2_minus_32_over_17);
    for (int i = 0; i < 3; i++) {
        int32_t half_denominator_times_y = tfl_saturating_rounding_doubling_high_mul(half_denominator, y);
        int32_t error = q2_one - half_denominator_times_y;
        y = y + tfl_saturating_rounding_multiply_by_pot(tfl_saturating_rounding_doubling_high_mul(y, error), 2);
    }
    /* y = 1/d in Q2; 1/(1 + x) = y/2, which is y's raw value read as Q1, rescaled to Q0. */
    return tfl_saturating_rounding_multiply_by_pot(y, 1);
}

int32_t tfl_logistic(int32_t a, int integer_bits) {
    if (a == 0) {
        return 1 << 30;
    }
    int32_t magnitude = a > 0 ? a : -a;
    int32_t of_positive = tfl_one_over_one_plus_x_for_x_in_0_1(tfl_exp_on_negative_values(-magnitude, integer_bits));
    return a > 0 ? of_positive : Q0_ONE - of_positive;
}

static int count_leading_zeros(uint32_t x) {
    int n = 0;
    if (x == 0) {
        return 32;
    }
    while ((x & 0x80000000u) == 0) {
        x <<= 1;
        n++;
    }
    return n;
}

int32_t tfl_reciprocal(int32_t x, int integer_bits, int *num_bits_over_unit) {
    int headroom_plus_one = count_leading_zeros((uint32_t)x);
    if (headroom_plus_one > 31) { /* x == 0 only from a wrapped sum in a hostile model; keep the shift defined */
        headroom_plus_one = 31;
    }
    *num_bits_over_unit = integer_bits - headroom_plus_one;
    int32_t shifted_minus_one = (int32_t)(((uint32_t)x << headroom_plus_one) - ((uint32_t)1 << 31));
    return tfl_one_over_one_plus_x_for_x_in_0_1(shifted_minus_one);
}

int32_t tfl_input_radius(int integer_bits, int left_shift) {
    /* floor(((2^bits - 1) * 2^(31 - bits)) / 2^left_shift), exactly, in integers */
    int64_t max_input_rescaled = ((int64_t)((1 << integer_bits) - 1) << (31 - integer_bits)) >> left_shift;
    return (int32_t)max_input_rescaled;
}
