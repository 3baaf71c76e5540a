/* dtmm_softmax_s8.c - int8 SOFTMAX on the best path of this build. */
#include <stddef.h>

#include "dtmm_softmax_s8_dispatch.h"

dtmm_status dtmm_softmax_s8(const dtmm_softmax_s8_params *p, const int8_t *input, int8_t *output)
{
    if (p == NULL || input == NULL || output == NULL || p->depth < 1 || p->input_left_shift < 0 ||
        p->input_left_shift > 31) {
        return DTMM_ERR_ARGUMENT;
    }
    return DTMM_SOFTMAX_S8_IMPL(p, input, output);
}
