/* MAX_POOL_2D, int8, channels a multiple of 4: four channels at a time with the byte-wise SIMD compare (SSUB8
 * sets a flag per byte, SEL picks per byte). Windows clipped to the input as the reference does; the result
 * clamped to the activation's range. */
#include "arm_int8.h"

#if defined(TFL_ARM_DSP)

#pragma GCC optimize("O2")

/* Per byte, the larger of two words of four int8 values. */
static inline uint32_t max4(uint32_t a, uint32_t b) {
    uint32_t result;
    __asm__("ssub8 %0, %1, %2\n\tsel %0, %1, %2" : "=&r"(result) : "r"(a), "r"(b) : "cc");
    return result;
}

static inline uint32_t splat(int32_t value) {
    return 0x01010101u * (uint8_t)value;
}

/* A whole 2x2 window (the common pooling layer), unclamped: four loads and three byte-wise maxima per four
 * channels. */
static inline void max_2x2(int8_t *output, const int8_t *window, int32_t channels, int32_t row) {
    const int8_t *below = window + row;
    for (int32_t c = 0; c < channels; c += 4) {
        uint32_t a, b, d, e;
        memcpy(&a, window + c, 4);
        memcpy(&b, window + channels + c, 4);
        memcpy(&d, below + c, 4);
        memcpy(&e, below + channels + c, 4);
        uint32_t m = max4(max4(a, b), max4(d, e));
        memcpy(output + c, &m, 4);
    }
}

/* Whether every window is a whole 2x2 one inside the input and the clamp changes nothing. */
static int whole_2x2(const tfl_pool_data *s, const tfl_pool_options *o) {
    return o->filter_h == 2 && o->filter_w == 2 && s->pad_h == 0 && s->pad_w == 0 &&
        (s->out_h - 1) * o->stride_h + 2 <= s->in_h && (s->out_w - 1) * o->stride_w + 2 <= s->in_w &&
        s->act_min == -128 && s->act_max == 127;
}

/* A layer of whole 2x2 windows, with no clipping per window. */
static void max_pool_2x2(const tfl_pool_data *s, const tfl_pool_options *o, const int8_t *input, int8_t *output) {
    int32_t row = s->in_w * s->channels, step = o->stride_w * s->channels;
    for (int32_t b = 0; b < s->batches; b++, input += (size_t)s->in_h * row) {
        for (int32_t oy = 0; oy < s->out_h; oy++) {
            const int8_t *window = input + (size_t)oy * o->stride_h * row;
            for (int32_t ox = 0; ox < s->out_w; ox++, window += step, output += s->channels) {
                max_2x2(output, window, s->channels, row);
            }
        }
    }
}

static void max_pool(const tfl_pool_data *s, const tfl_pool_options *o, const int8_t *input, int8_t *output) {
    uint32_t low = splat(s->act_min), high = splat(s->act_max);
    int32_t row = s->in_w * s->channels;
    int full_range = s->act_min == -128 && s->act_max == 127; /* the clamp changes nothing */
    if (whole_2x2(s, o)) {
        max_pool_2x2(s, o, input, output);
        return;
    }
    for (int32_t b = 0; b < s->batches; b++) {
        const int8_t *image = input + (size_t)b * s->in_h * row;
        for (int32_t oy = 0; oy < s->out_h; oy++) {
            int32_t iy = oy * o->stride_h - s->pad_h;
            int32_t y0 = iy < 0 ? 0 : iy, y1 = iy + o->filter_h < s->in_h ? iy + o->filter_h : s->in_h;
            for (int32_t ox = 0; ox < s->out_w; ox++, output += s->channels) {
                int32_t ix = ox * o->stride_w - s->pad_w;
                int32_t x0 = ix < 0 ? 0 : ix, x1 = ix + o->filter_w < s->in_w ? ix + o->filter_w : s->in_w;
                if (y1 - y0 == 2 && x1 - x0 == 2 && full_range) {
                    max_2x2(output, image + (size_t)y0 * row + (size_t)x0 * s->channels, s->channels, row);
                    continue;
                }
                for (int32_t c = 0; c < s->channels; c += 4) {
                    uint32_t m = splat(-128);
                    for (int32_t y = y0; y < y1; y++) {
                        const int8_t *in = image + (size_t)y * row + (size_t)x0 * s->channels + c;
                        for (int32_t x = x0; x < x1; x++, in += s->channels) {
                            uint32_t v;
                            memcpy(&v, in, 4);
                            m = max4(v, m);
                        }
                    }
                    m = max4(m, low);
                    m = ~max4(~m, ~high); /* the smaller: bitwise not reverses the order of int8 values */
                    memcpy(output + c, &m, 4);
                }
            }
        }
    }
}

tfl_status tfl_arm_max_pool_prepare(tfl_context *ctx, tfl_node *node) {
    return tfl_max_pool_prepare(ctx, node);
}

tfl_status tfl_arm_max_pool_eval(tfl_context *ctx, tfl_node *node) {
    const tfl_tensor *input = tfl_input(ctx, node, 0);
    const tfl_pool_data *data = node->user_data;
    if (input->type != TFL_TYPE_INT8 || data->channels % 4 != 0) {
        return tfl_max_pool_eval(ctx, node);
    }
    max_pool(data, &node->options.pool, (const int8_t *)input->data, (int8_t *)tfl_output(ctx, node, 0)->data);
    return TFL_OK;
}

#endif /* TFL_ARM_DSP */
