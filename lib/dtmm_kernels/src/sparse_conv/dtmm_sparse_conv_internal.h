/*
 * dtmm_sparse_conv_internal.h - what the unstructured sparse conv paths share
 * (internal): walking a row's kept weights and one output pixel.  See
 * dtmm_ops.h for the storage.
 */
#ifndef DTMM_SPARSE_CONV_INTERNAL_H
#define DTMM_SPARSE_CONV_INTERNAL_H

#include <stddef.h>

#include "dtmm_ops.h"
#include "../common/dtmm_fixedpoint.h"

/* Where the walk is in the weights and the index. */
typedef struct {
    const int8_t *w;
    const uint8_t *bitmap;
    const uint16_t *counts;
    const uint8_t *cols8;
    const uint16_t *cols16;
} dtmm_sparse_cursor;

static inline dtmm_sparse_cursor dtmm_sparse_start(const dtmm_sparse_conv_s8_params *p)
{
    dtmm_sparse_cursor c = {p->weights, p->bitmap, p->counts, p->cols8, p->cols16};
    return c;
}

static inline int32_t dtmm_sparse_row_bytes(const dtmm_sparse_conv_s8_params *p)
{
    return (p->kw * p->cin + 7) / 8;
}

/* The column of the next kept weight of a CSR row. */
static inline int32_t dtmm_sparse_csr_col(dtmm_sparse_cursor *cur)
{
    return cur->cols8 != NULL ? (int32_t)*cur->cols8++ : (int32_t)*cur->cols16++;
}

/* True when the window at (y0, x0) lies inside the input with dilation_w 1: a row's taps are one slice. */
static inline int dtmm_sparse_inside(const dtmm_sparse_conv_s8_params *p, int32_t y0, int32_t x0)
{
    return y0 >= 0 && y0 + (p->kh - 1) * p->dilation_h < p->in_h && p->dilation_w == 1 && x0 >= 0 &&
           x0 + p->kw - 1 < p->in_w;
}

/* The column of the next kept weight of the row (bitmap: bits left in `bits`, next byte at *b), or -1 at its end. */
static inline int32_t dtmm_sparse_next_col(dtmm_sparse_cursor *cur, uint32_t *bits, int32_t *b, int32_t *n,
                                           int32_t row_bytes)
{
    if (cur->bitmap != NULL) {
        while (*bits == 0u && *b < row_bytes) {
            *bits = cur->bitmap[(*b)++];
        }
        if (*bits == 0u) {
            return -1;
        }
        const int32_t c = 8 * (*b - 1) + __builtin_ctz(*bits);
        *bits &= *bits - 1u;
        return c;
    }
    if ((*n)-- <= 0) {
        return -1;
    }
    return dtmm_sparse_csr_col(cur);
}

/*
 * One row's kept weights for any window: out-of-bounds taps read the input
 * zero point, which the folded bias expects.  With dilation_w 1 the in-bounds
 * taps are the columns of one interval, so a tap costs a range check; a row
 * above or below the input is its weights' sum times the zero point.
 */
static inline int32_t dtmm_sparse_row_checked(dtmm_sparse_cursor *cur, const dtmm_sparse_conv_s8_params *p,
                                              const int8_t *input, int32_t y, int32_t x0, int32_t row_bytes)
{
    const int32_t cin = p->cin;
    const int32_t pad_value = -p->input_offset;
    int32_t acc = 0;
    int32_t n = cur->bitmap == NULL ? *cur->counts++ : 0;
    int32_t b = 0;
    int32_t c;
    uint32_t bits = 0u;
    if (y < 0 || y >= p->in_h) {
        int32_t sum = 0;
        while (dtmm_sparse_next_col(cur, &bits, &b, &n, row_bytes) >= 0) {
            sum += *cur->w++;
        }
        acc = sum * pad_value;
    } else if (p->dilation_w == 1) {
        const int32_t kx_lo = x0 < 0 ? -x0 : 0;
        const int32_t kx_hi = p->in_w - x0 < p->kw ? p->in_w - x0 : p->kw;
        const uint32_t c_lo = (uint32_t)(kx_lo * cin);
        const uint32_t span = kx_hi > kx_lo ? (uint32_t)((kx_hi - kx_lo) * cin) : 0u;
        const ptrdiff_t base = ((ptrdiff_t)y * p->in_w + x0) * cin; /* input[base + c] is column c's tap */
        while ((c = dtmm_sparse_next_col(cur, &bits, &b, &n, row_bytes)) >= 0) {
            const int32_t v = (uint32_t)c - c_lo < span ? input[base + c] : pad_value;
            acc += (int32_t)*cur->w++ * v;
        }
    } else {
        const int8_t *row = input + (size_t)y * (size_t)p->in_w * (size_t)cin;
        while ((c = dtmm_sparse_next_col(cur, &bits, &b, &n, row_bytes)) >= 0) {
            const int32_t kx = c / cin;
            const int32_t x = x0 + kx * p->dilation_w;
            const int32_t v = (x >= 0 && x < p->in_w) ? row[(size_t)x * (size_t)cin + (size_t)(c - kx * cin)]
                                                      : pad_value;
            acc += (int32_t)*cur->w++ * v;
        }
    }
    if (cur->bitmap != NULL) {
        cur->bitmap += row_bytes;
    }
    return acc;
}

static inline int8_t dtmm_sparse_output(const dtmm_sparse_conv_s8_params *p, int32_t o, int32_t acc)
{
    const int32_t a = dtmm_fp_add_wrap(acc, p->bias[o]);
    const int32_t v = dtmm_fp_add_wrap(dtmm_fp_requantize(a, p->multiplier[o], p->shift[o]), p->output_offset);
    return dtmm_fp_clamp_s8(v, p->act_min, p->act_max);
}

/* One output pixel, every tap checked: its cout outputs into out. */
static inline void dtmm_sparse_pixel_checked(const dtmm_sparse_conv_s8_params *p, const int8_t *input, int32_t y0,
                                             int32_t x0, int8_t *out)
{
    const int32_t row_bytes = dtmm_sparse_row_bytes(p);
    dtmm_sparse_cursor cur = dtmm_sparse_start(p);
    for (int32_t o = 0; o < p->cout; ++o) {
        int32_t acc = 0;
        for (int32_t ky = 0; ky < p->kh; ++ky) {
            acc += dtmm_sparse_row_checked(&cur, p, input, y0 + ky * p->dilation_h, x0, row_bytes);
        }
        out[o] = dtmm_sparse_output(p, o, acc);
    }
}

#endif /* DTMM_SPARSE_CONV_INTERNAL_H */
