/* dtmm_add_s8_with.c - int8 ADD running only the caller's kernel variants (dtmm_add_s8_dispatch.h). */
#include "dtmm_add_s8_dispatch.h"

#include "dtmm_add_s8_internal.h"

dtmm_status dtmm_add_s8_with(const dtmm_add_s8_params *p, const int8_t *input1, const int8_t *input2,
                             int8_t *output, const dtmm_add_variant *const *variants, uint32_t n_variants)
{
    if (!dtmm_add_s8_args_ok(p, input1, input2, output)) {
        return DTMM_ERR_ARGUMENT;
    }
    return DTMM_ADD_S8_IMPL_WITH(p, input1, input2, output, variants, n_variants);
}
