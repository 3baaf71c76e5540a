/*
 * dtmm_softmax_s8_mve.c - int8 SOFTMAX with Helium MVE, bit-exact with the
 * portable path (TFLite's integer softmax).
 *
 * The row maximum is one VMAXV per 16 inputs (tail-predicated).  The exp
 * pipeline of dtmm_softmax_s8_internal.h runs on 4 int32 lanes:
 * SaturatingRoundingDoublingHighMul is VQRDMULH, the saturating shift
 * VQSHL, RoundingDivideByPOT a -1 on negative lanes then VRSHL (as in
 * dtmm_fixedpoint_mve.h), and the seven conditional exp(-2^k) factors are
 * VQRDMULH + VPSEL on the remainder's bits.  Lanes whose difference is below
 * diff_min (and lanes past the row) are predicated out of the sum and give
 * -128.  The sum's reciprocal is the scalar code, once per row; the exps
 * are recomputed in the output pass (no scratch).
 */
#include <stddef.h>

#include "dtmm_ops.h"

#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)

#include <arm_mve.h>

#include "dtmm_softmax_s8_internal.h"

/* Arm GNU Toolchain 12.2 (Debian's arm-none-eabi-gcc) stops with an internal compiler error in
 * its RTL combine pass on this file at -O3 / -Ofast; at -O2 it compiles it correctly, so exp4()
 * asks for -O2 whatever the build's level (same arithmetic, bit-exact either way), and the row
 * loop, which runs once per inference over a few values, for -Os (size; one copy of exp4, out of
 * line, serves both passes). */
#if defined(__GNUC__) && !defined(__clang__)
#define DTMM_SOFTMAX_MVE_O2 __attribute__((optimize("O2")))
#define DTMM_SOFTMAX_MVE_OS __attribute__((optimize("Os")))
#else
#define DTMM_SOFTMAX_MVE_O2
#define DTMM_SOFTMAX_MVE_OS
#endif

/* RoundingDivideByPOT(x, e) on lanes, 1 <= e <= 31. */
static inline int32x4_t rdbp4(int32x4_t x, int32_t e)
{
    return vrshlq_n_s32(vqaddq_s32(x, vshrq_n_s32(x, 31)), -e);
}

/* exp_on_negative_values_q5() on lanes (a <= 0 in Q5, result in Q0). */
static __attribute__((noinline)) DTMM_SOFTMAX_MVE_O2 int32x4_t exp4(int32x4_t a)
{
    const int32_t one_quarter = 1 << (Q5_FRACTION_BITS - 2);
    const int32x4_t amq = vsubq_n_s32(vandq_s32(a, vdupq_n_s32(one_quarter - 1)), one_quarter);
    /* exp on [-1/4, 0): exp(-1/8) * (1 + x + x^2/2 + x^3/6 + x^4/24), x = a + 1/8 */
    const int32_t exp_minus_one_eighth = 1895147668, one_third = 715827883;
    const int32x4_t x = vaddq_n_s32(vqshlq_n_s32(amq, 5), 1 << 28);
    const int32x4_t x2 = vqrdmulhq_s32(x, x);
    const int32x4_t x3 = vqrdmulhq_s32(x2, x);
    const int32x4_t x4_over_4 = rdbp4(vqrdmulhq_s32(x2, x2), 2);
    const int32x4_t poly = rdbp4(vaddq_s32(vqrdmulhq_n_s32(vaddq_s32(x4_over_4, x3), one_third), x2), 1);
    int32x4_t result = vaddq_n_s32(vqrdmulhq_n_s32(vaddq_s32(x, poly), exp_minus_one_eighth), exp_minus_one_eighth);
    static const int32_t multipliers[7] = {1672461947, 1302514674, 790015084, 290630308, 39332535, 720401, 242};
    const int32x4_t remainder = vsubq_s32(amq, a);
    for (int32_t k = 0; k < 7; ++k) {
        const mve_pred16_t bit = vcmpneq_n_s32(vandq_s32(remainder, vdupq_n_s32(1 << (Q5_FRACTION_BITS - 2 + k))), 0);
        result = vpselq_s32(vqrdmulhq_n_s32(result, multipliers[k]), result, bit);
    }
    return vpselq_s32(vdupq_n_s32(INT32_MAX), result, vcmpeqq_n_s32(a, 0));
}

/*
 * one_over_one_plus_x() of the internal header on one lane, for a in [0, 2^31) (what
 * softmax_reciprocal() passes): VQRDMULH is SRDHM, VQSHL by 1 or 2 is the saturating
 * multiply by a power of two, VADD/VSUB wrap, and RoundingHalfSum(a, INT32_MAX) is
 * (a >> 1) + 2^30 for a >= 0.  About 70 bytes instead of the scalar 236 (64-bit products).
 */
