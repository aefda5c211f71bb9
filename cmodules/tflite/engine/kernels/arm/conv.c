/* CONV_2D, int8, with the DSP matrix product (gemm.c): widen the input image once (with its padding), then copy
 * each patch a word at a time; a single-channel first layer reads its patches from strips in place. */
#include "arm_int8.h"

#if defined(TFL_ARM_DSP)

/* The firmware is built for size (-Os); these loops are where the inference spends its time. */
#pragma GCC optimize("O2")

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

/* A single-channel input (the first layer of an image model) with unit column stride and no dilation: its
 * filter rows (filter_w values) are too short for the row copies below to pay, and padding an odd row wastes a
 * multiply in every row. So the widened image is laid out once more, as "strips", one per pair of output
 * columns (x even, x + 1), in which every patch of the pair is one run of words in exactly the order the 2x2
 * product reads, and the product reads it in place. Per image row y a strip holds the words
 * (v[x+j], v[x+j+1]) for j = 0 .. 2 * (filter_w / 2) - 1: the taps (2k, 2k+1) of position x (j even) and of
 * x + 1 (j odd). For an odd filter_w the last column's taps of two filter rows are paired instead, as words
 * (v[y][c], v[y+1][c]) of the columns c of positions x and x + 1; since which image rows pair up depends on the
 * window's first row, there are two strips per column pair, one for windows starting on even rows, one for odd,
 * each with these two words after every row of its parity. The k-pairs follow (the SINGLE_CHANNEL layout,
 * arm_int8.h). A 5x5 filter takes 13 k-pairs instead of 15, and no copying per position. */
static int single_channel(const tfl_window_shape *s) {
    return s->in_c == 1 && s->stride_w == 1 && s->dilation_w == 1 && s->dilation_h == 1 && s->out_w >= 2;
}

typedef struct {
    int32_t run;          /* words per image row: 2 * (filter_w / 2) */
    int32_t stacked;      /* 1 for an odd filter_w: the stacked words and two strips per column pair */
    int32_t words;        /* of one strip */
    int32_t count;        /* strips */
} strip_layout;

static strip_layout strips_of(const tfl_arm_gemm *gemm, const tfl_arm_padded_image *image,
    const tfl_window_shape *s) {
    strip_layout l;
    l.run = 2 * (gemm->row_len / 2);
    l.stacked = gemm->row_len & 1;
    l.words = image->height * l.run + l.stacked * 2 * ((image->height + 1) / 2);
    l.count = (s->out_w + 1) / 2 * (1 + l.stacked);
    return l;
}

/* Bytes of the widened image: int16 values (4-aligned), then for single-channel inputs the strips (plus the
 * zero k-pair's two words past the last, see tfl_arm_gemm.kpairs) and a row of outputs that an odd last position's
 * partner writes into. Otherwise the patch of two positions follows. */
