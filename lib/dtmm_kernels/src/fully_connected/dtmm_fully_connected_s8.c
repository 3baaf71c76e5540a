/* dtmm_fully_connected_s8.c - int8 FULLY_CONNECTED on the best path of this build. */
#include <stddef.h>

#include "dtmm_fully_connected_s8_dispatch.h"

dtmm_status dtmm_fully_connected_s8(const dtmm_fully_connected_s8_params *p, const int8_t *input, int8_t *output)
{
    if (p == NULL || input == NULL || output == NULL || p->weights == NULL || p->bias == NULL ||
        p->multiplier == NULL || p->shift == NULL) {
        return DTMM_ERR_ARGUMENT;
    }
    if (p->batches < 0 || p->in_features < 1 || p->out_features < 1) {
        return DTMM_ERR_ARGUMENT;
    }
    return DTMM_FULLY_CONNECTED_S8_IMPL(p, input, output);
}
