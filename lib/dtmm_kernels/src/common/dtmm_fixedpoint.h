/*
 * dtmm_fixedpoint.h - TFLite/gemmlowp fixed-point arithmetic for kernel inner
 * loops (internal header; static inline so every kernel gets it without a
 * call).
 *
 * dtmm_fp_requantize() gives exactly dtmm_requantize()'s result (TFLite's
 * MultiplyByQuantizedMultiplier, double rounding) for every input; the
 * public function is the plain transcription of the rule and the reference
 * these are tested against (tests/test_conv_host.py).  The fast form rests
 * on one identity: with nudge = 2^30 for a*b >= 0 and 1 - 2^30 otherwise,
 * the truncating (a*b + nudge) / 2^31 of SaturatingRoundingDoublingHighMul
 * equals (a*b + 2^30) >> 31 for both signs (for a*b < 0 the truncation is a
 * ceiling), so it is one SMULL, an add and a shift.  It relies on >> of a
 * negative integer being arithmetic (implementation-defined in C99; true for
 * GCC, Clang and Arm Compiler).
 */
#ifndef DTMM_FIXEDPOINT_H
#define DTMM_FIXEDPOINT_H

#include <stdint.h>

/* gemmlowp SaturatingRoundingDoublingHighMul; INT32_MIN * INT32_MIN saturates. */
static inline int32_t dtmm_fp_srdhm(int32_t a, int32_t b)
{
    if (a == INT32_MIN && b == INT32_MIN) {
        return INT32_MAX;
    }
    return (int32_t)(((int64_t)a * (int64_t)b + ((int64_t)1 << 30)) >> 31);
}

/* x / 2^exponent rounded half away from zero, 0 <= exponent <= 31. */
static inline int32_t dtmm_fp_rdbp(int32_t x, int32_t exponent)
{
    const int32_t mask = (int32_t)(((uint32_t)1 << exponent) - 1u);
    const int32_t remainder = x & mask;
    const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
    return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

/* TFLite MultiplyByQuantizedMultiplier, -31 <= shift <= 30 (as FWCS and the ops guarantee). */
static inline int32_t dtmm_fp_requantize(int32_t x, int32_t multiplier, int32_t shift)
{
    const int32_t left = shift > 0 ? shift : 0;
    const int32_t right = shift > 0 ? 0 : -shift;
    return dtmm_fp_rdbp(dtmm_fp_srdhm((int32_t)((uint32_t)x << left), multiplier), right);
}

/* a + b with two's-complement wrap-around (what TFLite's int32 code does in practice). */
static inline int32_t dtmm_fp_add_wrap(int32_t a, int32_t b)
{
    return (int32_t)((uint32_t)a + (uint32_t)b);
}

static inline int8_t dtmm_fp_clamp_s8(int32_t v, int32_t lo, int32_t hi)
{
    return (int8_t)(v < lo ? lo : (v > hi ? hi : v));
}

#endif /* DTMM_FIXEDPOINT_H */
