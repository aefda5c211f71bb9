/* CONV_2D, int8, with the DSP matrix product (gemm.c), reading the int8 weights in place (gemm.c widens a tile of
 * channels at a time into scratch). Three ways to lay out the positions' patches, chosen in prepare by the input:
 * - input channels in fours (GROUPS): each window row is a run of the int8 input (or staged, where the window
 *   overhangs the padding), widened with SXTB16 straight into the patch; when the layer has few positions all
 *   their patches are kept, so that each weight is widened once;
 * - one input channel, unit column stride, no dilation (SINGLE_CHANNEL, a first layer): each padded image row is
 *   widened once, as pair words (value x, value x + 1), into a ring that keeps the filter_h rows an output row
 *   reads consecutive, and each pair of positions' patch is copied from them in aligned words;
 * - otherwise (ROWS): the whole padded image widened once, each patch copied from it row by row.
 */
#include "arm_int8.h"

#if defined(TFL_ARM_DSP)

/* The firmware is built for size (-Os); these loops are where the inference spends its time. */
#pragma GCC optimize("O2")

/* Scratch of a GROUPS layer beyond its patches: the widened tile of channels takes at most this much, which the
 * gaps of a small CNN's activation plan hold. All patches are kept when they take at most TFL_ARM_PATCHES_BYTES. */
#define TFL_ARM_TILE_BYTES 5120
#define TFL_ARM_PATCHES_BYTES 8192

/* The first member of either variant's data, which tells them apart. */
typedef struct {
    uint8_t pointwise;
} arm_kind;

typedef struct {
    arm_kind kind;
    tfl_arm_gemm gemm;
    tfl_window_shape shape;
    int32_t input_zero_point;
    uint8_t all_patches; /* GROUPS: every position's patch built first */
    uint8_t lean;        /* GROUPS, not all patches: every pair of positions side by side in one output row and
                          * inside the input, through the assembly loop, which needs no channel records */
} arm_conv;

/* A pointwise conv (1x1 filter, unit strides, hence no padding): every pixel is a fully connected row, with no
 * memory of its own (fully_connected.c). */
typedef struct {
    arm_kind kind;
    tfl_arm_rows rows;
    int32_t pixels; /* of all batches */
} arm_pointwise;

static int pointwise(const tfl_window_shape *s) {
    return s->filter_h == 1 && s->filter_w == 1 && s->stride_h == 1 && s->stride_w == 1 && s->out_h == s->in_h &&
        s->out_w == s->in_w;
}

tfl_arm_padded_image tfl_arm_padded_size(const tfl_window_shape *s) {
    tfl_arm_padded_image image;
    int32_t span_h = (s->out_h - 1) * s->stride_h + (s->filter_h - 1) * s->dilation_h + 1;
    int32_t span_w = (s->out_w - 1) * s->stride_w + (s->filter_w - 1) * s->dilation_w + 1;
    int32_t below = span_h - s->pad_h - s->in_h, right = span_w - s->pad_w - s->in_w;
    image.height = s->pad_h + s->in_h + (below > 0 ? below : 0);
    image.width = s->pad_w + s->in_w + (right > 0 ? right : 0);
    image.channels = s->in_c;
    return image;
}

uint32_t tfl_arm_image_halves(const tfl_window_shape *s) {
    tfl_arm_padded_image image = tfl_arm_padded_size(s);
    return (uint32_t)(image.height * image.width * image.channels + 2);
}

/* int8 -> int16, natural order, `count` values. */
static void widen_natural(int16_t *destination, const int8_t *source, int32_t count) {
    for (; count >= 4; count -= 4, source += 4, destination += 4) {
        uint32_t bytes;
        memcpy(&bytes, source, 4);
        uint32_t even = __sxtb16(bytes), odd = tfl_arm_sxtb16_ror8(bytes); /* (v0, v2), (v1, v3) */
        uint32_t low = (even & 0xffff) | (odd << 16), high = (odd & 0xffff0000) | (even >> 16);
        memcpy(destination, &low, 4);
        memcpy(destination + 2, &high, 4);
    }
    for (; count > 0; count--) {
        *destination++ = *source++;
    }
}

void tfl_arm_widen_image(int16_t *image16, const tfl_arm_padded_image *image, const tfl_window_shape *s,
    int32_t input_zero_point, const int8_t *input) {
    int32_t row_values = s->in_w * s->in_c;
    int whole = image->height == s->in_h && image->width == s->in_w;
    if (whole) {
        widen_natural(image16, input, s->in_h * row_values);
    } else {
        int32_t total = image->height * image->width * image->channels;
        for (int32_t i = 0; i < total; i++) {
            image16[i] = (int16_t)input_zero_point;
        }
        for (int32_t y = 0; y < s->in_h; y++) {
            widen_natural(image16 + ((y + s->pad_h) * image->width + s->pad_w) * image->channels,
                input + (size_t)y * row_values, row_values);
        }
    }
    int32_t end = image->height * image->width * image->channels;
    image16[end] = image16[end + 1] = 0;
}

