/* dtmm_mean_s8_c.c - portable int8 MEAN over any set of axes (TFLite QuantizedMeanOrSum semantics). */
#include <stddef.h>

#include "dtmm_ops.h"
#include "../common/dtmm_fixedpoint.h"

dtmm_status dtmm_mean_s8_c(const dtmm_mean_s8_params *p, const int8_t *input, int8_t *output)
{
    if (p == NULL || input == NULL || output == NULL || p->count < 1 || p->shift < -31 || p->shift > 30) {
        return DTMM_ERR_ARGUMENT;
    }
    for (int32_t j = 0; j < 4; ++j) {
        if (p->kept_dims[j] < 1 || p->red_dims[j] < 1) {
            return DTMM_ERR_ARGUMENT;
        }
    }
    /* input_zero_point * count as TFLite computes it: int64, then truncated to int32 with the sum */
    const int64_t zp_total = (int64_t)p->input_zero_point * (int64_t)p->count;
    const int32_t *kd = p->kept_dims;
    const int32_t *ks = p->kept_stride;
    const int32_t *rd = p->red_dims;
    const int32_t *rs = p->red_stride;
    int8_t *y = output;
    for (int32_t k0 = 0; k0 < kd[0]; ++k0) {
        for (int32_t k1 = 0; k1 < kd[1]; ++k1) {
            for (int32_t k2 = 0; k2 < kd[2]; ++k2) {
                for (int32_t k3 = 0; k3 < kd[3]; ++k3) {
                    const int8_t *base = input + (ptrdiff_t)k0 * ks[0] + (ptrdiff_t)k1 * ks[1] +
                                         (ptrdiff_t)k2 * ks[2] + (ptrdiff_t)k3 * ks[3];
                    int32_t sum = 0;
                    for (int32_t r0 = 0; r0 < rd[0]; ++r0) {
                        for (int32_t r1 = 0; r1 < rd[1]; ++r1) {
                            for (int32_t r2 = 0; r2 < rd[2]; ++r2) {
                                const int8_t *x = base + (ptrdiff_t)r0 * rs[0] + (ptrdiff_t)r1 * rs[1] +
                                                  (ptrdiff_t)r2 * rs[2];
                                const ptrdiff_t step = rs[3];
                                for (int32_t r3 = 0; r3 < rd[3]; ++r3) {
                                    sum += *x;
                                    x += step;
                                }
                            }
                        }
                    }
                    const int32_t shifted = (int32_t)(uint32_t)(uint64_t)((int64_t)sum - zp_total);
                    const int32_t v = dtmm_fp_add_wrap(dtmm_fp_requantize(shifted, p->multiplier, p->shift),
                                                        p->output_zero_point);
                    *y++ = dtmm_fp_clamp_s8(v, -128, 127);
                }
            }
        }
    }
    return DTMM_OK;
}
