/*
 * dtmm_pattern_conv_s8_dsp.c - pattern conv with the Arm DSP extension
 * (Cortex-M4/M7/M33/M55), for PatDNN's 4-tap patterns on kernels of up to
 * DTMM_PATTERN_WINDOW_MAX positions (3x3, 4x4).
 *
 * Per output pixel and input channel the window is loaded once; each
 * pattern then packs its four taps into two int16x2 words (taps 0,2 and
 * 1,3).  Each kernel's four weights are one aligned word, split by SXTB16
 * into the same lanes, so a kernel is two SMLADs on its filter's
 * accumulator.  Other shapes, and cores without DSP, use the portable path.
 * See dtmm_ops.h.
 */
#include <string.h>

#include "dtmm_pattern_conv_internal.h"

#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP && defined(__GNUC__)

#include <arm_acle.h>

static inline int16x2_t pack_pair(int32_t lo, int32_t hi)
{
    return (int16x2_t)(((uint32_t)lo & 0xFFFFu) | ((uint32_t)hi << 16));
}

/* acc[f[m]] += kernel m's 4 weights . (even, odd) for the n kernels of one group; returns the next weights. */
static inline const uint32_t *group8(int32_t *restrict acc, const uint32_t *w, const uint8_t *f, int32_t n,
                                     int16x2_t even, int16x2_t odd)
{
    while (n-- > 0) {
        const uint32_t ww = *w++;
        int32_t *a = acc + *f++;
        *a = __smlad(__sxtb16((ww >> 8) | (ww << 24)), odd, __smlad(__sxtb16(ww), even, *a));
    }
    return w;
}

static inline const uint32_t *group16(int32_t *restrict acc, const uint32_t *w, const uint16_t *f, int32_t n,
                                      int16x2_t even, int16x2_t odd)
{
    while (n-- > 0) {
        const uint32_t ww = *w++;
        int32_t *a = acc + *f++;
        *a = __smlad(__sxtb16((ww >> 8) | (ww << 24)), odd, __smlad(__sxtb16(ww), even, *a));
    }
    return w;
}

dtmm_status dtmm_pattern_conv_s8_dsp(const dtmm_pattern_conv_s8_params *p, const int8_t *input, int8_t *output,
                                     int32_t *acc)
{
    if (p->n_taps != 4 || p->kh * p->kw > DTMM_PATTERN_WINDOW_MAX) {
        return dtmm_pattern_conv_s8_c(p, input, output, acc);
    }
    const int32_t cin = p->cin;
    const int32_t cout = p->cout;
    const int32_t n_patterns = p->n_patterns;
    const uint8_t *const positions = p->positions;
    const uint8_t *const counts8 = p->counts8;
    const uint16_t *const counts16 = p->counts16;
    int32_t pos_off[DTMM_PATTERN_WINDOW_MAX];
    int32_t win[DTMM_PATTERN_WINDOW_MAX];
    dtmm_pattern_position_offsets(p, pos_off);
    int8_t *out = output;
    for (int32_t oy = 0; oy < p->out_h; ++oy) {
        const int32_t y0 = oy * p->stride_h - p->pad_top;
        for (int32_t ox = 0; ox < p->out_w; ++ox) {
            const int32_t x0 = ox * p->stride_w - p->pad_left;
            const int8_t *window = dtmm_pattern_window(p, input, y0, x0);
            const uint32_t *w = (const uint32_t *)(const void *)p->weights;
            const uint8_t *f8 = p->filters8;
            const uint16_t *f16 = p->filters16;
            int32_t g = 0;
            memset(acc, 0, (size_t)cout * sizeof(int32_t));
            for (int32_t ci = 0; ci < cin; ++ci) {
                dtmm_pattern_window_taps(p, input, window, pos_off, y0, x0, ci, win);
                const uint8_t *pos = positions;
                for (int32_t pid = 0; pid < n_patterns; ++pid, ++g, pos += 4) {
                    const int32_t n = counts8 != NULL ? (int32_t)counts8[g] : (int32_t)counts16[g];
                    if (n == 0) {
                        continue;
                    }
                    const int16x2_t even = pack_pair(win[pos[0]], win[pos[2]]);
                    const int16x2_t odd = pack_pair(win[pos[1]], win[pos[3]]);
                    if (f8 != NULL) {
                        w = group8(acc, w, f8, n, even, odd);
                        f8 += n;
                    } else {
                        w = group16(acc, w, f16, n, even, odd);
                        f16 += n;
                    }
                }
            }
            dtmm_pattern_store(p, acc, out);
            out += cout;
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