const int16_t *tfl_arm_window_of(const tfl_window_shape *s, const tfl_arm_padded_image *image,
    const int16_t *image16, int32_t p) {
    int32_t out_y = p / s->out_w, out_x = p % s->out_w;
    return image16 + ((size_t)out_y * s->stride_h * image->width + (size_t)out_x * s->stride_w) * image->channels;
}

/* The patches of two positions (one when window1 is NULL), filter row by filter row; each filter row is one run
 * of an image row, copied a word (two values) at a time. */
static void gather_rows(uint32_t *patch, const int16_t *window0, const int16_t *window1, int32_t rows,
    int32_t words, int32_t row_step) {
    if (window1 == NULL) {
        for (int32_t r = 0; r < rows; r++, window0 += row_step) {
            for (int32_t i = 0; i < words; i++) {
                memcpy(patch++, window0 + 2 * i, 4);
            }
        }
        return;
    }
    for (int32_t r = 0; r < rows; r++, window0 += row_step, window1 += row_step) {
        const int16_t *from0 = window0, *from1 = window1;
        int32_t n = words;
        uint32_t a, b;
        __asm__ volatile( /* a word of each position, interleaved: two (unaligned) loads, one double store */
            "1: ldr %[a], [%[from0]], #4\n"
            "ldr %[b], [%[from1]], #4\n"
            "strd %[a], %[b], [%[patch]], #8\n"
            "subs %[n], %[n], #1\n"
            "bne 1b\n"
            : [from0] "+r"(from0), [from1] "+r"(from1), [patch] "+r"(patch), [n] "+r"(n), [a] "=&r"(a),
              [b] "=&r"(b)
            :
            : "cc", "memory");
    }
}

/* A patch with dilated filter columns, value by value, into every `step`-th word. */
static void gather_dilated(uint32_t *patch, int32_t step, const tfl_arm_gemm *gemm, const tfl_window_shape *s,
    const tfl_arm_padded_image *image, const int16_t *window) {
    int16_t *halves = (int16_t *)patch;
    for (int32_t fy = 0; fy < s->filter_h; fy++, halves += gemm->row_len2 * step) {
        const int16_t *line = window + (size_t)fy * s->dilation_h * image->width * image->channels;
        for (int32_t j = 0; j < gemm->row_len; j++) {
            int32_t fx = j / s->in_c, c = j % s->in_c;
            halves[(j / 2) * 2 * step + (j & 1)] = line[fx * s->dilation_w * image->channels + c];
        }
    }
}

/* ---- GROUPS: window rows widened with SXTB16 ---- */

/* Window row fy of position p as int8: the input itself when the row lies inside it, else staged (taps in the
 * padding hold the input zero point, which contributes 0 to sum((x - zx) * w)). */
static const int8_t *window_row(const arm_conv *conv, const int8_t *input, int32_t p, int32_t fy, int8_t *staging) {
    const tfl_window_shape *s = &conv->shape;
    int32_t iy = (p / s->out_w) * s->stride_h - s->pad_h + fy * s->dilation_h;
    int32_t ix0 = (p % s->out_w) * s->stride_w - s->pad_w;
    int row_inside = iy >= 0 && iy < s->in_h;
    if (row_inside && s->dilation_w == 1 && ix0 >= 0 && ix0 + s->filter_w <= s->in_w) {
        return input + ((size_t)iy * s->in_w + (size_t)ix0) * s->in_c;
    }
    for (int32_t fx = 0; fx < s->filter_w; fx++) {
        int32_t ix = ix0 + fx * s->dilation_w;
        int8_t *to = staging + (size_t)fx * s->in_c;
        if (row_inside && ix >= 0 && ix < s->in_w) {
            memcpy(to, input + ((size_t)iy * s->in_w + (size_t)ix) * s->in_c, (size_t)s->in_c);
        } else {
            memset(to, conv->input_zero_point, (size_t)s->in_c);
        }
    }
    return staging;
}

/* The patch of positions p and p + 1 (`two`) or of p alone, row by row through window_row: per group of four
 * values, position 0's two words and then position 1's, k-pair by k-pair. Not inlined: its registers would weigh
 * on the common case's caller. */
