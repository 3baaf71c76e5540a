/*
 * dtmm_conv_s8_dispatch.h - the one place that picks the conv path (internal).
 *
 * dtmm_conv_s8(), dtmm_conv_s8_get_buffer_size() and dtmm_conv_s8_path()
 * include this header, so the kernel and its scratch size can never come
 * from different paths.  Compile-time choice, best first:
 *   -DDTMM_KERNELS_PORTABLE       -> portable C (forced, any core)
 *   __ARM_FEATURE_MVE bit 0       -> Helium integer MVE (Cortex-M55/M85)
 *   __ARM_FEATURE_DSP             -> Arm DSP extension (Cortex-M4/M7/M33)
 *   otherwise                     -> portable C (Cortex-M0/M3, host)
 */
#ifndef DTMM_CONV_S8_DISPATCH_H
#define DTMM_CONV_S8_DISPATCH_H

#include "dtmm_kernels.h"

#if defined(DTMM_KERNELS_PORTABLE)
#define DTMM_CONV_S8_IMPL dtmm_conv_s8_c
#define DTMM_CONV_S8_IMPL_BUFFER_SIZE dtmm_conv_s8_c_get_buffer_size
#define DTMM_CONV_S8_IMPL_NAME "c"
#elif defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)
#define DTMM_CONV_S8_IMPL dtmm_conv_s8_mve
#define DTMM_CONV_S8_IMPL_BUFFER_SIZE dtmm_conv_s8_mve_get_buffer_size
#define DTMM_CONV_S8_IMPL_NAME "mve"
#elif defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
#define DTMM_CONV_S8_IMPL dtmm_conv_s8_dsp
#define DTMM_CONV_S8_IMPL_BUFFER_SIZE dtmm_conv_s8_dsp_get_buffer_size
#define DTMM_CONV_S8_IMPL_NAME "dsp"
#else
#define DTMM_CONV_S8_IMPL dtmm_conv_s8_c
#define DTMM_CONV_S8_IMPL_BUFFER_SIZE dtmm_conv_s8_c_get_buffer_size
#define DTMM_CONV_S8_IMPL_NAME "c"
#endif

#endif /* DTMM_CONV_S8_DISPATCH_H */
