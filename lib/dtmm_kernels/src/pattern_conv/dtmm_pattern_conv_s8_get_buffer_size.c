/* dtmm_pattern_conv_s8_get_buffer_size.c - scratch of dtmm_pattern_conv_s8(): int32 accumulators, four per
 * filter (the MVE path's blocks of four pixels; the others use the first cout), the same on every build. */
#include <stddef.h>

#include "dtmm_ops.h"

int32_t dtmm_pattern_conv_s8_get_buffer_size(const dtmm_pattern_conv_s8_params *p)
{
    return (p == NULL || p->cout < 1) ? 0 : 16 * p->cout;
}