static __attribute__((noinline)) void groups_patch_staged(uint32_t *patch, const arm_conv *conv,
    const int8_t *input, int32_t p, int two, int8_t *staging) {
    const tfl_window_shape *s = &conv->shape;
    int32_t row_len = s->filter_w * s->in_c;
    uint32_t *words = patch;
    for (int32_t fy = 0; fy < s->filter_h; fy++) {
        const int8_t *row0 = window_row(conv, input, p, fy, staging);
        if (!two) {
            for (int32_t k = 0; k < row_len; k += 4, words += 2) {
                uint32_t a;
                memcpy(&a, row0 + k, 4);
                words[0] = __sxtb16(a);
                words[1] = tfl_arm_sxtb16_ror8(a);
            }
            continue;
        }
        tfl_arm_widen_two(words, row0, window_row(conv, input, p + 1, fy, staging + row_len), row_len / 4, 1, 0);
        words += row_len;
    }
}

/* The output positions whose windows lie inside the input, and where those windows start. */
typedef struct {
    int32_t y_first, y_last, x_first, x_last; /* output rows, columns (an empty range with dilated columns) */
    int32_t row_bytes, column_bytes;          /* input bytes from one output row's windows to the next's; columns */
    int32_t origin;                           /* the offset of position (0, 0)'s window (negative with padding) */
} inside_box;

/* a / b rounded down, b > 0 (C's division rounds a negative a towards zero) */
static inline int32_t floor_div(int32_t a, int32_t b) {
    return a >= 0 ? a / b : -((-a + b - 1) / b);
}

static inside_box inside_box_of(const tfl_window_shape *s) {
    inside_box box;
    box.y_first = -floor_div(-s->pad_h, s->stride_h); /* the first with oy * stride >= pad */
    box.y_last = floor_div(s->in_h - 1 - (s->filter_h - 1) * s->dilation_h + s->pad_h, s->stride_h);
    box.x_first = -floor_div(-s->pad_w, s->stride_w);
    box.x_last = s->dilation_w == 1 ? floor_div(s->in_w - s->filter_w + s->pad_w, s->stride_w) : -1;
    box.row_bytes = s->stride_h * s->in_w * s->in_c;
    box.column_bytes = s->stride_w * s->in_c;
    box.origin = -(s->pad_h * s->in_w + s->pad_w) * s->in_c;
    return box;
}

static inline int inside(const inside_box *box, int32_t oy, int32_t ox) {
    return oy >= box->y_first && oy <= box->y_last && ox >= box->x_first && ox <= box->x_last;
}

/* The patch of positions p (at output row oy, column ox) and p + 1, or of p alone (the layout above): the common
 * case, two windows inside the input, in one call straight from it. */
static inline void groups_patch(uint32_t *patch, const arm_conv *conv, const inside_box *box, const int8_t *input,
    int32_t p, int32_t oy, int32_t ox, int two, int8_t *staging) {
    const tfl_window_shape *s = &conv->shape;
    int32_t oy1 = ox + 1 < s->out_w ? oy : oy + 1, ox1 = ox + 1 < s->out_w ? ox + 1 : 0;
    if (!two || !inside(box, oy, ox) || !inside(box, oy1, ox1)) {
        groups_patch_staged(patch, conv, input, p, two, staging);
        return;
    }
    int32_t row_len = s->filter_w * s->in_c;
    tfl_arm_widen_two(patch, input + box->origin + oy * box->row_bytes + ox * box->column_bytes,
        input + box->origin + oy1 * box->row_bytes + ox1 * box->column_bytes, row_len / 4, s->filter_h,
        s->dilation_h * s->in_w * s->in_c);
}

/* The output position two further on, as row and column. */
static inline void step_two(const tfl_window_shape *s, int32_t *oy, int32_t *ox) {
    for (*ox += 2; *ox >= s->out_w; *ox -= s->out_w) {
        ++*oy;
    }
}

/* ---- SINGLE_CHANNEL: a ring of pair words ---- */

/* The ring holds each padded image row as its pair words: word x is (value x, value x + 1), the last word's high
 * half 0. A patch's run of tap pairs (j, j + 1) is then word x + j of a row for position x and word x + j + 1 for
 * position x + 1: two positions' interleaved run is a run of consecutive, aligned words. Each row sits in slot
 * y % filter_h and in the slot filter_h further, so that the filter_h rows an output row reads are always
 * consecutive (its band), and every row is widened once. */
static uint32_t ring_bytes(const tfl_window_shape *s, const tfl_arm_padded_image *image) {
    return (uint32_t)(2 * s->filter_h * image->width) * 4;
}

/* `groups` groups of four int8 values of a row (any alignment) as pair words into two places (word aligned):
 * (v0, v1), (v1, v2), (v2, v3), (v3, v4), v4 being the next group's first value, 0 after the last group. */
