/* dtmm_conv_s8_mve_get_buffer_size.c - scratch of the MVE path (the portable path's, for now). */
#include "dtmm_kernels.h"

int32_t dtmm_conv_s8_mve_get_buffer_size(const dtmm_fwcs_view *v)
{
    return dtmm_conv_s8_c_get_buffer_size(v);
}
