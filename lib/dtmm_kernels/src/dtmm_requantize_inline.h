/*
 * dtmm_requantize_inline.h - dtmm_requantize() as a static inline for kernel
 * inner loops (internal header).
 *
 * Same result as dtmm_requantize() / TFLite's MultiplyByQuantizedMultiplier
 * for every input, but shaped for a 32-bit core: with nudge = 2^30 for
 * ab >= 0 and 1 - 2^30 otherwise, the truncating (ab + nudge) / 2^31 of
 * SaturatingRoundingDoublingHighMul equals (ab + 2^30) >> 31 in both cases
 * (for ab < 0 the truncation adds 2^31 - 1 before the shift), so it is one
 * SMULL, an add with carry and a funnel shift.  Relies on >> of a negative
 * int64_t being arithmetic (implementation-defined in C99; true for GCC,
 * Clang and Arm Compiler).  shift must be in [-31, 30], as FWCS
 * guarantees.  A call per output costs a Cortex-M3 ~50 instructions; this
 * ~20.
 */
#ifndef DTMM_REQUANTIZE_INLINE_H
#define DTMM_REQUANTIZE_INLINE_H

#include <stdint.h>

static inline int32_t dtmm_requantize_inline(int32_t acc, int32_t multiplier, int32_t shift)
{
    const uint32_t left = shift > 0 ? (uint32_t)shift : 0u;
    const uint32_t right = shift > 0 ? 0u : (uint32_t)-shift;
    const int32_t x = (int32_t)((uint32_t)acc << left);
    const int32_t high = (x == INT32_MIN && multiplier == INT32_MIN)
                             ? INT32_MAX /* the one product that saturates */
                             : (int32_t)(((int64_t)x * multiplier + (1ll << 30)) >> 31);
    const uint32_t mask = (1u << right) - 1u; /* right <= 31 */
    const uint32_t remainder = (uint32_t)high & mask;
    const uint32_t threshold = (mask >> 1) + (high < 0 ? 1u : 0u);
    return (high >> right) + (remainder > threshold ? 1 : 0);
}

#endif /* DTMM_REQUANTIZE_INLINE_H */
