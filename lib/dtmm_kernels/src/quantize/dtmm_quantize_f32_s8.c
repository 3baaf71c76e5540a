/* dtmm_quantize_f32_s8.c - QUANTIZE float32 -> int8 (TFLite AffineQuantize). */
#include <stddef.h>

#include "dtmm_ops.h"
#include "../common/dtmm_fixedpoint.h"

/*
 * Bit-exactness needs a true IEEE float32 division per element: -ffast-math
 * (e.g. -Ofast) would turn it into a multiplication by the reciprocal.
 */
#if defined(__GNUC__) && !defined(__clang__) && defined(__FAST_MATH__)
#pragma GCC optimize("no-fast-math")
#endif

dtmm_status dtmm_quantize_f32_s8(const dtmm_quantize_f32_s8_params *p, const float *input, int8_t *output)
{
    if (p == NULL || input == NULL || output == NULL || !(p->scale > 0.0f)) {
        return DTMM_ERR_ARGUMENT;
    }
    const float scale = p->scale;
    for (int32_t i = 0; i < p->size; ++i) {
        float q = input[i] / scale; /* float32 division, as TFLite */
        int32_t r;
        if (!(q == q)) {
            r = 0; /* NaN */
        } else if (q >= 1024.0f) {
            r = 1024; /* saturates anyway; avoids an out-of-range conversion */
        } else if (q <= -1024.0f) {
            r = -1024;
        } else {
            /* round half away from zero (std::round); q - trunc(q) is exact here */
            r = (int32_t)q;
            const float frac = q - (float)r;
            if (frac >= 0.5f) {
                r += 1;
            } else if (frac <= -0.5f) {
                r -= 1;
            }
        }
        output[i] = dtmm_fp_clamp_s8(r + p->zero_point, -128, 127);
    }
    return DTMM_OK;
}
