/* dtmm_mean_s8.c - int8 MEAN on the best path of this build (dtmm_pooling_dispatch.h). */
#include "dtmm_pooling_dispatch.h"

dtmm_status dtmm_mean_s8(const dtmm_mean_s8_params *p, const int8_t *input, int8_t *output)
{
    return DTMM_MEAN_S8_IMPL(p, input, output);
}
