/* dtmm_conv_s8_dsp_get_buffer_size.c - scratch bytes of the Arm DSP conv path. */
#include <stddef.h>

#include "dtmm_conv_dsp_internal.h"
#include "dtmm_kernels.h"

/*
 * The layouts are described in dtmm_conv_dsp_internal.h (element-list
 * kernel first, as dtmm_conv_s8_dsp() chooses); shapes the DSP path
 * hands to the portable path (and builds without the DSP extension) need
 * the portable path's scratch.
 */
int32_t dtmm_conv_s8_dsp_get_buffer_size(const dtmm_fwcs_view *v)
{
    if (v == NULL || v->hdr == NULL) {
        return -(int32_t)DTMM_ERR_ARGUMENT;
    }
#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP && defined(__thumb2__) && defined(__GNUC__)
    if (dtmm_groups_dsp_ok(v->hdr)) {
        return (int32_t)dtmm_groups_dsp_scratch_bytes(v->hdr);
    }
    dtmm_dsp_elem_plan ep;
    if (dtmm_dsp_choose_elem(v->hdr, &ep)) {
        return (int32_t)ep.total;
    }
    dtmm_dsp_plan pl;
    dtmm_conv_dsp_band_plan(v->hdr, &pl);
    if (!pl.use_c) {
        return (int32_t)pl.total;
    }
#endif
    return dtmm_conv_s8_c_get_buffer_size(v);
}
