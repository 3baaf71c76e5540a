/*
 * dtmm_fully_connected_s8_dispatch.h - the one place that picks the
 * FULLY_CONNECTED path (internal), compile-time, best first:
 *   -DDTMM_KERNELS_PORTABLE -> portable C;  __ARM_FEATURE_MVE bit 0 -> Helium;
 *   __ARM_FEATURE_DSP -> Arm DSP extension;  otherwise portable C.
 */
#ifndef DTMM_FULLY_CONNECTED_S8_DISPATCH_H
#define DTMM_FULLY_CONNECTED_S8_DISPATCH_H

#include "dtmm_ops.h"

#if defined(DTMM_KERNELS_PORTABLE)
#define DTMM_FULLY_CONNECTED_S8_IMPL dtmm_fully_connected_s8_c
#elif defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)
#define DTMM_FULLY_CONNECTED_S8_IMPL dtmm_fully_connected_s8_mve
#elif defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
#define DTMM_FULLY_CONNECTED_S8_IMPL dtmm_fully_connected_s8_dsp
#else
#define DTMM_FULLY_CONNECTED_S8_IMPL dtmm_fully_connected_s8_c
#endif

#endif /* DTMM_FULLY_CONNECTED_S8_DISPATCH_H */
