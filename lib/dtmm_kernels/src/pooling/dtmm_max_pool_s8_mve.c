/*
 * dtmm_max_pool_s8_mve.c - Helium (MVE) int8 MAX_POOL_2D, Cortex-M55/M85.
 *
 * 16 channels per step: VLDRB.8 + VMAX.S8 per tap, the clamp as one VMAX
 * and one VMIN, the last chunk tail-predicated.
 */
#include <stddef.h>

#include "dtmm_ops.h"

#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)

#include <arm_mve.h>

dtmm_status dtmm_max_pool_s8_mve(const dtmm_pool_s8_params *p, const int8_t *input, int8_t *output)
{
    if (p == NULL || input == NULL || output == NULL || p->stride_h < 1 || p->stride_w < 1 || p->channels < 1) {
        return DTMM_ERR_ARGUMENT;
    }
    if (p->act_min < -128 || p->act_max > 127 || p->act_min > p->act_max) {
        return dtmm_max_pool_s8_c(p, input, output); /* clamp bounds outside int8: keep the C semantics */
    }
    const int32_t ch = p->channels;
    const int32_t full = ch & ~15;
    const size_t row = (size_t)p->in_w * (size_t)ch;
    const int8x16_t lo = vdupq_n_s8((int8_t)p->act_min);
    const int8x16_t hi = vdupq_n_s8((int8_t)p->act_max);
    const mve_pred16_t tail = vctp8q((uint32_t)(ch - full));
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
                const int32_t rows = fy_e - fy_s;
                const int32_t cols = fx_e - fx_s;
                const int8_t *x0 = in + (size_t)(iy0 + fy_s) * row + (size_t)(ix0 + fx_s) * (size_t)ch;
                int8_t *y = out + ((size_t)oy * (size_t)p->out_w + (size_t)ox) * (size_t)ch;
                int32_t c = 0;
                for (; c < full; c += 16) {
                    int8x16_t m = vdupq_n_s8(-128);
                    const int8_t *xr = x0 + c;
                    for (int32_t r = 0; r < rows; ++r, xr += row) {
                        const int8_t *x = xr;
                        for (int32_t k = 0; k < cols; ++k, x += ch) {
                            m = vmaxq_s8(m, vldrbq_s8(x));
                        }
                    }
                    vstrbq_s8(y + c, vminq_s8(vmaxq_s8(m, lo), hi));
                }
                if (c < ch) {
                    int8x16_t m = vdupq_n_s8(-128);
                    const int8_t *xr = x0 + c;
                    for (int32_t r = 0; r < rows; ++r, xr += row) {
                        const int8_t *x = xr;
                        for (int32_t k = 0; k < cols; ++k, x += ch) {
                            m = vmaxq_s8(m, vldrbq_z_s8(x, tail));
                        }
                    }
                    vstrbq_p_s8(y + c, vminq_s8(vmaxq_s8(m, lo), hi), tail);
                }
            }
        }
    }
    return DTMM_OK;
}

#else /* no integer MVE: keep the symbol, forward to the portable path */

dtmm_status dtmm_max_pool_s8_mve(const dtmm_pool_s8_params *p, const int8_t *input, int8_t *output)
{
    return dtmm_max_pool_s8_c(p, input, output);
}

#endif
