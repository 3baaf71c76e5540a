/* dtmm_conv_s8_c_with.c - the portable conv path, run only when the caller lists it. */
#include "dtmm_conv_variant_internal.h"

dtmm_status dtmm_conv_s8_c_with(const dtmm_fwcs_view *v, const int8_t *input, int8_t *output, void *scratch,
                                const dtmm_conv_variant *const *variants, uint32_t n_variants)
{
    if (dtmm_conv_variant_find(variants, n_variants, DTMM_CONV_V_portable) == NULL) {
        return DTMM_ERR_UNSUPPORTED;
    }
    return dtmm_conv_s8_c(v, input, output, scratch);
}
