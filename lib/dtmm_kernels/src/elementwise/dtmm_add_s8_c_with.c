/* dtmm_add_s8_c_with.c - the portable ADD as one variant. */
#include "dtmm_ops.h"

#include "dtmm_add_s8_internal.h"

static dtmm_status portable_run(const dtmm_add_variant *v, const dtmm_add_s8_params *p, const int8_t *input1,
                                const int8_t *input2, int8_t *output)
{
    (void)v;
    return dtmm_add_s8_c(p, input1, input2, output);
}

const dtmm_add_variant dtmm_add_portable = {DTMM_ADD_V_portable, NULL, portable_run};

dtmm_status dtmm_add_s8_c_with(const dtmm_add_s8_params *p, const int8_t *input1, const int8_t *input2,
                               int8_t *output, const dtmm_add_variant *const *variants, uint32_t n_variants)
{
    const dtmm_add_variant *v = dtmm_add_variant_find(variants, n_variants, DTMM_ADD_V_portable);
    return v == NULL ? DTMM_ERR_UNSUPPORTED : v->run(v, p, input1, input2, output);
}
