/* dtmm_conv_mve_layout.c - the scratch layout of the Helium MVE conv path (internal, plain C). */
#include "dtmm_conv_mve_internal.h"

DTMM_COLD int dtmm_conv_mve_layout(const dtmm_fwcs_header *h, dtmm_mve_layout *L)
{
    return dtmm_mve_layout_compute(h, L);
}
