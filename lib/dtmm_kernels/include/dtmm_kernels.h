/*
 * dtmm_kernels.h - public API of the DTMM int8 kernel library.
 *
 * C99, no heap, no libc in hot loops.  Every function is bit-exact with the
 * TensorFlow Lite (Micro) reference kernels on the same inputs.
 */
#ifndef DTMM_KERNELS_H
#define DTMM_KERNELS_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Requantizes an int32 accumulator with a Q31 multiplier and a power-of-two
 * shift (left when shift > 0), exactly like TFLite's
 * MultiplyByQuantizedMultiplier: saturating rounding doubling high multiply,
 * then rounding (half away from zero) arithmetic right shift.
 */
int32_t dtmm_requantize(int32_t acc, int32_t multiplier, int32_t shift);

#ifdef __cplusplus
}
#endif

#endif /* DTMM_KERNELS_H */
