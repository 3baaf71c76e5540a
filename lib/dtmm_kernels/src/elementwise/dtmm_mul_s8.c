/* dtmm_mul_s8.c - int8 MUL with TFLite's output rescaling and broadcasting (portable C). */
#include <stddef.h>

#include "dtmm_ops.h"
#include "../common/dtmm_broadcast_walk.h"
#include "../common/dtmm_fixedpoint.h"

static void mul_row(const void *ctx, const int8_t *a, int32_t st1, const int8_t *b, int32_t st2, int8_t *y,
                    int32_t n)
{
    const dtmm_mul_s8_params *p = (const dtmm_mul_s8_params *)ctx;
    const int32_t off1 = p->input1_offset;
    const int32_t off2 = p->input2_offset;
    const int32_t mult = p->output_multiplier;
    const int32_t shift = p->output_shift;
    const int32_t lo = p->act_min - p->output_offset;
    const int32_t hi = p->act_max - p->output_offset;
    const int32_t off = p->output_offset;
    for (int32_t i = 0; i < n; ++i) {
        const int32_t prod = (a[(ptrdiff_t)i * st1] + off1) * (b[(ptrdiff_t)i * st2] + off2); /* |prod| <= 2^16 */
        int32_t v = dtmm_fp_requantize(prod, mult, shift);
        v = v < lo ? lo : (v > hi ? hi : v);
        y[i] = (int8_t)(v + off);
    }
}

dtmm_status dtmm_mul_s8(const dtmm_mul_s8_params *p, const int8_t *input1, const int8_t *input2, int8_t *output)
{
    if (p == NULL || input1 == NULL || input2 == NULL || output == NULL || p->ndims < 0 ||
        p->ndims > DTMM_OPS_MAX_DIMS || p->output_shift < -31 || p->output_shift > 30 || p->act_min > p->act_max) {
        return DTMM_ERR_ARGUMENT;
    }
    dtmm_broadcast_walk(p->ndims, p->shape, p->stride1, p->stride2, p->size, input1, input2, output, mul_row, p);
    return DTMM_OK;
}
