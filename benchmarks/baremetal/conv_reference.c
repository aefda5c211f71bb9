/* A plain C int8 convolution written from TFLite's maths (what a reference kernel does, loop for loop), and
 * the two engine callbacks a kernel's prepare needs, for programs that run kernels without the interpreter. */
#include "conv_reference.h"

#include "baremetal.h"
#include "quant.h"

void *tfl_alloc_persistent(tfl_context *ctx, size_t bytes) {
    size_t start = (ctx->used + 7) & ~(size_t)7;
    if (start + bytes > ctx->size) {
        return NULL;
    }
    ctx->used = start + bytes;
    return ctx->pool + start;
}

tfl_status tfl_fail(tfl_context *ctx, tfl_status status, const char *message) {
    (void)ctx;
    bm_puts(message);
    bm_puts("\n");
    return status;
}

void reference_conv(const conv_case *c, const int8_t *input, const int8_t *weights, const uint8_t *bias,
    int8_t *output) {
    const tfl_arm_conv_shape *s = &c->shape;
    int32_t depth = s->filter_h * s->filter_w * s->input_c;
    for (int32_t b = 0; b < s->batches; b++) {
        for (int32_t oy = 0; oy < s->output_h; oy++) {
            for (int32_t ox = 0; ox < s->output_w; ox++) {
                for (int32_t n = 0; n < c->channels; n++) {
                    int32_t acc = tfl_read_i32(bias + 4 * n);
                    for (int32_t fy = 0; fy < s->filter_h; fy++) {
                        int32_t iy = oy * s->stride_h - s->pad_top + fy * s->dilation_h;
                        for (int32_t fx = 0; fx < s->filter_w; fx++) {
                            int32_t ix = ox * s->stride_w - s->pad_left + fx * s->dilation_w;
                            if (iy < 0 || iy >= s->input_h || ix < 0 || ix >= s->input_w) {
                                continue;
                            }
                            for (int32_t ci = 0; ci < s->input_c; ci++) {
                                int32_t x = input[((b * s->input_h + iy) * s->input_w + ix) * s->input_c + ci];
                                int32_t w = weights[n * depth + (fy * s->filter_w + fx) * s->input_c + ci];
                                acc += (x + c->input_offset) * w;
                            }
                        }
                    }
                    acc = tfl_multiply_by_quantized_multiplier(acc, c->multiplier[n], c->shift[n]);
                    acc += c->output_offset;
                    acc = acc < c->act_min ? c->act_min : (acc > c->act_max ? c->act_max : acc);
                    output[((b * s->output_h + oy) * s->output_w + ox) * c->channels + n] = (int8_t)acc;
                }
            }
        }
    }
}

