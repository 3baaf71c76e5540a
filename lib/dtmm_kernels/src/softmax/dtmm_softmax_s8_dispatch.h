/*
 * dtmm_softmax_s8_dispatch.h - the one place that picks the SOFTMAX path
 * (internal), compile-time, best first:
 *   -DDTMM_KERNELS_PORTABLE -> portable C;  __ARM_FEATURE_MVE bit 0 -> Helium;
 *   __ARM_FEATURE_DSP -> Arm DSP extension;  otherwise portable C.
 */
#ifndef DTMM_SOFTMAX_S8_DISPATCH_H
#define DTMM_SOFTMAX_S8_DISPATCH_H

#include "dtmm_ops.h"

#if defined(DTMM_KERNELS_PORTABLE)
#define DTMM_SOFTMAX_S8_IMPL dtmm_softmax_s8_c
#elif defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)
#define DTMM_SOFTMAX_S8_IMPL dtmm_softmax_s8_mve
#elif defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
#define DTMM_SOFTMAX_S8_IMPL dtmm_softmax_s8_dsp
#else
#define DTMM_SOFTMAX_S8_IMPL dtmm_softmax_s8_c
#endif

#endif /* DTMM_SOFTMAX_S8_DISPATCH_H */
