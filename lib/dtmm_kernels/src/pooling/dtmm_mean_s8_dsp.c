/*
 * dtmm_mean_s8_dsp.c - int8 MEAN for cores with the Arm DSP extension
 * (Cortex-M4/M7/M33).
 *
 * Along a stride-1 innermost kept dim (a mean over H,W): four outputs per
 * word load, summed two per SXTAB16 in int16 pairs
 * (dtmm_pooling_dsp_internal.h), exact while at most 256 values are summed;
 * the requantization is the portable path's, once per output.  Other
 * layouts and larger reductions take the portable path.
 */
#include <stddef.h>

#include "dtmm_ops.h"

#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP && defined(__thumb2__) && defined(__GNUC__)

#include "dtmm_pooling_dsp_internal.h"
#include "../common/dtmm_fixedpoint.h"

static inline int8_t finish(const dtmm_mean_s8_params *p, int32_t sum, int64_t zp_total)
{
    const int32_t shifted = (int32_t)(uint32_t)(uint64_t)((int64_t)sum - zp_total);
    const int32_t v = dtmm_fp_add_wrap(dtmm_fp_requantize(shifted, p->multiplier, p->shift), p->output_zero_point);
    return dtmm_fp_clamp_s8(v, -128, 127);
}

dtmm_status dtmm_mean_s8_dsp(const dtmm_mean_s8_params *p, const int8_t *input, int8_t *output)
{
    if (p == NULL || input == NULL || output == NULL || p->count < 1 || p->shift < -31 || p->shift > 30) {
        return DTMM_ERR_ARGUMENT;
    }
    int64_t summed = 1;
    for (int32_t j = 0; j < 4; ++j) {
        if (p->kept_dims[j] < 1 || p->red_dims[j] < 1) {
            return DTMM_ERR_ARGUMENT;
        }
        summed *= p->red_dims[j];
    }
    if (p->kept_stride[3] != 1 || summed > 256) {
        return dtmm_mean_s8_c(p, input, output);
    }
    const int64_t zp_total = (int64_t)p->input_zero_point * (int64_t)p->count;
    const int32_t *kd = p->kept_dims;
    const int32_t *ks = p->kept_stride;
    const int32_t *rd = p->red_dims;
    const int32_t *rs = p->red_stride;
    const int32_t n = kd[3];
    const int32_t quads = n & ~3;
    int8_t *y = output;
    for (int32_t k0 = 0; k0 < kd[0]; ++k0) {
        for (int32_t k1 = 0; k1 < kd[1]; ++k1) {
            for (int32_t k2 = 0; k2 < kd[2]; ++k2) {
                const int8_t *base = input + (ptrdiff_t)k0 * ks[0] + (ptrdiff_t)k1 * ks[1] + (ptrdiff_t)k2 * ks[2];
                int32_t c = 0;
                for (; c < quads; c += 4) {
                    uint32_t even = 0, odd = 0;
                    for (int32_t r0 = 0; r0 < rd[0]; ++r0) {
                        for (int32_t r1 = 0; r1 < rd[1]; ++r1) {
                            for (int32_t r2 = 0; r2 < rd[2]; ++r2) {
                                const int8_t *x = base + c + (ptrdiff_t)r0 * rs[0] + (ptrdiff_t)r1 * rs[1] +
                                                  (ptrdiff_t)r2 * rs[2];
                                const ptrdiff_t st = rs[3];
                                for (int32_t r3 = 0; r3 < rd[3]; ++r3, x += st) {
                                    dsp_acc4(&even, &odd, dsp_load4(x));
                                }
                            }
                        }
                    }
                    int32_t s[4];
                    dsp_sums(even, odd, s);
                    for (int32_t j = 0; j < 4; ++j) {
                        y[c + j] = finish(p, s[j], zp_total);
                    }
                }
                for (; c < n; ++c) {
                    int32_t sum = 0;
                    for (int32_t r0 = 0; r0 < rd[0]; ++r0) {
                        for (int32_t r1 = 0; r1 < rd[1]; ++r1) {
                            for (int32_t r2 = 0; r2 < rd[2]; ++r2) {
                                const int8_t *x = base + c + (ptrdiff_t)r0 * rs[0] + (ptrdiff_t)r1 * rs[1] +
                                                  (ptrdiff_t)r2 * rs[2];
                                const ptrdiff_t st = rs[3];
                                for (int32_t r3 = 0; r3 < rd[3]; ++r3, x += st) {
                                    sum += *x;
                                }
                            }
                        }
                    }
                    y[c] = finish(p, sum, zp_total);
                }
                y += n;
            }
        }
    }
    return DTMM_OK;
}

#else /* no DSP extension: keep the symbol, forward to the portable path */

dtmm_status dtmm_mean_s8_dsp(const dtmm_mean_s8_params *p, const int8_t *input, int8_t *output)
{
    return dtmm_mean_s8_c(p, input, output);
}

#endif
