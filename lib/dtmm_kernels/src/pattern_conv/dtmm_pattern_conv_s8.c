/* dtmm_pattern_conv_s8.c - pattern conv on the best path of this build (argument checks here). */
#include <stddef.h>
#include <stdint.h>

#include "dtmm_pattern_conv_internal.h"

#if defined(DTMM_KERNELS_PORTABLE)
#define DTMM_PATTERN_CONV_S8_IMPL dtmm_pattern_conv_s8_c
#elif defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)
#define DTMM_PATTERN_CONV_S8_IMPL dtmm_pattern_conv_s8_mve
#elif defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
#define DTMM_PATTERN_CONV_S8_IMPL dtmm_pattern_conv_s8_dsp
#else
#define DTMM_PATTERN_CONV_S8_IMPL dtmm_pattern_conv_s8_c
#endif

dtmm_status dtmm_pattern_conv_s8(const dtmm_pattern_conv_s8_params *p, const int8_t *input, int8_t *output,
                                 void *scratch)
{
    if (p == NULL || input == NULL || output == NULL || scratch == NULL || ((uintptr_t)scratch & 3u) != 0u ||
        p->weights == NULL || p->positions == NULL || p->tap_offsets == NULL || p->bias == NULL ||
        p->multiplier == NULL || p->shift == NULL || (p->counts8 == NULL) == (p->counts16 == NULL) ||
        (p->filters8 == NULL) == (p->filters16 == NULL)) {
        return DTMM_ERR_ARGUMENT;
    }
    if (p->n_patterns < 1 || p->n_patterns > 16 || p->n_taps < 1 || p->n_taps > DTMM_PATTERN_MAX_TAPS ||
        p->cin < 1 || p->cout < 1 || p->kh < 1 || p->kw < 1 || p->kh * p->kw > 256 || p->out_h < 1 ||
        p->out_w < 1) {
        return DTMM_ERR_ARGUMENT;
    }
    return DTMM_PATTERN_CONV_S8_IMPL(p, input, output, (int32_t *)scratch);
}
