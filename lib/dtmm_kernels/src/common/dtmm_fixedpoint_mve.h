/*
 * dtmm_fixedpoint_mve.h - dtmm_fp_requantize() on four int32 lanes with
 * Helium MVE (internal; include only where __ARM_FEATURE_MVE & 1).
 *
 * Bit-exact with TFLite's MultiplyByQuantizedMultiplier (double rounding):
 *  - the left shift is VSHL (wraps, like the scalar (uint32_t)x << left);
 *  - VQRDMULH is gemmlowp's SaturatingRoundingDoublingHighMul exactly
 *    (INT32_MIN * INT32_MIN saturates to INT32_MAX);
 *  - RoundingDivideByPOT rounds half away from zero while VRSHL by a
 *    negative amount rounds half up, so negative values are first lowered
 *    by one (saturating; only when the right shift is non-zero): for
 *    x = q*2^e + r that moves x up a step exactly when r > 2^(e-1).
 */
#ifndef DTMM_FIXEDPOINT_MVE_H
#define DTMM_FIXEDPOINT_MVE_H

#include <arm_mve.h>

/* shift: TFLite shift per lane (> 0 left, < 0 right), -31..30. */
static inline int32x4_t dtmm_mve_requantize(int32x4_t acc, int32x4_t multiplier, int32x4_t shift)
{
    const int32x4_t zero = vdupq_n_s32(0);
    const int32x4_t right = vminq_s32(shift, zero); /* <= 0 */
    int32x4_t v = vqrdmulhq_s32(vshlq_s32(acc, vmaxq_s32(shift, zero)), multiplier);
    /* sign bit of (v & right) is set iff v < 0 and right != 0 */
    v = vqaddq_s32(v, vshrq_n_s32(vandq_s32(v, right), 31));
    return vrshlq_s32(v, right);
}

#endif /* DTMM_FIXEDPOINT_MVE_H */
