/* dtmm_add_s8_c.c - portable int8 ADD with TFLite's input/output rescaling and broadcasting. */
#include <stddef.h>

#include "dtmm_ops.h"
#include "dtmm_add_s8_internal.h"

dtmm_status dtmm_add_s8_c(const dtmm_add_s8_params *p, const int8_t *input1, const int8_t *input2, int8_t *output)
{
    if (!dtmm_add_s8_args_ok(p, input1, input2, output)) {
        return DTMM_ERR_ARGUMENT;
    }
    if (p->ndims == 0) {
        if (p->table1 != NULL) {
            /* locals: int8 stores may alias *p, which would force reloads every element */
            const int32_t *t1 = p->table1 + 128;
            const int32_t *t2 = p->table2 + 128;
            const int32_t mult = p->output_multiplier;
            const int32_t right = -p->output_shift;
            const int32_t lo = p->act_min - p->output_offset;
            const int32_t hi = p->act_max - p->output_offset;
            const int32_t off = p->output_offset;
            const int32_t n = p->size;
            for (int32_t i = 0; i < n; ++i) {
                int32_t v = dtmm_fp_rdbp(dtmm_fp_srdhm(dtmm_fp_add_wrap(t1[input1[i]], t2[input2[i]]), mult), right);
                v = v < lo ? lo : (v > hi ? hi : v); /* |v| < 2^31 - 255: no wrap to care about */
                output[i] = (int8_t)(v + off);
            }
        } else {
            for (int32_t i = 0; i < p->size; ++i) {
                output[i] = dtmm_add_one(p, input1[i], input2[i]);
            }
        }
        return DTMM_OK;
    }
    /* Odometer over the output dims, innermost last; offsets follow the strides. */
    int32_t idx[DTMM_OPS_MAX_DIMS] = {0};
    const int32_t nd = p->ndims;
    const int32_t inner = p->shape[nd - 1];
    const int32_t st1 = p->stride1[nd - 1];
    const int32_t st2 = p->stride2[nd - 1];
    int32_t o1 = 0;
    int32_t o2 = 0;
    for (int32_t d = 0; d < nd; ++d) {
        if (p->shape[d] < 1) {
            return DTMM_OK; /* empty tensor */
        }
    }
    int8_t *y = output;
    for (;;) {
        const int8_t *a = input1 + o1;
        const int8_t *b = input2 + o2;
        for (int32_t i = 0; i < inner; ++i) {
            *y++ = dtmm_add_one(p, *a, *b);
            a += st1;
            b += st2;
        }
        int32_t d = nd - 2;
        while (d >= 0) {
            o1 += p->stride1[d];
            o2 += p->stride2[d];
            if (++idx[d] < p->shape[d]) {
                break;
            }
            o1 -= p->stride1[d] * p->shape[d];
            o2 -= p->stride2[d] * p->shape[d];
            idx[d] = 0;
            --d;
        }
        if (d < 0) {
            break;
        }
    }
    return DTMM_OK;
}
