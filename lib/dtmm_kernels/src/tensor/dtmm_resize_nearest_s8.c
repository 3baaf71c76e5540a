/* dtmm_resize_nearest_s8.c - int8 NHWC RESIZE_NEAREST_NEIGHBOR from precomputed source row/column tables. */
#include <stddef.h>
#include <string.h>

#include "dtmm_ops.h"

dtmm_status dtmm_resize_nearest_s8(const dtmm_resize_nearest_s8_params *p, const int8_t *input, int8_t *output)
{
    if (p == NULL || input == NULL || output == NULL || p->row_index == NULL || p->col_index == NULL ||
        p->batches < 0 || p->in_h < 1 || p->in_w < 1 || p->channels < 0 || p->out_h < 0 || p->out_w < 0) {
        return DTMM_ERR_ARGUMENT;
    }
    for (int32_t y = 0; y < p->out_h; ++y) {
        if (p->row_index[y] < 0 || p->row_index[y] >= p->in_h) {
            return DTMM_ERR_ARGUMENT;
        }
    }
    for (int32_t x = 0; x < p->out_w; ++x) {
        if (p->col_index[x] < 0 || p->col_index[x] >= p->in_w) {
            return DTMM_ERR_ARGUMENT;
        }
    }
    const size_t depth = (size_t)p->channels;
    const size_t in_row = (size_t)p->in_w * depth;
    const size_t out_row = (size_t)p->out_w * depth;
    const int8_t *image = input;
    int8_t *out = output;
    for (int32_t b = 0; b < p->batches; ++b) {
        for (int32_t y = 0; y < p->out_h; ++y) {
            if (y > 0 && p->row_index[y] == p->row_index[y - 1]) {
                memcpy(out, out - out_row, out_row); /* same source row: repeat the row just written */
            } else {
                const int8_t *src = image + (size_t)p->row_index[y] * in_row;
                for (int32_t x = 0; x < p->out_w; ++x) {
                    memcpy(out + (size_t)x * depth, src + (size_t)p->col_index[x] * depth, depth);
                }
            }
            out += out_row;
        }
        image += (size_t)p->in_h * in_row;
    }
    return DTMM_OK;
}
