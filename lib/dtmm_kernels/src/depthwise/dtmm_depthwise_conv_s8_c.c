/*
 * dtmm_depthwise_conv_s8_c.c - int8 DEPTHWISE_CONV_2D, portable C, per-channel
 * requantization (TFLite DepthwiseConvPerChannel semantics).  Arguments are
 * checked by dtmm_depthwise_conv_s8().
 *
 * For each output pixel the in-bounds tap range is computed once (it is a
 * contiguous range of kernel rows/columns even with dilation); channels are
 * then processed four at a time with the weights of one tap contiguous
 * (layout [kh][kw][out_ch]) and, for depth multiplier 1, the input channels
 * of one tap contiguous too.
 */
#include <stddef.h>

#include "dtmm_ops.h"
#include "../common/dtmm_tap_range.h"
#include "../common/dtmm_fixedpoint.h"

static inline int8_t requant(const dtmm_depthwise_conv_s8_params *p, int32_t acc, int32_t c)
{
    acc = dtmm_fp_add_wrap(acc, p->bias[c]);
    const int32_t v = dtmm_fp_add_wrap(dtmm_fp_requantize(acc, p->multiplier[c], p->shift[c]), p->output_offset);
    return dtmm_fp_clamp_s8(v, p->act_min, p->act_max);
}

dtmm_status dtmm_depthwise_conv_s8_c(const dtmm_depthwise_conv_s8_params *p, const int8_t *input, int8_t *output)
{
    const int32_t in_ch = p->in_ch;
    const int32_t out_ch = p->out_ch;
    const int32_t mult = p->depth_multiplier;
    const int32_t off = p->input_offset;
    const size_t in_image = (size_t)p->in_h * (size_t)p->in_w * (size_t)in_ch;
    const size_t out_image = (size_t)p->out_h * (size_t)p->out_w * (size_t)out_ch;

    for (int32_t b = 0; b < p->batches; ++b) {
        const int8_t *in = input + (size_t)b * in_image;
        int8_t *out = output + (size_t)b * out_image;
        for (int32_t oy = 0; oy < p->out_h; ++oy) {
            const int32_t iy0 = oy * p->stride_h - p->pad_top;
            int32_t ky_s, ky_e;
            dtmm_tap_range(iy0, p->dilation_h, p->kh, p->in_h, &ky_s, &ky_e);
            for (int32_t ox = 0; ox < p->out_w; ++ox) {
                const int32_t ix0 = ox * p->stride_w - p->pad_left;
                int32_t kx_s, kx_e;
                dtmm_tap_range(ix0, p->dilation_w, p->kw, p->in_w, &kx_s, &kx_e);
                int8_t *y = out + ((size_t)oy * (size_t)p->out_w + (size_t)ox) * (size_t)out_ch;
                if (mult == 1) {
                    int32_t c = 0;
                    for (; c + 4 <= out_ch; c += 4) {
                        int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
                        for (int32_t ky = ky_s; ky < ky_e; ++ky) {
                            const int32_t iy = iy0 + ky * p->dilation_h;
                            const int8_t *xrow = in + (size_t)iy * (size_t)p->in_w * (size_t)in_ch + (size_t)c;
                            const int8_t *wrow = p->weights + (size_t)ky * (size_t)p->kw * (size_t)out_ch + (size_t)c;
                            for (int32_t kx = kx_s; kx < kx_e; ++kx) {
                                const int8_t *x = xrow + (size_t)(ix0 + kx * p->dilation_w) * (size_t)in_ch;
                                const int8_t *w = wrow + (size_t)kx * (size_t)out_ch;
                                a0 += (int32_t)w[0] * ((int32_t)x[0] + off);
                                a1 += (int32_t)w[1] * ((int32_t)x[1] + off);
                                a2 += (int32_t)w[2] * ((int32_t)x[2] + off);
                                a3 += (int32_t)w[3] * ((int32_t)x[3] + off);
                            }
                        }
                        y[c] = requant(p, a0, c);
                        y[c + 1] = requant(p, a1, c + 1);
                        y[c + 2] = requant(p, a2, c + 2);
                        y[c + 3] = requant(p, a3, c + 3);
                    }
                    for (; c < out_ch; ++c) {
                        int32_t a = 0;
                        for (int32_t ky = ky_s; ky < ky_e; ++ky) {
                            const int32_t iy = iy0 + ky * p->dilation_h;
                            for (int32_t kx = kx_s; kx < kx_e; ++kx) {
                                const int32_t ix = ix0 + kx * p->dilation_w;
                                const int32_t xv = in[((size_t)iy * (size_t)p->in_w + (size_t)ix) * (size_t)in_ch + (size_t)c];
                                a += (int32_t)p->weights[((size_t)ky * (size_t)p->kw + (size_t)kx) * (size_t)out_ch + (size_t)c] * (xv + off);
                            }
                        }
                        y[c] = requant(p, a, c);
                    }
                } else {
                    for (int32_t c = 0; c < out_ch; ++c) {
                        const int32_t ic = c / mult;
                        int32_t a = 0;
                        for (int32_t ky = ky_s; ky < ky_e; ++ky) {
                            const int32_t iy = iy0 + ky * p->dilation_h;
                            for (int32_t kx = kx_s; kx < kx_e; ++kx) {
                                const int32_t ix = ix0 + kx * p->dilation_w;
                                const int32_t xv = in[((size_t)iy * (size_t)p->in_w + (size_t)ix) * (size_t)in_ch + (size_t)ic];
                                a += (int32_t)p->weights[((size_t)ky * (size_t)p->kw + (size_t)kx) * (size_t)out_ch + (size_t)c] * (xv + off);
                            }
                        }
                        y[c] = requant(p, a, c);
                    }
                }
            }
        }
    }
    return DTMM_OK;
}
