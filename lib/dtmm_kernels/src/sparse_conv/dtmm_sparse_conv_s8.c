/* dtmm_sparse_conv_s8.c - int8 CONV_2D over weights pruned one by one (the `unstructured` baseline).
 *
 * Walks the kept weights of each row (o, ky) -- set bits of a bitmap, or a
 * CSR list of columns -- and multiplies each with its input.  A window that
 * lies inside the input (dilation_w 1) reads a row's taps as one contiguous
 * slice: column c is input[c] from the row start, no bounds check.  Other
 * windows decode c into (kx, ci) and check bounds.  See dtmm_ops.h. */
#include <stddef.h>

#include "dtmm_ops.h"
#include "../common/dtmm_fixedpoint.h"

typedef struct {
    const int8_t *w;
    const uint8_t *bitmap;
    const uint16_t *counts;
    const uint8_t *cols8;
    const uint16_t *cols16;
} sparse_cursor;

/* The column of the next kept weight of a CSR row. */
static inline int32_t csr_col(sparse_cursor *cur)
{
    return cur->cols8 != NULL ? (int32_t)*cur->cols8++ : (int32_t)*cur->cols16++;
}

/* sum w * slice[c] over one row's kept weights (slice: the row's contiguous taps). */
static int32_t row_inside(sparse_cursor *cur, const int8_t *slice, int32_t row_bytes)
{
    int32_t acc = 0;
    if (cur->bitmap != NULL) {
        const uint8_t *bm = cur->bitmap;
        for (int32_t b = 0; b < row_bytes; ++b) {
            uint32_t bits = bm[b];
            const int8_t *x = slice + 8 * b;
            while (bits != 0u) {
                const int32_t c = __builtin_ctz(bits);
                bits &= bits - 1u;
                acc += (int32_t)*cur->w++ * x[c];
            }
        }
        cur->bitmap += row_bytes;
    } else {
        int32_t n = *cur->counts++;
        while (n-- > 0) {
            const int32_t c = csr_col(cur);
            acc += (int32_t)*cur->w++ * slice[c];
        }
    }
    return acc;
}

/* The same with each tap's position checked: out-of-bounds taps read the input zero point. */
static int32_t row_checked(sparse_cursor *cur, const dtmm_sparse_conv_s8_params *p, const int8_t *input, int32_t y,
                           int32_t x0, int32_t row_bytes)
{
    const int32_t cin = p->cin;
    const int32_t pad_value = -p->input_offset;
    const int y_in = y >= 0 && y < p->in_h;
    const int8_t *row = y_in ? input + (size_t)y * (size_t)p->in_w * (size_t)cin : NULL;
    int32_t acc = 0;
    int32_t n = 0;
    int32_t b = 0;
    uint32_t bits = 0u;
    if (cur->bitmap == NULL) {
        n = *cur->counts++;
    }
    for (;;) {
        int32_t c;
        if (cur->bitmap != NULL) {
            while (bits == 0u && b < row_bytes) {
                bits = cur->bitmap[b++];
            }
            if (bits == 0u) {
                break;
            }
            c = 8 * (b - 1) + __builtin_ctz(bits);
            bits &= bits - 1u;
        } else {
            if (n-- <= 0) {
                break;
            }
            c = csr_col(cur);
        }
        const int32_t kx = c / cin;
        const int32_t ci = c - kx * cin;
        const int32_t x = x0 + kx * p->dilation_w;
        const int32_t v = (y_in && x >= 0 && x < p->in_w) ? row[(size_t)x * (size_t)cin + (size_t)ci] : pad_value;
        acc += (int32_t)*cur->w++ * v;
    }
    if (cur->bitmap != NULL) {
        cur->bitmap += row_bytes;
    }
    return acc;
}

dtmm_status dtmm_sparse_conv_s8(const dtmm_sparse_conv_s8_params *p, const int8_t *input, int8_t *output)
{
    if (p == NULL || input == NULL || output == NULL || p->bias == NULL || p->multiplier == NULL ||
        p->shift == NULL || (p->bitmap == NULL) == (p->counts == NULL) ||
        (p->counts != NULL && (p->cols8 == NULL) == (p->cols16 == NULL))) {
        return DTMM_ERR_ARGUMENT;
    }
    if (p->cin < 1 || p->cout < 1 || p->kh < 1 || p->kw < 1 || p->out_h < 1 || p->out_w < 1) {
        return DTMM_ERR_ARGUMENT;
    }
    const int32_t cin = p->cin;
    const int32_t row_bytes = (p->kw * cin + 7) / 8;
    const int32_t in_row = p->in_w * cin;
    const int32_t last_kx = (p->kw - 1) * p->dilation_w;
    const int32_t last_ky = (p->kh - 1) * p->dilation_h;
    int8_t *out = output;
    for (int32_t oy = 0; oy < p->out_h; ++oy) {
        const int32_t y0 = oy * p->stride_h - p->pad_top;
        const int rows_inside = y0 >= 0 && y0 + last_ky < p->in_h;
        for (int32_t ox = 0; ox < p->out_w; ++ox) {
            const int32_t x0 = ox * p->stride_w - p->pad_left;
            const int inside = rows_inside && p->dilation_w == 1 && x0 >= 0 && x0 + last_kx < p->in_w;
            sparse_cursor cur = {p->weights, p->bitmap, p->counts, p->cols8, p->cols16};
            for (int32_t o = 0; o < p->cout; ++o) {
                int32_t acc = 0;
                for (int32_t ky = 0; ky < p->kh; ++ky) {
                    const int32_t y = y0 + ky * p->dilation_h;
                    if (inside) {
                        acc += row_inside(&cur, input + (size_t)y * (size_t)in_row + (size_t)x0 * (size_t)cin, row_bytes);
                    } else {
                        acc += row_checked(&cur, p, input, y, x0, row_bytes);
                    }
                }
                acc = dtmm_fp_add_wrap(acc, p->bias[o]);
                const int32_t v = dtmm_fp_add_wrap(dtmm_fp_requantize(acc, p->multiplier[o], p->shift[o]),
                                                   p->output_offset);
                *out++ = dtmm_fp_clamp_s8(v, p->act_min, p->act_max);
            }
        }
    }
    return DTMM_OK;
}
