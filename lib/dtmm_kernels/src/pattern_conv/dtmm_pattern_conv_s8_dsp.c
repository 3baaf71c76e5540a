/*
 * dtmm_pattern_conv_s8_dsp.c - pattern conv with the Arm DSP extension
 * (Cortex-M4/M7/M33), for PatDNN's 4-tap patterns on kernels of up to
 * DTMM_PATTERN_WINDOW_MAX positions (3x3, 4x4).
 *
 * Two horizontally adjacent output pixels are computed together (one at the
 * right edge or where a window crosses the border).  Per input channel each
 * pixel's window is loaded once; each pattern packs its four taps into two
 * int16x2 words per pixel (taps 0,2 and 1,3).  A kernel's four weights are one
 * aligned word split by SXTB16 into the same lanes, so a kernel is four
 * SMLADs on its filter's pair of accumulators (LDRD/STRD): 8 MACs for about
 * 13 instructions.  Other shapes, and cores without DSP, use the portable
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

/* n_pix (1 or 2) pixels from (y0, x0), the second stride_w to the right; acc: [cout][2] int32. */
static void pixel_pair(const dtmm_pattern_conv_s8_params *p, const int8_t *input, int32_t y0, int32_t x0,
                       int32_t n_pix, const int32_t *pos_off, int32_t *restrict acc, int8_t *out)
{
    const int32_t cout = p->cout;
    const int32_t n_patterns = p->n_patterns;
    const uint8_t *const counts8 = p->counts8;
    const uint16_t *const counts16 = p->counts16;
    const int32_t x1 = x0 + p->stride_w;
    const int8_t *window0 = dtmm_pattern_window(p, input, y0, x0);
    const int8_t *window1 = n_pix > 1 ? dtmm_pattern_window(p, input, y0, x1) : NULL;
    int32_t win0[DTMM_PATTERN_WINDOW_MAX];
    int32_t win1[DTMM_PATTERN_WINDOW_MAX];
    const uint32_t *w = (const uint32_t *)(const void *)p->weights;
    const uint8_t *f8 = p->filters8;
    const uint16_t *f16 = p->filters16;
    int32_t g = 0;
    memset(acc, 0, (size_t)cout * 2 * sizeof(int32_t));
    for (int32_t ci = 0; ci < p->cin; ++ci) {
        dtmm_pattern_window_taps(p, input, window0, pos_off, y0, x0, ci, win0);
        if (n_pix > 1) {
            dtmm_pattern_window_taps(p, input, window1, pos_off, y0, x1, ci, win1);
        }
        const uint8_t *pos = p->positions;
        for (int32_t pid = 0; pid < n_patterns; ++pid, ++g, pos += 4) {
            int32_t n = counts8 != NULL ? (int32_t)counts8[g] : (int32_t)counts16[g];
            if (n == 0) {
                continue;
            }
            const int16x2_t e0 = pack_pair(win0[pos[0]], win0[pos[2]]);
            const int16x2_t o0 = pack_pair(win0[pos[1]], win0[pos[3]]);
            const int16x2_t e1 = n_pix > 1 ? pack_pair(win1[pos[0]], win1[pos[2]]) : e0;
            const int16x2_t o1 = n_pix > 1 ? pack_pair(win1[pos[1]], win1[pos[3]]) : o0;
#define DTMM_PATTERN_DSP_KERNEL(O)                                                                        \
    do {                                                                                                  \
        const uint32_t ww = *w++;                                                                         \
        const int16x2_t we = __sxtb16(ww);                                                                \
        const int16x2_t wo = __sxtb16((ww >> 8) | (ww << 24));                                            \
        int32_t *a = acc + 2 * (int32_t)(O);                                                              \
        const int32_t a0 = a[0];                                                                          \
        const int32_t a1 = a[1];                                                                          \
        a[0] = __smlad(wo, o0, __smlad(we, e0, a0));                                                      \
        a[1] = __smlad(wo, o1, __smlad(we, e1, a1));                                                      \
    } while (0)
            if (f8 != NULL) {
                while (n-- > 0) {
                    DTMM_PATTERN_DSP_KERNEL(*f8++);
                }
            } else {
                while (n-- > 0) {
                    DTMM_PATTERN_DSP_KERNEL(*f16++);
                }
            }
#undef DTMM_PATTERN_DSP_KERNEL
        }
    }
    for (int32_t k = 0; k < n_pix; ++k) {
        for (int32_t o = 0; o < cout; ++o) {
            out[k * cout + o] = dtmm_pattern_output(p, o, acc[2 * o + k]);
        }
    }
}

dtmm_status dtmm_pattern_conv_s8_dsp(const dtmm_pattern_conv_s8_params *p, const int8_t *input, int8_t *output,
                                     int32_t *acc)
{
    if (p->n_taps != 4 || p->kh * p->kw > DTMM_PATTERN_WINDOW_MAX) {
        return dtmm_pattern_conv_s8_c(p, input, output, acc);
    }
    int32_t pos_off[DTMM_PATTERN_WINDOW_MAX];
    dtmm_pattern_position_offsets(p, pos_off);
    int8_t *out = output;
    for (int32_t oy = 0; oy < p->out_h; ++oy) {
        const int32_t y0 = oy * p->stride_h - p->pad_top;
        int32_t ox = 0;
        while (ox < p->out_w) {
            const int32_t x0 = ox * p->stride_w - p->pad_left;
            /* a pair when both windows are inside (borders go one by one, checked) */
            const int pair = ox + 1 < p->out_w && dtmm_pattern_window(p, input, y0, x0) != NULL &&
                             dtmm_pattern_window(p, input, y0, x0 + p->stride_w) != NULL;
            const int32_t n = pair ? 2 : 1;
            pixel_pair(p, input, y0, x0, n, pos_off, acc, out);
            out += (size_t)n * (size_t)p->cout;
            ox += n;
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
