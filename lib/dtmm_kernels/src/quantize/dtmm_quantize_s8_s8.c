/* dtmm_quantize_s8_s8.c - QUANTIZE int8 -> int8 requantization (TFLite Requantize). */
#include <stddef.h>

#include "dtmm_ops.h"
#include "../common/dtmm_fixedpoint.h"

dtmm_status dtmm_quantize_s8_s8(const dtmm_quantize_s8_s8_params *p, const int8_t *input, int8_t *output)
{
    if (p == NULL || input == NULL || output == NULL || p->shift < -31 || p->shift > 30) {
        return DTMM_ERR_ARGUMENT;
    }
    for (int32_t i = 0; i < p->size; ++i) {
        const int32_t v =
            dtmm_fp_add_wrap(dtmm_fp_requantize((int32_t)input[i] + p->input_offset, p->multiplier, p->shift),
                              p->output_offset);
        output[i] = dtmm_fp_clamp_s8(v, -128, 127);
    }
    return DTMM_OK;
}
