/*
 * dtmm_conv_s8_mve.c - the Helium MVE conv path with every kernel variant linked (what the
 * generic dtmm_conv_s8() runs); the path itself is dtmm_conv_s8_mve_with.c.
 */
#include "dtmm_conv_variant_internal.h"

dtmm_status dtmm_conv_s8_mve(const dtmm_fwcs_view *v, const int8_t *input, int8_t *output, void *scratch)
{
#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)
    /* indexed by id (the DSP ids stay NULL): every lookup is one load and compare */
#define DTMM_MVE_ALL_(id, name) [id] = &dtmm_conv_##name,
    static const dtmm_conv_variant *const all[DTMM_CONV_VARIANT_COUNT] = {
        DTMM_CONV_MVE_VARIANTS(DTMM_MVE_ALL_)[DTMM_CONV_V_portable] = &dtmm_conv_portable};
#undef DTMM_MVE_ALL_
    return dtmm_conv_s8_mve_with(v, input, output, scratch, all, (uint32_t)(sizeof all / sizeof all[0]));
#else /* no integer MVE: the portable path, as dtmm_conv_s8_mve_with() forwards */
    return dtmm_conv_s8_c(v, input, output, scratch);
#endif
}
