/* The DSP conv and FC kernels (kernels/arm/arm_int8.c) against a plain C convolution written from TFLite's
 * int8 maths, on CASES random cases generated here (xorshift, seed 1): shapes, strides, dilations, padding, zero
 * points, per-channel multipliers (some above 1), biases (some large enough to take the exact slow
 * requantisation), activation ranges. Prints "ok <cases>" or the first mismatching case and exits 1. */
#include "baremetal.h"
#include "kernels/arm/arm_int8.h"
#include "conv_reference.h"
#include "quant.h"

#ifndef CASES
#define CASES 400
#endif

static int8_t input[2 * 12 * 12 * 16], weights[16 * 5 * 5 * 16], expected[2 * 12 * 12 * 16],
    actual[2 * 12 * 12 * 16];
static uint8_t bias[16 * 4];
static uint8_t pool[64 * 1024] __attribute__((aligned(8)));
static uint32_t scratch[5 * 5 * 5 * 16];

static int32_t pick(uint32_t *seed, int32_t low, int32_t high) {
    return low + (int32_t)(bm_random(seed) % (uint32_t)(high - low + 1));
}

/* A random case; `fully_connected` makes it a 1x1 "image" per row, which is what FC is. */
static void make_case(conv_case *c, uint32_t *seed, int fully_connected) {
    tfl_arm_conv_shape *s = &c->shape;
    static const int32_t input_channels[] = {1, 2, 3, 4, 5, 8, 12, 16};
    s->batches = pick(seed, 1, 2);
    if (fully_connected) {
        s->input_h = s->input_w = s->filter_h = s->filter_w = 1;
        s->input_c = pick(seed, 1, 300);
    } else {
        s->input_h = pick(seed, 1, 12);
        s->input_w = pick(seed, 1, 12);
        s->input_c = input_channels[pick(seed, 0, 7)];
        s->filter_h = pick(seed, 1, 5);
        s->filter_w = pick(seed, 1, 5);
    }
    s->stride_h = fully_connected ? 1 : pick(seed, 1, 2);
    s->stride_w = fully_connected ? 1 : pick(seed, 1, 2);
    s->dilation_h = fully_connected ? 1 : pick(seed, 1, 2);
    s->dilation_w = fully_connected ? 1 : pick(seed, 1, 2);
    int32_t span_h = (s->filter_h - 1) * s->dilation_h + 1, span_w = (s->filter_w - 1) * s->dilation_w + 1;
    if (!fully_connected && pick(seed, 0, 1)) { /* SAME */
        s->output_h = (s->input_h + s->stride_h - 1) / s->stride_h;
        s->output_w = (s->input_w + s->stride_w - 1) / s->stride_w;
        int32_t total_h = (s->output_h - 1) * s->stride_h + span_h - s->input_h;
        int32_t total_w = (s->output_w - 1) * s->stride_w + span_w - s->input_w;
        s->pad_top = total_h > 0 ? total_h / 2 : 0;
        s->pad_left = total_w > 0 ? total_w / 2 : 0;
    } else { /* VALID; grow the input until the filter fits */
        s->input_h = s->input_h < span_h ? span_h : s->input_h;
        s->input_w = s->input_w < span_w ? span_w : s->input_w;
        s->output_h = (s->input_h - span_h) / s->stride_h + 1;
        s->output_w = (s->input_w - span_w) / s->stride_w + 1;
        s->pad_top = s->pad_left = 0;
    }
    if (fully_connected && s->input_c > 40) {
        s->batches = 1;
    }
    c->channels = pick(seed, 1, 16);
    s->input_zero_point = pick(seed, -128, 127);
    c->input_offset = -s->input_zero_point;
    c->output_offset = pick(seed, -128, 127);
    int large_bias = pick(seed, 0, 9) == 0;
    for (int32_t n = 0; n < c->channels; n++) {
        /* multipliers from 2^-14 to 2, the range real layers have, plus the occasional left shift */
        double real = (double)(pick(seed, 1, 1 << 20)) / (double)(1 << 20) / (double)(1 << pick(seed, 0, 13));
        if (pick(seed, 0, 15) == 0) {
            real *= 2.0;
        }
        int shift;
        tfl_quantize_multiplier(real, &c->multiplier[n], &shift);
        c->shift[n] = shift;
        int32_t b = large_bias ? (int32_t)bm_random(seed) >> pick(seed, 0, 8) : pick(seed, -20000, 20000);
        for (int i = 0; i < 4; i++) {
            bias[4 * n + i] = (uint8_t)((uint32_t)b >> (8 * i));
        }
    }
    int32_t low = pick(seed, -128, 0), high = pick(seed, 0, 127);
    int full = pick(seed, 0, 1);
    c->act_min = full ? -128 : low;
    c->act_max = full ? 127 : high;
    int32_t depth = s->filter_h * s->filter_w * s->input_c;
    for (int32_t i = 0; i < c->channels * depth; i++) {
        weights[i] = (int8_t)pick(seed, -127, 127);
    }
    for (int32_t i = 0; i < s->batches * s->input_h * s->input_w * s->input_c; i++) {
        input[i] = (int8_t)bm_random(seed);
    }
}

static int run_case(conv_case *c, int fully_connected, int *fast) {
    const tfl_arm_conv_shape *s = &c->shape;
    tfl_context ctx = {pool, 0, sizeof pool};
    tfl_arm_gemm gemm;
    int32_t depth = s->filter_h * s->filter_w * s->input_c;
    if (tfl_arm_gemm_prepare(&ctx, &gemm, weights, bias, c->channels, depth, c->input_offset, c->multiplier,
            c->shift, 1, c->output_offset, c->act_min, c->act_max) != TFL_OK) {
        return 0;
    }
    *fast += gemm.fast_requant;
    reference_conv(c, input, weights, bias, expected);
    int32_t outputs = s->batches * s->output_h * s->output_w * c->channels;
    memset(actual, 0x55, (size_t)outputs);
    if (fully_connected) {
        tfl_arm_fully_connected_eval(&gemm, s->batches, input, actual, scratch);
    } else {
        tfl_arm_conv_eval(&gemm, s, input, actual, scratch);
    }
    return memcmp(expected, actual, (size_t)outputs) == 0;
}

int main(void) {
    uint32_t seed = 1;
    int fast = 0;
    for (int i = 0; i < CASES; i++) {
        conv_case c;
        int fully_connected = i % 4 == 3;
        make_case(&c, &seed, fully_connected);
        if (!run_case(&c, fully_connected, &fast)) {
            bm_put_int("mismatch in case ", i);
            bm_put_int("fully connected ", fully_connected);
            bm_put_int("input_c ", c.shape.input_c);
            bm_put_int("filter_h ", c.shape.filter_h);
            bm_put_int("channels ", c.channels);
            return 1;
        }
    }
    bm_put_int("fast requantisation cases ", fast);
    bm_put_int("ok ", CASES);
    return 0;
}
