/* dtmm_pad_s8.c - int8 PAD / PADV2 with a constant pad value, up to DTMM_OPS_MAX_DIMS dims. */
#include <stddef.h>
#include <string.h>

#include "dtmm_ops.h"

dtmm_status dtmm_pad_s8(const dtmm_pad_s8_params *p, const int8_t *input, int8_t *output)
{
    if (p == NULL || input == NULL || output == NULL || p->ndims < 1 || p->ndims > DTMM_OPS_MAX_DIMS) {
        return DTMM_ERR_ARGUMENT;
    }
    const int32_t nd = p->ndims;
    int32_t out_shape[DTMM_OPS_MAX_DIMS];
    size_t out_stride[DTMM_OPS_MAX_DIMS];
    size_t total = 1;
    for (int32_t d = 0; d < nd; ++d) {
        if (p->in_shape[d] < 0 || p->pad_before[d] < 0 || p->pad_after[d] < 0) {
            return DTMM_ERR_ARGUMENT;
        }
        out_shape[d] = p->pad_before[d] + p->in_shape[d] + p->pad_after[d];
    }
    for (int32_t d = nd - 1; d >= 0; --d) {
        out_stride[d] = total;
        total *= (size_t)out_shape[d];
    }
    /* Everything becomes the pad value, then each input row (last dim) is copied into place. */
    memset(output, (int)(int8_t)p->pad_value, total);
    size_t rows = 1;
    for (int32_t d = 0; d < nd - 1; ++d) {
        rows *= (size_t)p->in_shape[d];
    }
    const size_t row_len = (size_t)p->in_shape[nd - 1];
    if (rows == 0 || row_len == 0) {
        return DTMM_OK;
    }
    int32_t idx[DTMM_OPS_MAX_DIMS] = {0};
    size_t base = (size_t)p->pad_before[nd - 1];
    for (int32_t d = 0; d < nd - 1; ++d) {
        base += (size_t)p->pad_before[d] * out_stride[d];
    }
    size_t out_off = base;
    const int8_t *x = input;
    for (size_t r = 0; r < rows; ++r) {
        memcpy(output + out_off, x, row_len);
        x += row_len;
        int32_t d = nd - 2;
        while (d >= 0) {
            out_off += out_stride[d];
            if (++idx[d] < p->in_shape[d]) {
                break;
            }
            out_off -= out_stride[d] * (size_t)p->in_shape[d];
            idx[d] = 0;
            --d;
        }
    }
    return DTMM_OK;
}