void tfl_arm_pair_words(uint32_t *slot, uint32_t *twin, const int8_t *row, int32_t groups);
__asm__(
    "   .pushsection .text.tfl_arm_pair_words, \"ax\", %progbits\n"
    "   .syntax unified\n"
    "   .thumb\n"
    "   .p2align 2\n"
    "   .global tfl_arm_pair_words\n"
    "   .type tfl_arm_pair_words, %function\n"
    "   .thumb_func\n"
    "tfl_arm_pair_words:\n"             /* r0 slot, r1 twin, r2 row, r3 groups */
    "   push {r4-r9}\n"
    "1: ldr r4, [r2], #4\n"             /* an unaligned load where the row is */
    "   subs r3, r3, #1\n"              /* its flags last to the loop's branch */
    "   ite ne\n"
    "   ldrsbne r5, [r2]\n"             /* v4 */
    "   moveq r5, #0\n"
    "   sxtb16 r6, r4\n"                /* (v0, v2) */
    "   sxtb16 r4, r4, ror #8\n"        /* (v1, v3) */
    "   lsl r5, r5, #16\n"
    "   pkhtb r9, r5, r4, asr #16\n"    /* (v3, v4) */
    "   pkhtb r8, r4, r6, asr #16\n"    /* (v2, v3) */
    "   pkhbt r7, r4, r6\n"             /* (v1, v2) */
    "   pkhbt r6, r6, r4, lsl #16\n"    /* (v0, v1) */
    "   stmia r0!, {r6-r9}\n"
    "   stmia r1!, {r6-r9}\n"
    "   bne 1b\n"
    "   pop {r4-r9}\n"
    "   bx lr\n"
    "   .size tfl_arm_pair_words, . - tfl_arm_pair_words\n"
    "   .popsection\n");

/* Padded image row y as pair words into its two slots. */
static void widen_into_ring(uint32_t *ring, const arm_conv *conv, const tfl_arm_padded_image *image,
    const int8_t *input, int32_t y) {
    const tfl_window_shape *s = &conv->shape;
    int32_t width = image->width, iy = y - s->pad_h, x = 0;
    uint32_t *slot = ring + (size_t)(y % s->filter_h) * width, *twin = slot + (size_t)s->filter_h * width;
    if (iy >= 0 && iy < s->in_h && width == s->in_w) { /* no padding */
        const int8_t *row = input + (size_t)iy * s->in_w;
        int32_t groups = width / 4;
        if (groups > 0) {
            tfl_arm_pair_words(slot, twin, row, groups);
        }
        /* the rest value by value, from the last group's last word when a value follows it */
        for (x = width % 4 == 0 ? width : 4 * groups - (groups > 0); x < width; x++) {
            slot[x] = twin[x] = (uint32_t)(uint16_t)row[x] | (uint32_t)(x + 1 < width ? row[x + 1] : 0) << 16;
        }
        return;
    }
    for (; x < width; x++) {
        int32_t value[2];
        for (int32_t i = 0; i < 2; i++) {
            int32_t ix = x + i - s->pad_w;
            int inside = iy >= 0 && iy < s->in_h && ix >= 0 && ix < s->in_w;
            value[i] = x + i == width ? 0 : inside ? input[(size_t)iy * s->in_w + ix] : conv->input_zero_point;
        }
        slot[x] = twin[x] = (uint32_t)(uint16_t)value[0] | (uint32_t)value[1] << 16;
    }
}

/* An output row of a 5x5 filter through the assembly loop (tfl_arm_gemm_2x2), pair of positions by pair: each
 * pair's patch copied from the band's pair words, then the loop. The fields' offsets are the assembly's. */
typedef struct {
    tfl_arm_gemm_job job;   /* out0, out1: the first pair's outputs, moved on `out_step` a pair */
    uint32_t *patch;        /* job.patch again, beside the two fields that come with it */
    const uint32_t *band;   /* the band's first row, at the first pair's column */
    uint32_t row_bytes;     /* from one row of the band to the next */
    int32_t pairs;
    int32_t out_step;       /* two positions' outputs */
} band_row_5x5;

_Static_assert(offsetof(tfl_arm_gemm_job, out0) == 12 && offsetof(band_row_5x5, patch) == 20 &&
    offsetof(band_row_5x5, pairs) == 32, "tfl_arm_band_row_5x5's offsets");

/* Rows r and r + 1 of the patch, ten words: row r's run of positions x and x + 1 (four words), the stacked
 * last-column words of rows r and r + 1, row r + 1's run; r1 moves on two rows of the band. */
#define BAND_ROWS_PAIR                                      \
    "   ldrd r3, r4, [r1]\n"                                \
    "   ldrd r5, r6, [r1, #8]\n"                            \
    "   ldr r7, [r1, #16]\n"       /* row r's last column: values x + 4, x + 5 */ \
    "   add r1, r1, r2\n"                                   \
    "   ldr lr, [r1, #16]\n"       /* row r + 1's */        \
    "   pkhtb r8, lr, r7, asr #16\n"   /* (r: x + 5, r + 1: x + 5) */ \
    "   pkhbt r7, r7, lr, lsl #16\n"   /* (r: x + 4, r + 1: x + 4) */ \
    "   ldrd r9, r10, [r1]\n"                               \
    "   ldrd r11, r12, [r1, #8]\n"                          \
    "   add r1, r1, r2\n"                                   \
    "   stmia r0!, {r3-r12}\n"

