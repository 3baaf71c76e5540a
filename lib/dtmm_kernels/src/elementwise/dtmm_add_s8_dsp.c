/* dtmm_add_s8_dsp.c - Arm DSP int8 ADD with the path's variant (dtmm_add_s8_dsp_with.c). */
#include "dtmm_ops.h"

#include "dtmm_add_s8_internal.h"

dtmm_status dtmm_add_s8_dsp(const dtmm_add_s8_params *p, const int8_t *input1, const int8_t *input2, int8_t *output)
{
    if (!dtmm_add_s8_args_ok(p, input1, input2, output)) {
        return DTMM_ERR_ARGUMENT;
    }
#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP && defined(__thumb2__) && defined(__GNUC__)
    static const dtmm_add_variant *const all[] = {&dtmm_add_dsp};
    return dtmm_add_s8_dsp_with(p, input1, input2, output, all, 1u);
#else
    return dtmm_add_s8_c(p, input1, input2, output);
#endif
}
