/* dtmm_conv_s8_get_buffer_size.c - scratch bytes of dtmm_conv_s8() for a blob. */
#include "dtmm_conv_s8_dispatch.h"

int32_t dtmm_conv_s8_get_buffer_size(const uint8_t *blob)
{
    dtmm_fwcs_view view;
    dtmm_status status = dtmm_fwcs_view_init(blob, &view);
    if (status != DTMM_OK) {
        return -(int32_t)status; /* negative: the caller cannot mistake it for a size */
    }
    dtmm_fwcs_header flat;
    dtmm_conv_flatten(&view, &flat); /* as dtmm_conv_s8() */
    return DTMM_CONV_S8_IMPL_BUFFER_SIZE(&view);
}
