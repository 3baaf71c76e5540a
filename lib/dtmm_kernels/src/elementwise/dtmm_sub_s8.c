/* dtmm_sub_s8.c - int8 SUB: ADD's rescaling and broadcasting with the second input subtracted. */
#include <stddef.h>

#include "dtmm_ops.h"
#include "dtmm_add_s8_internal.h"

static void sub_row(const void *ctx, const int8_t *a, int32_t st1, const int8_t *b, int32_t st2, int8_t *y,
                    int32_t n)
{
    const dtmm_add_s8_params *p = (const dtmm_add_s8_params *)ctx;
    for (int32_t i = 0; i < n; ++i) {
        const int32_t s1 = dtmm_add_in1(p, a[(ptrdiff_t)i * st1]);
        const int32_t s2 = dtmm_add_in2(p, b[(ptrdiff_t)i * st2]);
        y[i] = dtmm_add_output(p, (int32_t)((uint32_t)s1 - (uint32_t)s2));
    }
}

dtmm_status dtmm_sub_s8(const dtmm_add_s8_params *p, const int8_t *input1, const int8_t *input2, int8_t *output)
{
    if (!dtmm_add_s8_args_ok(p, input1, input2, output)) {
        return DTMM_ERR_ARGUMENT;
    }
    dtmm_add_s8_walk(p, input1, input2, output, sub_row, p);
    return DTMM_OK;
}
