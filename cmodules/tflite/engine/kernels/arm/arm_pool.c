/* MAX_POOL_2D with byte-wise SIMD (see arm_int8.h). */
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

void tfl_arm_max_pool(const tfl_arm_pool_shape *s, const int8_t *input, int8_t *output) {
    uint32_t low = splat(s->act_min), high = splat(s->act_max);
    int32_t row = s->in_w * s->channels;
    for (int32_t b = 0; b < s->batches; b++) {
        const int8_t *image = input + (size_t)b * s->in_h * row;
        for (int32_t oy = 0; oy < s->out_h; oy++) {
            int32_t iy = oy * s->stride_h - s->pad_h;
            int32_t y0 = iy < 0 ? 0 : iy, y1 = iy + s->filter_h < s->in_h ? iy + s->filter_h : s->in_h;
            for (int32_t ox = 0; ox < s->out_w; ox++, output += s->channels) {
                int32_t ix = ox * s->stride_w - s->pad_w;
                int32_t x0 = ix < 0 ? 0 : ix, x1 = ix + s->filter_w < s->in_w ? ix + s->filter_w : s->in_w;
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

#endif /* TFL_ARM_DSP */
