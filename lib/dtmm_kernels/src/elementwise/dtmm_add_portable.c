/* dtmm_add_portable.c - the portable ADD variant: the whole portable path as one variant object. */
#include "dtmm_ops.h"

#include "dtmm_add_s8_internal.h"

static dtmm_status portable_run(const dtmm_add_variant *v, const dtmm_add_s8_params *p, const int8_t *input1,
                                const int8_t *input2, int8_t *output)
{
    (void)v;
    return dtmm_add_s8_c(p, input1, input2, output);
}

const dtmm_add_variant dtmm_add_portable = {DTMM_ADD_V_portable, NULL, portable_run};
