/*
 * dtmm_pattern_conv_s8_dsp.c - pattern conv with the Arm DSP extension
 * (Cortex-M4/M7/M33/M55), for PatDNN's 4-tap patterns.
 *
 * A group's four taps are packed once into two int16x2 words (taps 0,2 and
 * 1,3); each kernel's four weights are one aligned word, split by SXTB16
 * into the same lanes, so a kernel is two SMLADs on its filter's
 * accumulator.  Other tap counts, and cores without DSP, use the portable
 * path.  See dtmm_ops.h.
 */
#include <string.h>

#include "dtmm_pattern_conv_internal.h"

#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP && defined(__GNUC__)

#include <arm_acle.h>

static inline int16x2_t pack_pair(int32_t lo, int32_t hi)
{
    return (int16x2_t)(((uint32_t)lo & 0xFFFFu) | ((uint32_t)hi << 16));
}

dtmm_status dtmm_pattern_conv_s8_dsp(const dtmm_pattern_conv_s8_params *p, const int8_t *input, int8_t *output,
                                     int32_t *acc)
{
    if (p->n_taps != 4) {
        return dtmm_pattern_conv_s8_c(p, input, output, acc);
    }
    int32_t taps[DTMM_PATTERN_MAX_TAPS];
    int8_t *out = output;
    for (int32_t oy = 0; oy < p->out_h; ++oy) {
        const int32_t y0 = oy * p->stride_h - p->pad_top;
        for (int32_t ox = 0; ox < p->out_w; ++ox) {
            const int32_t x0 = ox * p->stride_w - p->pad_left;
            const int8_t *window = dtmm_pattern_window(p, input, y0, x0);
            const uint32_t *w = (const uint32_t *)(const void *)p->weights;
            int32_t k = 0;
            int32_t g = 0;
            memset(acc, 0, (size_t)p->cout * sizeof(int32_t));
            for (int32_t ci = 0; ci < p->cin; ++ci) {
                for (int32_t pid = 0; pid < p->n_patterns; ++pid, ++g) {
                    int32_t n = dtmm_pattern_count(p, g);
                    if (n == 0) {
                        continue;
                    }
                    dtmm_pattern_gather(p, input, window, y0, x0, ci, pid, taps);
                    const int16x2_t even = pack_pair(taps[0], taps[2]);
                    const int16x2_t odd = pack_pair(taps[1], taps[3]);
                    if (p->filters8 != NULL) {
                        const uint8_t *f = p->filters8 + k;
                        while (n-- > 0) {
                            const uint32_t ww = *w++;
                            int32_t *a = acc + *f++;
                            *a = __smlad(__sxtb16((ww >> 8) | (ww << 24)), odd, __smlad(__sxtb16(ww), even, *a));
                        }
                    } else {
                        const uint16_t *f = p->filters16 + k;
                        while (n-- > 0) {
                            const uint32_t ww = *w++;
                            int32_t *a = acc + *f++;
                            *a = __smlad(__sxtb16((ww >> 8) | (ww << 24)), odd, __smlad(__sxtb16(ww), even, *a));
                        }
                    }
                    k += dtmm_pattern_count(p, g);
                }
            }
            dtmm_pattern_store(p, acc, out);
            out += p->cout;
        }
    }
    return DTMM_OK;
}

#else

dtmm_status dtmm_pattern_conv_s8_dsp(const dtmm_pattern_conv_s8_params *p, const int8_t *input, int8_t *output,
                                     int32_t *acc)
{
    return dtmm_pattern_conv_s8_c(p, input, output, acc);
}

#endif
