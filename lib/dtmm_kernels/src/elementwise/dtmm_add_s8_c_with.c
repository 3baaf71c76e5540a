/* dtmm_add_s8_c_with.c - the portable ADD, if the caller listed its variant (dtmm_add_portable.c). */
#include "dtmm_ops.h"

#include "dtmm_add_s8_internal.h"

dtmm_status dtmm_add_s8_c_with(const dtmm_add_s8_params *p, const int8_t *input1, const int8_t *input2,
                               int8_t *output, const dtmm_add_variant *const *variants, uint32_t n_variants)
{
    const dtmm_add_variant *v = dtmm_add_variant_find(variants, n_variants, DTMM_ADD_V_portable);
    return v == NULL ? DTMM_ERR_UNSUPPORTED : v->run(v, p, input1, input2, output);
}
