/* dtmm_conv_mve_elem_layout.c - the scratch layout of the MVE element-list kernel (internal, plain C). */
#include "dtmm_conv_mve_internal.h"

DTMM_COLD int dtmm_conv_mve_elem_layout(const dtmm_fwcs_header *h, dtmm_mve_elem_layout *E)
{
    return dtmm_mve_elem_layout_compute(h, E);
}
