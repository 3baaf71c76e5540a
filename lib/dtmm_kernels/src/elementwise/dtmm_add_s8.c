/* dtmm_add_s8.c - int8 ADD on the best path of this build (dtmm_add_s8_dispatch.h). */
#include "dtmm_add_s8_dispatch.h"

dtmm_status dtmm_add_s8(const dtmm_add_s8_params *p, const int8_t *input1, const int8_t *input2, int8_t *output)
{
    return DTMM_ADD_S8_IMPL(p, input1, input2, output);
}
