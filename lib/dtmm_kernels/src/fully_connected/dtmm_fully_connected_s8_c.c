/* dtmm_fully_connected_s8_c.c - int8 FULLY_CONNECTED, portable C (TFLite reference semantics).
 * Arguments are checked by dtmm_fully_connected_s8(). */
#include <stddef.h>

#include "dtmm_ops.h"
#include "../common/dtmm_fixedpoint.h"

/* sum w[i]*x[i], four products per iteration. */
static inline int32_t dot_s8(const int8_t *w, const int8_t *x, int32_t n)
{
    int32_t acc0 = 0;
    int32_t acc1 = 0;
    while (n >= 4) {
        acc0 += (int32_t)w[0] * x[0] + (int32_t)w[1] * x[1];
        acc1 += (int32_t)w[2] * x[2] + (int32_t)w[3] * x[3];
        w += 4;
        x += 4;
        n -= 4;
    }
    while (n-- > 0) {
        acc0 += (int32_t)*w++ * *x++;
    }
    return acc0 + acc1;
}

dtmm_status dtmm_fully_connected_s8_c(const dtmm_fully_connected_s8_params *p, const int8_t *input, int8_t *output)
{
    const int32_t n_in = p->in_features;
    const int32_t n_out = p->out_features;
    const int32_t q_step = p->per_channel ? 1 : 0;
    for (int32_t b = 0; b < p->batches; ++b) {
        const int8_t *x = input + (size_t)b * (size_t)n_in;
        int8_t *y = output + (size_t)b * (size_t)n_out;
        const int8_t *w = p->weights;
        const int32_t *m = p->multiplier;
        const int32_t *s = p->shift;
        for (int32_t o = 0; o < n_out; ++o) {
            const int32_t acc = dtmm_fp_add_wrap(dot_s8(w, x, n_in), p->bias[o]);
            const int32_t v = dtmm_fp_add_wrap(dtmm_fp_requantize(acc, *m, *s), p->output_offset);
            y[o] = dtmm_fp_clamp_s8(v, p->act_min, p->act_max);
            w += n_in;
            m += q_step;
            s += q_step;
        }
    }
    return DTMM_OK;
}
