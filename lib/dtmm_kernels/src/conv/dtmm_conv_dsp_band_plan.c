/* dtmm_conv_dsp_band_plan.c - the band kernel's scratch plan of the DSP conv path (internal, plain C). */
#include "dtmm_conv_dsp_internal.h"

void dtmm_conv_dsp_band_plan(const dtmm_fwcs_header *h, dtmm_dsp_plan *pl)
{
    dtmm_dsp_make_band_plan(h, pl);
}