/* The 5x5 patch of positions x and x + 1 (the SINGLE_CHANNEL layout, arm_int8.h) from the band's pair words at
 * column x: rows 0 and 1 (run, stacked last column, run), rows 2 and 3, row 4's run and its last column, whose
 * k-pair's second weight is zero: its pair words as they are; all loads of aligned words. Then the pair's outputs
 * through the assembly loop, and the next pair. */
void tfl_arm_band_row_5x5(band_row_5x5 *row);
__asm__(
    "   .pushsection .text.tfl_arm_band_row_5x5, \"ax\", %progbits\n"
    "   .syntax unified\n"
    "   .thumb\n"
    "   .p2align 2\n"
    "   .global tfl_arm_band_row_5x5\n"
    "   .type tfl_arm_band_row_5x5, %function\n"
    "   .thumb_func\n"
    "tfl_arm_band_row_5x5:\n"
    "   push {r0, r4-r11, lr}\n"        /* [sp]: the band_row_5x5 */
    "1: ldr r12, [sp]\n"
    "   add r12, r12, #20\n"
    "   ldm r12, {r0-r2}\n"             /* patch, band, row_bytes */
    "   add r3, r1, #8\n"
    "   str r3, [r12, #4]\n"            /* the next pair's columns */
    BAND_ROWS_PAIR
    BAND_ROWS_PAIR
    "   ldrd r3, r4, [r1]\n"
    "   ldrd r5, r6, [r1, #8]\n"
    "   ldrd r7, r8, [r1, #16]\n"      /* (x + 4, x + 5), (x + 5, x + 6): the high halves meet zero weights */
    "   stmia r0!, {r3-r8}\n"
    "   ldr r0, [sp]\n"
    "   bl tfl_arm_gemm_2x2\n"
    "   ldr r0, [sp]\n"
    "   ldrd r1, r2, [r0, #12]\n"       /* out0, out1 */
    "   ldrd r3, r4, [r0, #32]\n"       /* pairs, out_step */
    "   add r1, r1, r4\n"
    "   add r2, r2, r4\n"
    "   strd r1, r2, [r0, #12]\n"
    "   subs r3, r3, #1\n"
    "   str r3, [r0, #32]\n"
    "   bne 1b\n"
    "   pop {r0, r4-r11, pc}\n"
    "   .size tfl_arm_band_row_5x5, . - tfl_arm_band_row_5x5\n"
    "   .popsection\n");

/* The patch of positions x and x + 1 from the band's pair words at column x (`row`, rows `width` words apart),
 * any filter width: per filter row its run of tap pairs, which is `run` consecutive words; for an odd filter_w,
 * after every even row, the last column's taps of that row and the next, stacked (tfl_arm_band_row_5x5's order).
 * The zero k-pair after them, if any, is left as the caller zeroed it. */
static void single_channel_patch(uint32_t *patch, const tfl_arm_gemm *gemm, const uint32_t *row, int32_t width) {
    /* locals: a store through `words` could alias the gemm's fields */
    const int32_t rows = gemm->rows, run = 2 * (gemm->row_len / 2), last = gemm->row_len - 1;
    const int stacked = gemm->row_len & 1;
    uint32_t *words = patch;
    for (int32_t r = 0; r < rows; r++, row += width) {
        for (int32_t i = 0; i < run; i++) {
            *words++ = row[i];
        }
        if (stacked && (r & 1) == 0) {
            uint32_t top = row[last], bottom = r + 1 < rows ? row[width + last] : 0;
            *words++ = (top & 0xffff) | bottom << 16;       /* PKHBT */
            *words++ = (bottom & 0xffff0000) | top >> 16;   /* PKHTB */
        }
    }
}

/* ---- scratch and eval ---- */

static int layout_of(const tfl_window_shape *s) {
    if (s->in_c % 4 == 0) {
        return TFL_ARM_GROUPS;
    }
    if (s->in_c == 1 && s->stride_w == 1 && s->dilation_w == 1 && s->dilation_h == 1 && s->out_w >= 2) {
        return TFL_ARM_SINGLE_CHANNEL;
    }
    return TFL_ARM_ROWS;
}

/* Scratch after the tile: GROUPS: the patches (all positions', or two positions'), then two staged window rows;
 * SINGLE_CHANNEL: the ring, the patch of two positions and a row of outputs for an odd last position's partner;
 * ROWS: the widened image, then the patch of two positions. */
