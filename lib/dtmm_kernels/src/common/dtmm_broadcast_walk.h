/*
 * dtmm_broadcast_walk.h - the odometer of the two-input elementwise ops
 * (ADD, SUB, MUL; internal, static inline): walks the output dims, innermost
 * last, and hands each innermost row to the op's row function.  The dims and
 * strides are the lowering's collapsed broadcast layout (dtmm_ops.h, ADD).
 */
#ifndef DTMM_BROADCAST_WALK_H
#define DTMM_BROADCAST_WALK_H

#include <stdint.h>

#include "dtmm_ops.h"

/* out[i] = op(a[i*st1], b[i*st2]) for i < n; ctx is the op's own state. */
typedef void (*dtmm_broadcast_row_fn)(const void *ctx, const int8_t *a, int32_t st1, const int8_t *b, int32_t st2,
                                      int8_t *y, int32_t n);

/*
 * Calls row() once per innermost output row (once in all, over `size`
 * elements, when ndims == 0).  Rows are written in order and a row reads its
 * inputs no later than it writes the same positions, so the output may alias
 * an input when ndims == 0.
 */
static inline void dtmm_broadcast_walk(int32_t ndims, const int32_t *shape, const int32_t *stride1,
                                       const int32_t *stride2, int32_t size, const int8_t *input1,
                                       const int8_t *input2, int8_t *output, dtmm_broadcast_row_fn row,
                                       const void *ctx)
{
    if (ndims == 0) {
        if (size > 0) {
            row(ctx, input1, 1, input2, 1, output, size);
        }
        return;
    }
    int32_t idx[DTMM_OPS_MAX_DIMS] = {0}; /* callers check ndims <= DTMM_OPS_MAX_DIMS */
    const int32_t inner = shape[ndims - 1];
    int32_t o1 = 0;
    int32_t o2 = 0;
    for (int32_t d = 0; d < ndims; ++d) {
        if (shape[d] < 1) {
            return; /* empty tensor */
        }
    }
    int8_t *y = output;
    for (;;) {
        row(ctx, input1 + o1, stride1[ndims - 1], input2 + o2, stride2[ndims - 1], y, inner);
        y += inner;
        int32_t d = ndims - 2;
        while (d >= 0) {
            o1 += stride1[d];
            o2 += stride2[d];
            if (++idx[d] < shape[d]) {
                break;
            }
            o1 -= stride1[d] * shape[d];
            o2 -= stride2[d] * shape[d];
            idx[d] = 0;
            --d;
        }
        if (d < 0) {
            break;
        }
    }
}

#endif /* DTMM_BROADCAST_WALK_H */
