/* dtmm_avg_pool_s8_c.c - portable int8 AVERAGE_POOL_2D (TFLite reference semantics). */
#include <stddef.h>

#include "dtmm_ops.h"
#include "../common/dtmm_fixedpoint.h"

dtmm_status dtmm_avg_pool_s8_c(const dtmm_pool_s8_params *p, const int8_t *input, int8_t *output)
{
    if (p == NULL || input == NULL || output == NULL || p->stride_h < 1 || p->stride_w < 1 || p->channels < 1) {
        return DTMM_ERR_ARGUMENT;
    }
    const int32_t ch = p->channels;
    const size_t row = (size_t)p->in_w * (size_t)ch;
    for (int32_t b = 0; b < p->batches; ++b) {
        const int8_t *in = input + (size_t)b * (size_t)p->in_h * row;
        int8_t *out = output + (size_t)b * (size_t)p->out_h * (size_t)p->out_w * (size_t)ch;
        for (int32_t oy = 0; oy < p->out_h; ++oy) {
            const int32_t iy0 = oy * p->stride_h - p->pad_top;
            const int32_t fy_s = iy0 < 0 ? -iy0 : 0;
            const int32_t fy_e = p->filter_h < p->in_h - iy0 ? p->filter_h : p->in_h - iy0;
            for (int32_t ox = 0; ox < p->out_w; ++ox) {
                const int32_t ix0 = ox * p->stride_w - p->pad_left;
                const int32_t fx_s = ix0 < 0 ? -ix0 : 0;
                const int32_t fx_e = p->filter_w < p->in_w - ix0 ? p->filter_w : p->in_w - ix0;
                const int32_t count = (fy_e - fy_s) * (fx_e - fx_s);
                if (fy_e <= fy_s || fx_e <= fx_s) {
                    return DTMM_ERR_ARGUMENT; /* empty window: TFLite fails too */
                }
                int8_t *y = out + ((size_t)oy * (size_t)p->out_w + (size_t)ox) * (size_t)ch;
                for (int32_t c = 0; c < ch; ++c) {
                    int32_t acc = 0;
                    for (int32_t fy = fy_s; fy < fy_e; ++fy) {
                        const int8_t *x = in + (size_t)(iy0 + fy) * row + (size_t)(ix0 + fx_s) * (size_t)ch + (size_t)c;
                        for (int32_t fx = fx_s; fx < fx_e; ++fx) {
                            acc += *x;
                            x += ch;
                        }
                    }
                    /* round half away from zero; C99 division truncates like C++ */
                    acc = acc > 0 ? (acc + count / 2) / count : (acc - count / 2) / count;
                    y[c] = dtmm_fp_clamp_s8(acc, p->act_min, p->act_max);
                }
            }
        }
    }
    return DTMM_OK;
}