static uint32_t patch_bytes(const arm_conv *conv) {
    const tfl_window_shape *s = &conv->shape;
    uint32_t pair = 2 * 4 * (uint32_t)conv->gemm.kpairs;
    if (conv->gemm.layout == TFL_ARM_GROUPS) {
        uint32_t patches = conv->all_patches ? (uint32_t)(s->out_h * s->out_w) * pair / 2 : pair;
        return patches + (conv->lean ? 0 : 2 * (((uint32_t)(s->filter_w * s->in_c) + 3) & ~3u)); /* staging */
    }
    tfl_arm_padded_image image = tfl_arm_padded_size(s);
    if (conv->gemm.layout == TFL_ARM_SINGLE_CHANNEL) {
        return ring_bytes(s, &image) + pair + (((uint32_t)conv->gemm.channels + 3) & ~3u);
    }
    return ((tfl_arm_image_halves(s) * 2 + 3) & ~3u) + pair;
}

static void eval_groups(const arm_conv *conv, const int8_t *input, int8_t *output, uint8_t *scratch) {
    const tfl_window_shape *s = &conv->shape;
    const tfl_arm_gemm *gemm = &conv->gemm;
    int32_t positions = s->out_h * s->out_w, channels = gemm->channels, pair_words = 2 * gemm->kpairs;
    uint32_t *patches = (uint32_t *)(void *)(scratch + tfl_arm_gemm_tile_bytes(gemm));
    int8_t *staging = (int8_t *)(patches + (conv->all_patches ? (positions * pair_words) / 2 : pair_words));
    inside_box box = inside_box_of(s);
    if (conv->all_patches) {
        for (int32_t p = 0, oy = 0, ox = 0; p < positions; p += 2, step_two(s, &oy, &ox)) {
            groups_patch(patches + (p / 2) * pair_words, conv, &box, input, p, oy, ox, p + 1 < positions, staging);
        }
    }
    int32_t groups = s->filter_w * s->in_c / 4, step = s->dilation_h * s->in_w * s->in_c;
    tfl_arm_gemm tile;
    for (int32_t first = 0; first < channels; first += gemm->tile) {
        int32_t count = channels - first < gemm->tile ? channels - first : gemm->tile;
        tfl_arm_gemm_pack(&tile, gemm, first, count, scratch);
        if (conv->lean && count % 2 == 0) { /* the common case in a loop that carries little */
            tfl_arm_gemm_job job = {tile.weights, patches, tile.entry, NULL, NULL};
            int8_t *out = output + first;
            for (int32_t oy = 0; oy < s->out_h; oy++) {
                const int8_t *window = input + box.origin + oy * box.row_bytes;
                for (int32_t ox = 0; ox < s->out_w; ox += 2, window += 2 * box.column_bytes, out += 2 * channels) {
                    tfl_arm_widen_two(patches, window, window + box.column_bytes, groups, s->filter_h, step);
                    job.out0 = out;
                    job.out1 = out + channels;
                    tfl_arm_gemm_2x2_even(&job);
                }
            }
            continue;
        }
        int32_t p = 0;
        if (conv->all_patches && gemm->assembly && count % 2 == 0) { /* the pairs' patches in turn */
            tfl_arm_gemm_job job = {tile.weights, patches, tile.entry, output + first, output + first + channels};
            for (; p + 1 < positions; p += 2, job.patch += pair_words) {
                tfl_arm_gemm_2x2_even(&job);
                job.out0 += 2 * channels;
                job.out1 += 2 * channels;
            }
        }
        for (int32_t oy = p / s->out_w, ox = p % s->out_w; p < positions; p += 2, step_two(s, &oy, &ox)) {
            int two = p + 1 < positions;
            const uint32_t *patch = patches;
            if (conv->all_patches) {
                patch += (p / 2) * pair_words;
            } else {
                groups_patch(patches, conv, &box, input, p, oy, ox, two, staging);
            }
            int8_t *out0 = output + (size_t)p * channels + first;
            if (two) {
                tfl_arm_gemm_multiply_two(&tile, patch, out0, out0 + channels);
            } else {
                tfl_arm_gemm_multiply(&tile, patch, 0, out0, out0);
            }
        }
    }
}

