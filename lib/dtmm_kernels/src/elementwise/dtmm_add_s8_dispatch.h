/*
 * dtmm_add_s8_dispatch.h - the one place that picks the ADD path (internal).
 *
 * Same compile-time choice as the conv (src/conv/dtmm_conv_s8_dispatch.h):
 *   -DDTMM_KERNELS_PORTABLE       -> portable C (forced, any core)
 *   __ARM_FEATURE_MVE bit 0       -> Helium integer MVE (Cortex-M55/M85)
 *   __ARM_FEATURE_DSP             -> Arm DSP extension (Cortex-M4/M7/M33)
 *   otherwise                     -> portable C (Cortex-M0/M3, host)
 */
#ifndef DTMM_ADD_S8_DISPATCH_H
#define DTMM_ADD_S8_DISPATCH_H

#include "dtmm_ops.h"

#if defined(DTMM_KERNELS_PORTABLE)
#define DTMM_ADD_S8_IMPL dtmm_add_s8_c
#define DTMM_ADD_S8_IMPL_WITH dtmm_add_s8_c_with
#elif defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)
#define DTMM_ADD_S8_IMPL dtmm_add_s8_mve
#define DTMM_ADD_S8_IMPL_WITH dtmm_add_s8_mve_with
#elif defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
#define DTMM_ADD_S8_IMPL dtmm_add_s8_dsp
#define DTMM_ADD_S8_IMPL_WITH dtmm_add_s8_dsp_with
#else
#define DTMM_ADD_S8_IMPL dtmm_add_s8_c
#define DTMM_ADD_S8_IMPL_WITH dtmm_add_s8_c_with
#endif

#endif /* DTMM_ADD_S8_DISPATCH_H */
