/* dtmm_conv_s8.c - one packed int8 conv layer on the best path of this build (every kernel variant). */
#include "dtmm_conv_s8_dispatch.h"

dtmm_status dtmm_conv_s8(const uint8_t *blob, const int8_t *input, int8_t *output, void *scratch)
{
    dtmm_fwcs_view view;
    dtmm_fwcs_header flat;
    const dtmm_status status = dtmm_conv_s8_begin(blob, input, output, &view, &flat);
    return status != DTMM_OK ? status : DTMM_CONV_S8_IMPL(&view, input, output, scratch);
}
