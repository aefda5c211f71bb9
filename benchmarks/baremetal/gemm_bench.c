/* Instructions per layer of the default MNIST CNN's shapes (5x5x1->16 on 28x28, 3x3x16->32 on 12x12,
 * 3x3x32->64 on 5x5, FC 576->10), plain C reference convolution (regions 1-4) against the DSP kernels (regions
 * 5-8), on random data. Prints each layer's MACs; the host reads the counts from the plugin. */
#include "baremetal.h"
#include "conv_reference.h"
#include "kernels/arm/profile.h"
#include "quant.h"

static const int32_t layers[4][5] = {
    /* input h, w, c, filter size, output channels */
    {28, 28, 1, 5, 16},
    {12, 12, 16, 3, 32},
    {5, 5, 32, 3, 64},
    {1, 1, 576, 1, 10},
};

static int8_t input[28 * 28 * 16], weights[64 * 3 * 3 * 32], reference[24 * 24 * 16], dsp[24 * 24 * 16];
static uint8_t bias[64 * 4];
static uint8_t pool[64 * 1024] __attribute__((aligned(8)));
static uint32_t scratch[4 * 1024];

static void make_layer(conv_case *c, const int32_t *layer, uint32_t *seed) {
    tfl_arm_conv_shape *s = &c->shape;
    *s = (tfl_arm_conv_shape){.batches = 1, .input_h = layer[0], .input_w = layer[1], .input_c = layer[2],
        .filter_h = layer[3], .filter_w = layer[3], .stride_h = 1, .stride_w = 1, .dilation_h = 1,
        .dilation_w = 1, .input_zero_point = -128};
    s->output_h = s->input_h - s->filter_h + 1;
    s->output_w = s->input_w - s->filter_w + 1;
    c->channels = layer[4];
    c->input_offset = 128;
    c->output_offset = -128;
    c->act_min = -128; /* ReLU with output zero point -128 */
    c->act_max = 127;
    for (int32_t n = 0; n < c->channels; n++) {
        int shift;
        tfl_quantize_multiplier(0.002 + 0.0001 * n, &c->multiplier[n], &shift);
        c->shift[n] = shift;
        int32_t b = (int32_t)(bm_random(seed) % 4000) - 2000;
        for (int i = 0; i < 4; i++) {
            bias[4 * n + i] = (uint8_t)((uint32_t)b >> (8 * i));
        }
    }
    int32_t depth = s->filter_h * s->filter_w * s->input_c;
    for (int32_t i = 0; i < c->channels * depth; i++) {
        weights[i] = (int8_t)((int32_t)(bm_random(seed) % 255) - 127);
    }
    for (int32_t i = 0; i < s->input_h * s->input_w * s->input_c; i++) {
        input[i] = (int8_t)bm_random(seed);
    }
}

int main(void) {
    uint32_t seed = 7;
    for (int l = 0; l < 4; l++) {
        conv_case c;
        make_layer(&c, layers[l], &seed);
        const tfl_arm_conv_shape *s = &c.shape;
        int32_t depth = s->filter_h * s->filter_w * s->input_c;
        int32_t outputs = s->output_h * s->output_w * c.channels;
        tfl_context ctx = {pool, 0, sizeof pool};
        tfl_arm_gemm gemm;
        tfl_arm_gemm_prepare(&ctx, &gemm, weights, bias, c.channels, depth, c.input_offset, c.multiplier, c.shift,
            1, c.output_offset, c.act_min, c.act_max);
        tfl_profile_mark(1 + l);
        reference_conv(&c, input, weights, bias, reference);
        tfl_profile_mark(5 + l);
        if (l == 3) {
            tfl_arm_fully_connected_eval(&gemm, 1, input, dsp, scratch);
        } else {
            tfl_arm_conv_eval(&gemm, s, input, dsp, scratch);
        }
        tfl_profile_mark(0);
        bm_put_int("macs ", (long long)outputs * depth);
        if (memcmp(reference, dsp, (size_t)outputs) != 0) {
            bm_put_int("mismatch in layer ", l);
            return 1;
        }
    }
    return 0;
}
