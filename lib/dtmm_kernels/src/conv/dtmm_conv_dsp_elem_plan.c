/* dtmm_conv_dsp_elem_plan.c - the element-list kernels' scratch plan of the DSP conv path (internal, plain C). */
#include "dtmm_conv_dsp_internal.h"

/* One shared copy for the variant rule, the scratch size and the kernel. */
uint32_t dtmm_conv_dsp_elem_plan(const dtmm_fwcs_header *h, dtmm_dsp_elem_plan *pl)
{
    return dtmm_dsp_make_elem_plan(h, pl);
}