static void eval_single_channel(const arm_conv *conv, const int8_t *input, int8_t *output, uint8_t *scratch) {
    const tfl_window_shape *s = &conv->shape;
    tfl_arm_padded_image image = tfl_arm_padded_size(s);
    tfl_arm_gemm tile;
    tfl_arm_gemm_pack(&tile, &conv->gemm, 0, conv->gemm.channels, scratch);
    uint32_t *ring = (uint32_t *)(void *)(scratch + tfl_arm_gemm_tile_bytes(&conv->gemm));
    uint32_t *patch = ring + ring_bytes(s, &image) / 4;
    int8_t *spare = (int8_t *)(patch + 2 * tile.kpairs);
    int32_t channels = tile.channels, widened = 0; /* padded rows up to `widened` are in the ring */
    int lean = tile.rows == 5 && tile.row_len == 5 && tile.assembly && (channels & 1) == 0; /* band_row_5x5 */
    uint32_t row_bytes = 4 * (uint32_t)image.width;
    memset(patch, 0, 8 * (size_t)tile.kpairs); /* every patch writes the same words: the zero k-pair stays zero */
    for (int32_t oy = 0; oy < s->out_h; oy++) {
        int32_t y0 = oy * s->stride_h;
        for (widened = widened > y0 ? widened : y0; widened < y0 + s->filter_h; widened++) {
            widen_into_ring(ring, conv, &image, input, widened);
        }
        const uint32_t *band = ring + (size_t)(y0 % s->filter_h) * image.width;
        int8_t *row = output + (size_t)oy * s->out_w * channels;
        int32_t x = 0;
        if (lean) { /* every whole pair of positions */
            band_row_5x5 pairs = {{tile.weights, patch, tile.entry, row, row + channels}, patch, band, row_bytes,
                s->out_w / 2, 2 * channels};
            tfl_arm_band_row_5x5(&pairs);
            x = 2 * (s->out_w / 2);
        }
        for (; x < s->out_w; x += 2) {
            single_channel_patch(patch, &tile, band + x, image.width);
            int8_t *out0 = row + (size_t)x * channels;
            tfl_arm_gemm_multiply_two(&tile, patch, out0, x + 1 < s->out_w ? out0 + channels : spare);
        }
    }
}

static void eval_rows(const arm_conv *conv, const int8_t *input, int8_t *output, uint8_t *scratch) {
    const tfl_window_shape *shape = &conv->shape;
    tfl_arm_padded_image image = tfl_arm_padded_size(shape);
    tfl_arm_gemm tile;
    tfl_arm_gemm_pack(&tile, &conv->gemm, 0, conv->gemm.channels, scratch);
    int16_t *image16 = (int16_t *)(void *)(scratch + tfl_arm_gemm_tile_bytes(&conv->gemm));
    uint32_t *patch = (uint32_t *)(void *)((uint8_t *)image16 + ((tfl_arm_image_halves(shape) * 2 + 3) & ~3u));
    int32_t positions = shape->out_h * shape->out_w, channels = tile.channels;
    int32_t row_step = shape->dilation_h * image.width * image.channels;
    tfl_arm_widen_image(image16, &image, shape, conv->input_zero_point, input);
    for (int32_t p = 0; p < positions; p += 2) {
        int two = p + 1 < positions;
        const int16_t *window0 = tfl_arm_window_of(shape, &image, image16, p);
        const int16_t *window1 = two ? tfl_arm_window_of(shape, &image, image16, p + 1) : NULL;
        if (shape->dilation_w == 1) {
            gather_rows(patch, window0, window1, shape->filter_h, tile.row_len2 / 2, row_step);
        } else {
            gather_dilated(patch, two ? 2 : 1, &tile, shape, &image, window0);
            if (two) {
                gather_dilated(patch + 1, 2, &tile, shape, &image, window1);
            }
        }
        int8_t *out0 = output + (size_t)p * channels;
        if (two) {
            tfl_arm_gemm_multiply_two(&tile, patch, out0, out0 + channels);
        } else {
            tfl_arm_gemm_multiply(&tile, patch, 0, out0, out0);
        }
    }
}

/* ---- the node: the reference prepare's checks and figures, then the DSP kernel's ---- */

static tfl_status prepare_pointwise(tfl_context *ctx, tfl_node *node, tfl_conv_data *data,
    const tfl_window_shape *s, const int8_t *weights, const uint8_t *bias) {
    arm_pointwise *p = tfl_alloc_persistent(ctx, sizeof(arm_pointwise));
    if (p == NULL) {
        return tfl_fail(ctx, TFL_ERR_ARENA, "arena too small for CONV_2D");
    }
    p->kind.pointwise = 1;
    p->rows = (tfl_arm_rows){weights, bias, &data->io, data->multipliers, data->shifts, s->in_c, s->out_c, 0};
    p->rows.fast_requant = (uint8_t)tfl_arm_rows_fast(bias, weights, s->out_c, s->in_c, data->shifts);
    p->pixels = s->batches * s->in_h * s->in_w;
    node->scratch_bytes = 0; /* the pixels are widened in registers */
    data->variant = p;
    return TFL_OK;
}

