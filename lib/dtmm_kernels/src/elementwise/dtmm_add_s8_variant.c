/* dtmm_add_s8_variant.c - which ADD variant a path runs for given parameters (the packer's rule's reference). */
#include "dtmm_ops.h"

#include "dtmm_add_s8_internal.h"

int32_t dtmm_add_s8_variant(const dtmm_add_s8_params *p, int32_t path)
{
    if (p == NULL || p->ndims < 0 || p->ndims > DTMM_OPS_MAX_DIMS) {
        return -(int32_t)DTMM_ERR_ARGUMENT;
    }
    switch (path) {
    case 2:
        return (int32_t)dtmm_add_mve_variant(p);
    case 1:
        return (int32_t)DTMM_ADD_V_dsp;
    case 0:
        return (int32_t)DTMM_ADD_V_portable;
    default:
        return -(int32_t)DTMM_ERR_ARGUMENT;
    }
}
