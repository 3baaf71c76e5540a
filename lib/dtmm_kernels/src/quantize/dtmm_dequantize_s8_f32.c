/* dtmm_dequantize_s8_f32.c - DEQUANTIZE int8 -> float32 (TFLite Dequantize). */
#include <stddef.h>

#include "dtmm_ops.h"

dtmm_status dtmm_dequantize_s8_f32(const dtmm_dequantize_s8_f32_params *p, const int8_t *input, float *output)
{
    if (p == NULL || input == NULL || output == NULL) {
        return DTMM_ERR_ARGUMENT;
    }
    /*
     * TFLite computes double(scale) * (x - zero_point) and rounds to float.
     * |x - zero_point| < 2^9, so that product is exact in double and rounding
     * it once to float equals the correctly rounded float32 product below.
     */
    for (int32_t i = 0; i < p->size; ++i) {
        output[i] = (float)((int32_t)input[i] - p->zero_point) * p->scale;
    }
    return DTMM_OK;
}
