/* dtmm_avg_pool_s8.c - int8 AVERAGE_POOL_2D on the best path of this build (dtmm_pooling_dispatch.h). */
#include "dtmm_pooling_dispatch.h"

dtmm_status dtmm_avg_pool_s8(const dtmm_pool_s8_params *p, const int8_t *input, int8_t *output)
{
    return DTMM_AVG_POOL_S8_IMPL(p, input, output);
}