static uint32_t scratch_bytes(const tfl_arm_gemm *gemm, const tfl_window_shape *shape) {
    uint32_t bytes = (tfl_arm_image_halves(shape) * 2 + 3) & ~3u;
    if (gemm->layout == TFL_ARM_SINGLE_CHANNEL) {
        tfl_arm_padded_image image = tfl_arm_padded_size(shape);
        strip_layout l = strips_of(gemm, &image, shape);
        return bytes + 4 * (uint32_t)(l.count * l.words + 2) + (((uint32_t)gemm->channels + 3) & ~3u);
    }
    return bytes + 2 * 4 * (uint32_t)gemm->kpairs;
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

/* Where image row y starts in a strip of the given parity: every earlier row's run, and two stacked words after
 * each earlier row of that parity. */
static int32_t strip_row_offset(const strip_layout *l, int32_t y, int32_t parity) {
    return y * l->run + l->stacked * 2 * ((y + 1 - parity) >> 1);
}

/* Row y of every strip, for a 5-wide filter (the common first layer) when row y + 1 exists: per column pair, the
 * four run words (two of them unaligned loads) into both parities' strips, and the stacked words of the last
 * columns into the strip of row y's parity. */
static void strip_row_5(uint32_t *with_stacked, uint32_t *without, const int16_t *row, const int16_t *below,
    int32_t column_pairs, uint32_t strip_pair_bytes) {
    __asm__ volatile(
        "1: ldr r4, [%[row]]\n"
        "ldr r5, [%[row], #2]\n"
        "ldr r6, [%[row], #4]\n"
        "ldr r8, [%[row], #6]\n"
        "stmia %[with], {r4, r5, r6, r8}\n"
        "stmia %[without], {r4, r5, r6, r8}\n"
        "ldr r4, [%[row], #8]\n"          /* columns x + 4 and x + 5 of row y ... */
        "ldr r5, [%[below], #8]\n"        /* ... and of row y + 1 */
        "pkhbt r6, r4, r5, lsl #16\n"
        "pkhtb r8, r5, r4, asr #16\n"
        "strd r6, r8, [%[with], #16]\n"
        "adds %[row], %[row], #4\n"
        "adds %[below], %[below], #4\n"
        "add %[with], %[with], %[step]\n"
        "add %[without], %[without], %[step]\n"
        "subs %[n], %[n], #1\n"
        "bne 1b\n"
        : [row] "+r"(row), [below] "+r"(below), [with] "+r"(with_stacked), [without] "+r"(without),
          [n] "+r"(column_pairs)
        : [step] "r"(strip_pair_bytes)
        : "r4", "r5", "r6", "r8", "cc", "memory");
}

/* The strips of the widened image (see tfl_arm_conv_single_channel), row by row. A run ends with a value one past
 * the last column of an odd last position's partner, which reads the next row's first value or the image's
 * spare. */
static void build_strips(uint32_t *strips, const strip_layout *l, const int16_t *image16, const tfl_arm_padded_image *image,
    int32_t last_column) {
    int32_t width = image->width, height = image->height, parities = 1 + l->stacked;
    int32_t column_pairs = l->count / parities;
    size_t strip_pair = (size_t)parities * l->words; /* words from a column pair's strips to the next's */
    for (int32_t y = 0; y < height; y++) {
        const int16_t *row = image16 + (size_t)y * width;
        int32_t own = y & 1; /* the parity whose strips take row y's stacked words */
        uint32_t *first[2] = {strips + strip_row_offset(l, y, 0), strips + l->words + strip_row_offset(l, y, 1)};
        if (l->stacked && l->run == 4 && y + 1 < height) {
            strip_row_5(first[own], first[1 - own], row, row + width, column_pairs, 4 * (uint32_t)strip_pair);
            continue;
        }
        for (int32_t x = 0; x < 2 * column_pairs; x += 2) {
            for (int32_t parity = 0; parity < parities; parity++) {
                uint32_t *words = first[parity] + (size_t)(x / 2) * strip_pair;
                for (int32_t j = 0; j < l->run; j++) { /* odd j: an unaligned load */
                    memcpy(words++, row + x + j, 4);
                }
                if (l->stacked && parity == own) { /* the last columns of x and x + 1, rows y and y + 1 */
                    uint32_t top, bottom = 0;
                    memcpy(&top, row + x + last_column, 4);
                    if (y + 1 < height) {
                        memcpy(&bottom, row + width + x + last_column, 4);
                    }
                    words[0] = (top & 0xffff) | bottom << 16;       /* PKHBT */
                    words[1] = (bottom & 0xffff0000) | top >> 16;   /* PKHTB */
                }
            }
        }
    }
}

/* Two positions at a time (x, x + 1) straight from the strips; an odd last position goes with a partner whose
 * outputs land in a spare row. */
static void conv_single_channel(const tfl_arm_gemm *gemm, const tfl_window_shape *s, const tfl_arm_padded_image *image,
    const int16_t *image16, uint32_t *strips, int8_t *out) {
    strip_layout l = strips_of(gemm, image, s);
    build_strips(strips, &l, image16, image, gemm->row_len - 1);
    int8_t *spare = (int8_t *)(strips + l.count * l.words + 2);
    int direct = gemm->assembly && (gemm->channels & 1) == 0; /* nothing but the assembly loop's call per pair */
    tfl_arm_gemm_job job = {gemm->weights, NULL, gemm->entry, NULL, NULL};
    for (int32_t oy = 0; oy < s->out_h; oy++) {
        int32_t y0 = oy * s->stride_h, parity = l.stacked ? y0 & 1 : 0;
        const uint32_t *patch = strips + parity * l.words + strip_row_offset(&l, y0, parity);
        int8_t *out0 = out + (size_t)oy * s->out_w * gemm->channels;
        for (int32_t x = 0; x < s->out_w; x += 2, patch += (1 + l.stacked) * l.words, out0 += 2 * gemm->channels) {
            int8_t *out1 = x + 1 < s->out_w ? out0 + gemm->channels : spare;
            if (direct) {
                job.patch = patch;
                job.out0 = out0;
                job.out1 = out1;
                tfl_arm_gemm_2x2(&job);
            } else {
                tfl_arm_gemm_multiply_two(gemm, patch, out0, out1);
            }
        }
    }
}

static void eval(const tfl_arm_gemm *gemm, const tfl_window_shape *shape, int32_t input_zero_point,
    const int8_t *input, int8_t *output, uint32_t *scratch) {
    tfl_arm_padded_image image = tfl_arm_padded_size(shape);
    int16_t *image16 = (int16_t *)scratch;
    uint32_t *after_image = scratch + (tfl_arm_image_halves(shape) * 2 + 3) / 4; /* the patch, or the strips */
    uint32_t *patch = after_image;
    int32_t positions = shape->out_h * shape->out_w;
    int32_t row_step = shape->dilation_h * image.width * image.channels;
    for (int32_t b = 0; b < shape->batches; b++) {
        tfl_arm_widen_image(image16, &image, shape, input_zero_point,
            input + (size_t)b * shape->in_h * shape->in_w * shape->in_c);
        int8_t *out = output + (size_t)b * positions * gemm->channels;
        if (gemm->layout == TFL_ARM_SINGLE_CHANNEL) {
            conv_single_channel(gemm, shape, &image, image16, after_image, out);
            continue;
        }
        for (int32_t p = 0; p < positions; p += 2) {
            int two = p + 1 < positions;
            const int16_t *window0 = tfl_arm_window_of(shape, &image, image16, p);
            const int16_t *window1 = two ? tfl_arm_window_of(shape, &image, image16, p + 1) : NULL;
            if (shape->dilation_w == 1) {
                gather_rows(patch, window0, window1, shape->filter_h, gemm->row_len2 / 2, row_step);
            } else {
                gather_dilated(patch, two ? 2 : 1, gemm, shape, &image, window0);
                if (two) {
                    gather_dilated(patch + 1, 2, gemm, shape, &image, window1);
                }
            }
            int8_t *out0 = out + (size_t)p * gemm->channels;
            if (two) {
                tfl_arm_gemm_multiply_two(gemm, patch, out0, out0 + gemm->channels);
            } else {
                tfl_arm_gemm_multiply(gemm, patch, 0, out0, out0);
            }
        }
    }
}

/* ---- the node: the reference prepare's checks and figures, then the packed weights ---- */

typedef struct {
    tfl_arm_gemm gemm;
    tfl_window_shape shape;
} arm_conv;

tfl_status tfl_arm_conv_prepare(tfl_context *ctx, tfl_node *node) {
    tfl_status status = tfl_conv_prepare(ctx, node);
    const tfl_tensor *input = tfl_input(ctx, node, 0), *filter = tfl_input(ctx, node, 1);
    if (status != TFL_OK || input->type != TFL_TYPE_INT8) {
        return status;
    }
    tfl_conv_data *data = node->user_data;
    const tfl_tensor *bias = tfl_input(ctx, node, 2);
    arm_conv *conv = tfl_alloc_persistent(ctx, sizeof(arm_conv));
    if (conv == NULL) {
        return tfl_fail(ctx, TFL_ERR_ARENA, "arena too small for CONV_2D");
    }
    conv->shape = tfl_window_shape_of(input, filter, tfl_output(ctx, node, 0), &node->options.conv);
    const tfl_window_shape *s = &conv->shape;
    status = tfl_arm_gemm_prepare(ctx, &conv->gemm, single_channel(s) ? TFL_ARM_SINGLE_CHANNEL : TFL_ARM_ROWS,
        (const int8_t *)filter->data, bias != NULL ? bias->data : NULL, s->out_c, s->filter_h,
        s->filter_w * s->in_c, &data->io, data->multipliers, data->shifts);
    if (status != TFL_OK) {
        return status;
    }
    node->scratch_bytes = scratch_bytes(&conv->gemm, s); /* in place of the reference eval's */
    data->variant = conv;
    return TFL_OK;
}

tfl_status tfl_arm_conv_eval(tfl_context *ctx, tfl_node *node) {
    const tfl_conv_data *data = node->user_data;
    const arm_conv *conv = data->variant;
    if (conv == NULL) {
        return tfl_conv_eval(ctx, node);
    }
    eval(&conv->gemm, &conv->shape, -data->io.input_offset, (const int8_t *)tfl_input(ctx, node, 0)->data,
        (int8_t *)tfl_output(ctx, node, 0)->data, node->scratch);
    return TFL_OK;
}

#endif /* TFL_ARM_DSP */
