/* dtmm_lookup_s8.c - any int8 -> int8 elementwise function as a 256-entry table (RELU ... HARD_SWISH). */
#include <stddef.h>

#include "dtmm_ops.h"

dtmm_status dtmm_lookup_s8(const dtmm_lookup_s8_params *p, const int8_t *input, int8_t *output)
{
    if (p == NULL || p->table == NULL || input == NULL || output == NULL || p->size < 0) {
        return DTMM_ERR_ARGUMENT;
    }
    const int8_t *t = p->table + 128;
    const int32_t n = p->size;
    for (int32_t i = 0; i < n; ++i) {
        output[i] = t[input[i]];
    }
    return DTMM_OK;
}
