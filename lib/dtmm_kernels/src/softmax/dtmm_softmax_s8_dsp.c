/*
 * dtmm_softmax_s8_dsp.c - int8 SOFTMAX for cores with the Arm DSP extension
 * (Cortex-M4/M7/M33), bit-exact with the portable path.
 *
 * The row maximum takes four inputs per SSUB8/SEL pair; the exp pipeline
 * and the output stage are the portable path's (softmax_row() in
 * dtmm_softmax_s8_internal.h): 32-bit saturating fixed point, which the
 * 16-bit SIMD of the extension does not speed up.
 */
#include <stddef.h>
#include <string.h>

#include "dtmm_ops.h"

#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP

#include <arm_acle.h>

#include "dtmm_softmax_s8_internal.h"

/* Largest of x[0..n), n >= 1; four lanes at a time from 8 inputs on. */
static int32_t row_max(const int8_t *x, int32_t n)
{
    int32_t best = -128, c = 0;
    if (n >= 8) {
        uint32_t m = 0x80808080u; /* four -128 lanes */
        for (; c + 4 <= n; c += 4) {
            uint32_t v;
            memcpy(&v, x + c, sizeof v);
            (void)__ssub8(v, m); /* GE bits: lanes where v >= m */
            m = __sel(v, m);
        }
        for (int32_t k = 0; k < 4; ++k) {
            const int32_t lane = (int8_t)(m >> (8 * k));
            best = lane > best ? lane : best;
        }
    }
    for (; c < n; ++c) {
        best = x[c] > best ? x[c] : best;
    }
    return best;
}

dtmm_status dtmm_softmax_s8_dsp(const dtmm_softmax_s8_params *p, const int8_t *input, int8_t *output)
{
    const int32_t depth = p->depth;
    for (int32_t r = 0; r < p->outer; ++r) {
        const int8_t *x = input + (size_t)r * (size_t)depth;
        int8_t *y = output + (size_t)r * (size_t)depth;
        const int32_t max_in_row = row_max(x, depth);
        const dtmm_status st = softmax_row(p, x, y, max_in_row);
        if (st != DTMM_OK) {
            return st;
        }
    }
    return DTMM_OK;
}

#else /* no DSP extension: keep the symbol, forward to the portable path */

dtmm_status dtmm_softmax_s8_dsp(const dtmm_softmax_s8_params *p, const int8_t *input, int8_t *output)
{
    return dtmm_softmax_s8_c(p, input, output);
}

#endif
