/*
 * dtmm_sparse_conv_s8_c.c - unstructured sparse conv, portable C.
 *
 * Two horizontally adjacent pixels whose windows lie inside the input share
 * the walk of each row's kept weights: a row's taps are one contiguous input
 * slice per pixel, so a kept weight is its column (a bitmap bit or a CSR
 * entry), its value and two loads and multiply-accumulates.  Other pixels
 * are walked one by one with every tap checked.  See dtmm_ops.h.
 */
#include "dtmm_sparse_conv_internal.h"

/* sum w * s0[c] and w * s1[c] over one row's kept weights (s0, s1: the two pixels' row slices). */
static inline void row_pair(dtmm_sparse_cursor *cur, const int8_t *s0, const int8_t *s1, int32_t row_bytes,
                            int32_t *a0, int32_t *a1)
{
    int32_t acc0 = 0;
    int32_t acc1 = 0;
    if (cur->bitmap != NULL) {
        const uint8_t *bm = cur->bitmap;
        for (int32_t b = 0; b < row_bytes; ++b) {
            uint32_t bits = bm[b];
            const int8_t *x0 = s0 + 8 * b;
            const int8_t *x1 = s1 + 8 * b;
            while (bits != 0u) {
                const int32_t c = __builtin_ctz(bits);
                const int32_t w = *cur->w++;
                bits &= bits - 1u;
                acc0 += w * x0[c];
                acc1 += w * x1[c];
            }
        }
        cur->bitmap += row_bytes;
    } else {
        int32_t n = *cur->counts++;
        while (n-- > 0) {
            const int32_t c = dtmm_sparse_csr_col(cur);
            const int32_t w = *cur->w++;
            acc0 += w * s0[c];
            acc1 += w * s1[c];
        }
    }
    *a0 += acc0;
    *a1 += acc1;
}

dtmm_status dtmm_sparse_conv_s8_c(const dtmm_sparse_conv_s8_params *p, const int8_t *input, int8_t *output)
{
    const int32_t cin = p->cin;
    const int32_t cout = p->cout;
    const int32_t row_bytes = dtmm_sparse_row_bytes(p);
    const size_t in_row = (size_t)p->in_w * (size_t)cin;
    const size_t step = (size_t)p->stride_w * (size_t)cin;
    int8_t *out = output;
    for (int32_t oy = 0; oy < p->out_h; ++oy) {
        const int32_t y0 = oy * p->stride_h - p->pad_top;
        int32_t ox = 0;
        while (ox < p->out_w) {
            const int32_t x0 = ox * p->stride_w - p->pad_left;
            if (!(ox + 1 < p->out_w && dtmm_sparse_inside(p, y0, x0) && dtmm_sparse_inside(p, y0, x0 + p->stride_w))) {
                dtmm_sparse_pixel_checked(p, input, y0, x0, out);
                out += cout;
                ++ox;
                continue;
            }
            dtmm_sparse_cursor cur = dtmm_sparse_start(p);
            for (int32_t o = 0; o < cout; ++o) {
                int32_t a0 = 0;
                int32_t a1 = 0;
                for (int32_t ky = 0; ky < p->kh; ++ky) {
                    const int8_t *s0 = input + (size_t)(y0 + ky * p->dilation_h) * in_row + (size_t)x0 * (size_t)cin;
                    row_pair(&cur, s0, s0 + step, row_bytes, &a0, &a1);
                }
                out[o] = dtmm_sparse_output(p, o, a0);
                out[cout + o] = dtmm_sparse_output(p, o, a1);
            }
            out += 2 * cout;
            ox += 2;
        }
    }
    return DTMM_OK;
}
