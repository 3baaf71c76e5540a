/*
 * dtmm_conv_s8_dsp.c - the Arm DSP conv path with every kernel variant linked (what the generic
 * dtmm_conv_s8() runs); the path itself is dtmm_conv_s8_dsp_with.c.
 */
#include "dtmm_conv_variant_internal.h"

dtmm_status dtmm_conv_s8_dsp(const dtmm_fwcs_view *v, const int8_t *input, int8_t *output, void *scratch)
{
#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP && defined(__thumb2__) && defined(__GNUC__)
    static const dtmm_conv_variant *const all[] = {&dtmm_conv_dsp_band, &dtmm_conv_dsp_elem, &dtmm_conv_portable,
                                                   &dtmm_conv_dsp_groups};
    return dtmm_conv_s8_dsp_with(v, input, output, scratch, all, 4u);
#else /* no DSP inline assembly: the portable path, as dtmm_conv_s8_dsp_with() forwards */
    return dtmm_conv_s8_c(v, input, output, scratch);
#endif
}
