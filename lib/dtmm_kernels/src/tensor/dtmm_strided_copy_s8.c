/* dtmm_strided_copy_s8.c - int8 strided gather (TRANSPOSE, STRIDED_SLICE), up to DTMM_OPS_MAX_DIMS dims. */
#include <stddef.h>
#include <string.h>

#include "dtmm_ops.h"

dtmm_status dtmm_strided_copy_s8(const dtmm_strided_copy_s8_params *p, const int8_t *input, int8_t *output)
{
    if (p == NULL || input == NULL || output == NULL || p->ndims < 1 || p->ndims > DTMM_OPS_MAX_DIMS ||
        p->in_size < 0) {
        return DTMM_ERR_ARGUMENT;
    }
    const int32_t nd = p->ndims;
    /* The lowest and highest input element read must lie in [0, in_size). */
    int64_t lo = p->offset, hi = p->offset;
    int64_t total = 1;
    for (int32_t d = 0; d < nd; ++d) {
        if (p->shape[d] < 0) {
            return DTMM_ERR_ARGUMENT;
        }
        total *= p->shape[d];
        if (p->shape[d] > 0) {
            const int64_t reach = (int64_t)(p->shape[d] - 1) * p->stride[d];
            if (reach < 0) {
                lo += reach;
            } else {
                hi += reach;
            }
        }
    }
    if (total == 0) {
        return DTMM_OK;
    }
    if (lo < 0 || hi >= p->in_size) {
        return DTMM_ERR_ARGUMENT;
    }
    const int32_t run = p->shape[nd - 1];
    const ptrdiff_t step = p->stride[nd - 1];
    const int64_t rows = total / run;
    int32_t idx[DTMM_OPS_MAX_DIMS] = {0};
    ptrdiff_t base = (ptrdiff_t)p->offset;
    int8_t *out = output;
    for (int64_t r = 0; r < rows; ++r) {
        if (step == 1) {
            memcpy(out, input + base, (size_t)run);
        } else {
            const int8_t *x = input + base;
            for (int32_t i = 0; i < run; ++i) {
                out[i] = *x;
                x += step;
            }
        }
        out += run;
        /* Advance the outer index (all dims but the innermost), last dim fastest. */
        for (int32_t d = nd - 2; d >= 0; --d) {
            base += p->stride[d];
            if (++idx[d] < p->shape[d]) {
                break;
            }
            base -= (ptrdiff_t)p->stride[d] * p->shape[d];
            idx[d] = 0;
        }
    }
    return DTMM_OK;
}
