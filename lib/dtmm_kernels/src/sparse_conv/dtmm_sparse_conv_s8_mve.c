/*
 * dtmm_sparse_conv_s8_mve.c - unstructured sparse conv with Helium MVE
 * (Cortex-M55).
 *
 * Up to four horizontally adjacent pixels whose windows lie inside the input
 * are one block, one pixel per int32 lane (predicated when fewer): a kept weight of row (o, ky) at
 * column c is one byte gather of the four pixels' inputs (the row's base
 * plus c, plus each lane's window offset) and one VMLA by the weight.  Other
 * pixels are walked one by one with every tap checked.  See dtmm_ops.h.
 */
#include "dtmm_sparse_conv_internal.h"

#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)

#include <arm_mve.h>

#include "../common/dtmm_fixedpoint_mve.h"

#define BLOCK 4

/* n_pix (1..4) pixels from (y0, x0), stride_w apart, all windows inside; outputs at out, out + cout, ... */
static void pixel_block(const dtmm_sparse_conv_s8_params *p, const int8_t *input, int32_t y0, int32_t x0,
                        int32_t n_pix, int8_t *out)
{
    const int32_t cin = p->cin;
    const int32_t row_bytes = dtmm_sparse_row_bytes(p);
    const mve_pred16_t live = vctp32q((uint32_t)n_pix);
    /* lanes past n_pix read lane 0's pixel (valid memory, never stored): no predicate in the inner loops */
    const uint32x4_t lanes = vpselq_u32(vmulq_n_u32(vidupq_n_u32(0u, 1), (uint32_t)(p->stride_w * cin)),
                                        vdupq_n_u32(0u), live);
    const uint32x4_t out_off = vmulq_n_u32(vidupq_n_u32(0u, 1), (uint32_t)p->cout);
    const int32x4_t lo = vdupq_n_s32(p->act_min);
    const int32x4_t hi = vdupq_n_s32(p->act_max);
    const int8_t *window = input + ((size_t)y0 * (size_t)p->in_w + (size_t)x0) * (size_t)cin;
    const size_t row_step = (size_t)p->dilation_h * (size_t)p->in_w * (size_t)cin;
    const int8_t *w = p->weights;
    const uint8_t *bm = p->bitmap;
    const uint16_t *counts = p->counts;
    const uint8_t *c8 = p->cols8;
    const uint16_t *c16 = p->cols16;
    for (int32_t o = 0; o < p->cout; ++o) {
        int32x4_t acc = vdupq_n_s32(0);
        const int8_t *row = window;
        for (int32_t ky = 0; ky < p->kh; ++ky, row += row_step) {
            if (bm != NULL) {
                for (int32_t b = 0; b < row_bytes; ++b) {
                    uint32_t bits = *bm++;
                    const int8_t *x = row + 8 * b;
                    while (bits != 0u) {
                        const int8_t *at = x + __builtin_ctz(bits);
                        bits &= bits - 1u;
                        acc = vmlaq_n_s32(acc, vldrbq_gather_offset_s32(at, lanes), *w++);
                    }
                }
            } else if (c8 != NULL) {
                for (int32_t n = *counts++; n > 0; --n) {
                    acc = vmlaq_n_s32(acc, vldrbq_gather_offset_s32(row + *c8++, lanes), *w++);
                }
            } else {
                for (int32_t n = *counts++; n > 0; --n) {
                    acc = vmlaq_n_s32(acc, vldrbq_gather_offset_s32(row + *c16++, lanes), *w++);
                }
            }
        }
        int32x4_t v = vaddq_n_s32(acc, p->bias[o]);
        v = dtmm_mve_requantize(v, vdupq_n_s32(p->multiplier[o]), vdupq_n_s32(p->shift[o]));
        v = vminq_s32(vmaxq_s32(vaddq_n_s32(v, p->output_offset), lo), hi);
        vstrbq_scatter_offset_p_s32(out + o, out_off, v, live);
    }
}

dtmm_status dtmm_sparse_conv_s8_mve(const dtmm_sparse_conv_s8_params *p, const int8_t *input, int8_t *output)
{
    int8_t *out = output;
    for (int32_t oy = 0; oy < p->out_h; ++oy) {
        const int32_t y0 = oy * p->stride_h - p->pad_top;
        int32_t ox = 0;
        while (ox < p->out_w) {
            const int32_t x0 = ox * p->stride_w - p->pad_left;
            int32_t n = 0; /* adjacent pixels from here whose windows are inside, up to a block */
            while (n < BLOCK && ox + n < p->out_w && dtmm_sparse_inside(p, y0, x0 + n * p->stride_w)) {
                ++n;
            }
            if (n > 0) {
                pixel_block(p, input, y0, x0, n, out);
                out += n * p->cout;
                ox += n;
            } else {
                dtmm_sparse_pixel_checked(p, input, y0, x0, out);
                out += p->cout;
                ++ox;
            }
        }
    }
    return DTMM_OK;
}

#else

dtmm_status dtmm_sparse_conv_s8_mve(const dtmm_sparse_conv_s8_params *p, const int8_t *input, int8_t *output)
{
    return dtmm_sparse_conv_s8_c(p, input, output);
}

#endif