tfl_status tfl_arm_conv_prepare(tfl_context *ctx, tfl_node *node) {
    tfl_status status = tfl_conv_prepare(ctx, node);
    const tfl_tensor *input = tfl_input(ctx, node, 0), *filter = tfl_input(ctx, node, 1);
    if (status != TFL_OK || input->type != TFL_TYPE_INT8) {
        return status;
    }
    tfl_conv_data *data = node->user_data;
    const tfl_tensor *bias = tfl_input(ctx, node, 2);
    tfl_window_shape shape = tfl_window_shape_of(input, filter, tfl_output(ctx, node, 0), &node->options.conv);
    if (pointwise(&shape)) {
        return prepare_pointwise(ctx, node, data, &shape, (const int8_t *)filter->data,
            bias != NULL ? bias->data : NULL);
    }
    arm_conv *conv = tfl_alloc_persistent(ctx, sizeof(arm_conv));
    if (conv == NULL) {
        return tfl_fail(ctx, TFL_ERR_ARENA, "arena too small for CONV_2D");
    }
    conv->kind.pointwise = 0;
    conv->shape = shape;
    conv->input_zero_point = -data->io.input_offset;
    const tfl_window_shape *s = &conv->shape;
    int layout = layout_of(s), groups = layout == TFL_ARM_GROUPS; /* GROUPS: the depth as one row */
    int32_t row_len = s->filter_w * s->in_c;
    status = tfl_arm_gemm_prepare(ctx, &conv->gemm, layout, (const int8_t *)filter->data,
        bias != NULL ? bias->data : NULL, s->out_c, groups ? 1 : s->filter_h, groups ? s->filter_h * row_len : row_len,
        &data->io, data->multipliers, data->shifts);
    if (status != TFL_OK) {
        return status;
    }
    if (layout == TFL_ARM_SINGLE_CHANNEL) { /* every position goes in a pair (an odd last one with a spare partner):
                                             * through the assembly loop, with no lone channel, no C path runs */
        conv->gemm.records = (uint8_t)!(conv->gemm.assembly && conv->gemm.channels % 2 == 0);
    }
    if (layout == TFL_ARM_GROUPS) {
        uint32_t pair_bytes = 2 * 4 * (uint32_t)conv->gemm.kpairs;
        uint32_t patches = (uint32_t)(s->out_h * s->out_w) * pair_bytes / 2;
        inside_box box = inside_box_of(s);
        conv->all_patches = patches <= TFL_ARM_PATCHES_BYTES;
        conv->lean = (uint8_t)(!conv->all_patches && conv->gemm.assembly && s->out_w % 2 == 0 &&
            inside(&box, 0, 0) && inside(&box, s->out_h - 1, s->out_w - 1));
        conv->gemm.records = (uint8_t)!(conv->lean && conv->gemm.channels % 2 == 0); /* every tile even */
        uint32_t channel_pair = conv->gemm.block_words * 4 + (conv->gemm.records ? 2 * sizeof(tfl_arm_channel) : 0);
        uint32_t pairs = conv->all_patches ? 1 : TFL_ARM_TILE_BYTES / channel_pair;
        int32_t tile = 2 * (int32_t)(pairs > 0 ? pairs : 1);
        conv->gemm.tile = tile < conv->gemm.channels ? tile : conv->gemm.channels;
    }
    node->scratch_bytes = tfl_arm_gemm_tile_bytes(&conv->gemm) + patch_bytes(conv); /* in place of the reference's */
    data->variant = conv;
    return TFL_OK;
}

tfl_status tfl_arm_conv_eval(tfl_context *ctx, tfl_node *node) {
    const tfl_conv_data *data = node->user_data;
    const arm_kind *kind = data->variant;
    if (kind == NULL) {
        return tfl_conv_eval(ctx, node);
    }
    const int8_t *input = (const int8_t *)tfl_input(ctx, node, 0)->data;
    int8_t *output = (int8_t *)tfl_output(ctx, node, 0)->data;
    if (kind->pointwise) {
        const arm_pointwise *p = (const arm_pointwise *)(const void *)kind;
        tfl_arm_rows_eval(&p->rows, p->pixels, input, output);
        return TFL_OK;
    }
    const arm_conv *conv = (const arm_conv *)(const void *)kind;
    const tfl_window_shape *s = &conv->shape;
    size_t in_size = (size_t)s->in_h * s->in_w * s->in_c, out_size = (size_t)s->out_h * s->out_w * s->out_c;
    for (int32_t b = 0; b < s->batches; b++, input += in_size, output += out_size) {
        if (conv->gemm.layout == TFL_ARM_GROUPS) {
            eval_groups(conv, input, output, node->scratch);
        } else if (conv->gemm.layout == TFL_ARM_SINGLE_CHANNEL) {
            eval_single_channel(conv, input, output, node->scratch);
        } else {
            eval_rows(conv, input, output, node->scratch);
        }
    }
    return TFL_OK;
}

#endif /* TFL_ARM_DSP */
