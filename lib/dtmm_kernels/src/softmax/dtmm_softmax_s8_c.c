/*
 * dtmm_softmax_s8_c.c - int8 -> int8 SOFTMAX over the last dimension,
 * portable C, bit-exact with TFLite's reference integer softmax (the
 * fixed-point pipeline is in dtmm_softmax_s8_internal.h).  Arguments are
 * checked by dtmm_softmax_s8().
 */
#include <stddef.h>

#include "dtmm_ops.h"
#include "dtmm_softmax_s8_internal.h"

dtmm_status dtmm_softmax_s8_c(const dtmm_softmax_s8_params *p, const int8_t *input, int8_t *output)
{
    const int32_t depth = p->depth;
    for (int32_t r = 0; r < p->outer; ++r) {
        const int8_t *x = input + (size_t)r * (size_t)depth;
        int8_t *y = output + (size_t)r * (size_t)depth;
        int32_t max_in_row = -128;
        for (int32_t c = 0; c < depth; ++c) {
            if (x[c] > max_in_row) {
                max_in_row = x[c];
            }
        }
        const dtmm_status st = softmax_row(p, x, y, max_in_row);
        if (st != DTMM_OK) {
            return st;
        }
    }
    return DTMM_OK;
}