static __attribute__((noinline)) DTMM_SOFTMAX_MVE_OS int32_t one_over_one_plus_x_mve(int32_t a)
{
    const int32x4_t half_denominator = vdupq_n_s32((a >> 1) + (1 << 30));
    int32x4_t x = vaddq_n_s32(vqrdmulhq_n_s32(half_denominator, -1010580540), 1515870810); /* 48/17 - 32/17 d, Q2 */
    for (int32_t i = 0; i < 3; ++i) {
        const int32x4_t one_minus = vsubq_s32(vdupq_n_s32(1 << 29), vqrdmulhq_s32(half_denominator, x));
        x = vaddq_s32(x, vqshlq_n_s32(vqrdmulhq_s32(x, one_minus), 2));
    }
    return vgetq_lane_s32(vqshlq_n_s32(x, 1), 0);
}

DTMM_SOFTMAX_MVE_OS dtmm_status dtmm_softmax_s8_mve(const dtmm_softmax_s8_params *p, const int8_t *input,
                                                   int8_t *output)
{
    const int32_t depth = p->depth, diff_min = p->diff_min, mult = p->input_multiplier;
    const int32_t lshift = p->input_left_shift;
    for (int32_t r = 0; r < p->outer; ++r) {
        const int8_t *x = input + (size_t)r * (size_t)depth;
        int8_t *y = output + (size_t)r * (size_t)depth;
        int8_t max8 = -128;
        for (int32_t c = 0; c < depth; c += 16) {
            const mve_pred16_t pr = vctp8q((uint32_t)(depth - c));
            max8 = vmaxvq_p_s8(max8, vldrbq_z_s8(x + c, pr), pr);
        }
        const int32_t max_in_row = max8;
        int32_t sum_of_exps = 0; /* Q12 */
        for (int32_t c = 0; c < depth; c += 4) {
            const mve_pred16_t pr = vctp32q((uint32_t)(depth - c));
            const int32x4_t diff = vsubq_n_s32(vldrbq_z_s32(x + c, pr), max_in_row);
            const mve_pred16_t use = vcmpgeq_m_n_s32(diff, diff_min, pr);
            const int32x4_t e = exp4(vqrdmulhq_n_s32(vshlq_r_s32(diff, lshift), mult));
            sum_of_exps = vaddvaq_p_s32(sum_of_exps, vrshrq_n_s32(e, ACCUM_INTEGER_BITS), use); /* Q0 -> Q12, e >= 0 */
        }
        /* softmax_reciprocal() with the one-lane 1 / (1 + x) */
        if (sum_of_exps == 0) {
            return DTMM_ERR_ARGUMENT; /* cannot happen: the row maximum contributes exp(0) */
        }
        const int32_t headroom_plus_one = __builtin_clz((uint32_t)sum_of_exps);
        const int32_t shifted_scale =
            one_over_one_plus_x_mve((int32_t)(((uint32_t)sum_of_exps << headroom_plus_one) - ((uint32_t)1 << 31)));
        const int32_t exponent = ACCUM_INTEGER_BITS - headroom_plus_one + 31 - 8;
        if (exponent < 0 || exponent > 31) {
            return DTMM_ERR_ARGUMENT; /* cannot happen (TFLite checks it too) */
        }
        for (int32_t c = 0; c < depth; c += 4) {
            const mve_pred16_t pr = vctp32q((uint32_t)(depth - c));
            const int32x4_t diff = vsubq_n_s32(vldrbq_z_s32(x + c, pr), max_in_row);
            const int32x4_t e = exp4(vqrdmulhq_n_s32(vshlq_r_s32(diff, lshift), mult));
            int32x4_t v = vqrdmulhq_n_s32(e, shifted_scale);
            if (exponent > 0) {
                v = rdbp4(v, exponent);
            }
            v = vminq_s32(vmaxq_s32(vsubq_n_s32(v, 128), vdupq_n_s32(-128)), vdupq_n_s32(127));
            v = vpselq_s32(v, vdupq_n_s32(-128), vcmpgeq_n_s32(diff, diff_min));
            vstrbq_p_s32(y + c, v, pr);
        }
    }
    return DTMM_OK;
}

#else /* no integer MVE: keep the symbol, forward to the portable path */

dtmm_status dtmm_softmax_s8_mve(const dtmm_softmax_s8_params *p, const int8_t *input, int8_t *output)
{
    return dtmm_softmax_s8_c(p, input, output);
}

#endif
