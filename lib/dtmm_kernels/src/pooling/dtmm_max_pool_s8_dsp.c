/*
 * dtmm_max_pool_s8_dsp.c - int8 MAX_POOL_2D for cores with the Arm DSP
 * extension (Cortex-M4/M7/M33).
 *
 * Four channels per word: SSUB8 + SEL per tap keeps the bytewise maximum,
 * the clamp is one more max and one min; the last ch % 4 channels go one at
 * a time.  Clamps outside int8 (never emitted) take the portable path.
 */
#include <stddef.h>

#include "dtmm_ops.h"

#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP && defined(__thumb2__) && defined(__GNUC__)

#include "dtmm_pooling_dsp_internal.h"
#include "../common/dtmm_fixedpoint.h"

dtmm_status dtmm_max_pool_s8_dsp(const dtmm_pool_s8_params *p, const int8_t *input, int8_t *output)
{
    if (p == NULL || input == NULL || output == NULL || p->stride_h < 1 || p->stride_w < 1 || p->channels < 1) {
        return DTMM_ERR_ARGUMENT;
    }
    if (p->act_min < -128 || p->act_max > 127 || p->act_min > p->act_max) {
        return dtmm_max_pool_s8_c(p, input, output);
    }
    const int32_t ch = p->channels;
    const int32_t quads = ch & ~3;
    const size_t row = (size_t)p->in_w * (size_t)ch;
    const uint32_t lo4 = 0x01010101u * (uint8_t)p->act_min;
    const uint32_t hi4 = 0x01010101u * (uint8_t)p->act_max;
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
                for (; c < quads; c += 4) {
                    uint32_t m = 0x80808080u; /* -128 in every byte */
                    const int8_t *xr = x0 + c;
                    for (int32_t r = 0; r < rows; ++r, xr += row) {
                        const int8_t *x = xr;
                        for (int32_t k = 0; k < cols; ++k, x += ch) {
                            m = dsp_max8(dsp_load4(x), m);
                        }
                    }
                    dsp_store4(y + c, dsp_min8(dsp_max8(m, lo4), hi4));
                }
                for (; c < ch; ++c) {
                    int32_t m = -128;
                    const int8_t *xr = x0 + c;
                    for (int32_t r = 0; r < rows; ++r, xr += row) {
                        const int8_t *x = xr;
                        for (int32_t k = 0; k < cols; ++k, x += ch) {
                            m = *x > m ? *x : m;
                        }
                    }
                    y[c] = dtmm_fp_clamp_s8(m, p->act_min, p->act_max);
                }
            }
        }
    }
    return DTMM_OK;
}

#else /* no DSP extension: keep the symbol, forward to the portable path */

dtmm_status dtmm_max_pool_s8_dsp(const dtmm_pool_s8_params *p, const int8_t *input, int8_t *output)
{
    return dtmm_max_pool_s8_c(p, input, output);
}

#endif
