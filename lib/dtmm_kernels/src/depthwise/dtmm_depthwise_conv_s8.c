/* dtmm_depthwise_conv_s8.c - int8 DEPTHWISE_CONV_2D on the best path of this build. */
#include <stddef.h>

#include "dtmm_depthwise_conv_s8_dispatch.h"

dtmm_status dtmm_depthwise_conv_s8(const dtmm_depthwise_conv_s8_params *p, const int8_t *input, int8_t *output)
{
    if (p == NULL || input == NULL || output == NULL || p->weights == NULL || p->bias == NULL ||
        p->multiplier == NULL || p->shift == NULL) {
        return DTMM_ERR_ARGUMENT;
    }
    if (p->depth_multiplier < 1 || p->in_ch < 1 || p->out_ch != p->in_ch * p->depth_multiplier || p->kh < 1 ||
        p->kw < 1 || p->stride_h < 1 || p->stride_w < 1 || p->dilation_h < 1 || p->dilation_w < 1) {
        return DTMM_ERR_ARGUMENT;
    }
    return DTMM_DEPTHWISE_CONV_S8_IMPL(p, input, output);
}
