/* dtmm_concatenation_s8.c - int8 CONCATENATION along any axis. */
#include <stddef.h>
#include <string.h>

#include "dtmm_ops.h"
#include "../common/dtmm_fixedpoint.h"

dtmm_status dtmm_concatenation_s8(const dtmm_concatenation_s8_params *p, const int8_t *const *inputs, int8_t *output)
{
    if (p == NULL || inputs == NULL || output == NULL || p->inputs == NULL || p->n_inputs < 1 || p->outer < 0) {
        return DTMM_ERR_ARGUMENT;
    }
    for (int32_t k = 0; k < p->n_inputs; ++k) {
        const dtmm_concatenation_input *in = &p->inputs[k];
        if (inputs[k] == NULL || in->size < 0 || (in->requantize && (in->shift < -31 || in->shift > 30))) {
            return DTMM_ERR_ARGUMENT;
        }
    }
    int8_t *y = output;
    for (int32_t o = 0; o < p->outer; ++o) {
        for (int32_t k = 0; k < p->n_inputs; ++k) {
            const dtmm_concatenation_input *in = &p->inputs[k];
            const int8_t *x = inputs[k] + (size_t)o * (size_t)in->size;
            if (!in->requantize) {
                memcpy(y, x, (size_t)in->size);
            } else {
                for (int32_t i = 0; i < in->size; ++i) {
                    const int32_t v = dtmm_fp_add_wrap(
                        dtmm_fp_requantize((int32_t)x[i] + in->input_offset, in->multiplier, in->shift), in->output_offset);
                    y[i] = dtmm_fp_clamp_s8(v, -128, 127);
                }
            }
            y += in->size;
        }
    }
    return DTMM_OK;
}
