/* dtmm_add_s8_mve.c - Helium int8 ADD with every variant of the path (dtmm_add_s8_mve_with.c). */
#include "dtmm_ops.h"

#include "dtmm_add_s8_internal.h"

dtmm_status dtmm_add_s8_mve(const dtmm_add_s8_params *p, const int8_t *input1, const int8_t *input2, int8_t *output)
{
    if (!dtmm_add_s8_args_ok(p, input1, input2, output)) {
        return DTMM_ERR_ARGUMENT;
    }
#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)
    static const dtmm_add_variant *const all[] = {
        &dtmm_add_mve_vv_zz, &dtmm_add_mve_vv_zn, &dtmm_add_mve_vv_nz, &dtmm_add_mve_vv_nn, &dtmm_add_mve_vb_z,
        &dtmm_add_mve_vb_n,  &dtmm_add_mve_bv_z,  &dtmm_add_mve_bv_n,  &dtmm_add_mve_any,   &dtmm_add_mve_scalar,
    };
    return dtmm_add_s8_mve_with(p, input1, input2, output, all, (uint32_t)(sizeof all / sizeof all[0]));
#else
    return dtmm_add_s8_c(p, input1, input2, output);
#endif
}
