/* dtmm_pattern_conv_s8_get_buffer_size.c - scratch of dtmm_pattern_conv_s8(): one int32 accumulator per filter. */
#include <stddef.h>

#include "dtmm_ops.h"

int32_t dtmm_pattern_conv_s8_get_buffer_size(const dtmm_pattern_conv_s8_params *p)
{
    return (p == NULL || p->cout < 1) ? 0 : 4 * p->cout;
}
