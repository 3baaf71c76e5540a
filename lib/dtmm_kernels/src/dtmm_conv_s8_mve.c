/* dtmm_conv_s8_mve.c - Helium MVE path; until it lands, forwards to the portable path. */
#include "dtmm_kernels.h"

dtmm_status dtmm_conv_s8_mve(const dtmm_fwcs_view *v, const int8_t *input, int8_t *output, void *scratch)
{
    return dtmm_conv_s8_c(v, input, output, scratch);
}
