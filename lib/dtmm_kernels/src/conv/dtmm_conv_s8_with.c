/* dtmm_conv_s8_with.c - one packed int8 conv layer, running only the caller's kernel variants. */
#include "dtmm_conv_s8_dispatch.h"

dtmm_status dtmm_conv_s8_with(const uint8_t *blob, const int8_t *input, int8_t *output, void *scratch,
                              const dtmm_conv_variant *const *variants, uint32_t n_variants)
{
    dtmm_fwcs_view view;
    dtmm_fwcs_header flat;
    const dtmm_status status = dtmm_conv_s8_begin(blob, input, output, &view, &flat);
    return status != DTMM_OK ? status : DTMM_CONV_S8_IMPL_WITH(&view, input, output, scratch, variants, n_variants);
}
