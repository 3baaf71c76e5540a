/* dtmm_conv_s8_variant.c - which kernel variant dtmm_conv_s8() runs for a blob in this build. */
#include <stddef.h>

#include "dtmm_conv_dsp_internal.h"
#include "dtmm_conv_mve_internal.h"
#include "dtmm_conv_s8_dispatch.h"

int32_t dtmm_conv_s8_variant(const uint8_t *blob)
{
    dtmm_fwcs_view view;
    const dtmm_status status = dtmm_fwcs_view_init(blob, &view);
    if (status != DTMM_OK) {
        return -(int32_t)status;
    }
    dtmm_fwcs_header flat;
    dtmm_conv_flatten(&view, &flat); /* as dtmm_conv_s8() */
#if DTMM_CONV_PATH == DTMM_CONV_PATH_MVE
    dtmm_mve_layout layout;
    return (int32_t)dtmm_mve_variant(&view, &layout);
#elif DTMM_CONV_PATH == DTMM_CONV_PATH_DSP
    return (int32_t)dtmm_dsp_variant(view.hdr);
#else
    return (int32_t)DTMM_CONV_V_portable;
#endif
}
