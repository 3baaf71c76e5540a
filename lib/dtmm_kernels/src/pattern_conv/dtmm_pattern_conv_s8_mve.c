/*
 * dtmm_pattern_conv_s8_mve.c - pattern conv with Helium MVE (Cortex-M55),
 * for 4-tap patterns on kernels of up to DTMM_PATTERN_WINDOW_MAX positions.
 *
 * Four horizontally adjacent output pixels are one block, one pixel per
 * int32 lane: per input channel the four windows are kh*kw predicated byte
 * gathers (lanes whose tap falls outside the input read the input zero
 * point), each pattern takes its four tap vectors from them, and each kernel
 * of the (channel, pattern) group is four
 * VMLA-by-scalar (its four weights) on its filter's accumulator vector, 16
 * MACs.  Accumulators are [cout][4] int32 in scratch; outputs are
 * requantized four pixels at a time and scattered.  Other shapes, and cores
 * without MVE, use the portable path.
 * See dtmm_ops.h.
 */
#include <string.h>

#include "dtmm_pattern_conv_internal.h"

#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)

#include <arm_mve.h>

#include "../common/dtmm_fixedpoint_mve.h"

#define BLOCK 4

/*
 * Up to four adjacent output pixels of row oy, from column ox: per kernel
 * position q its gather offsets (relative to `input`) and the lanes where the
 * tap lies inside the input; outside lanes read the input zero point.
 */
static void pixel_block(const dtmm_pattern_conv_s8_params *p, const int8_t *input, int32_t oy, int32_t ox,
                        int32_t n_pix, int32_t *restrict acc, int8_t *out)
{
    const int32_t cout = p->cout;
    const int32_t cin = p->cin;
    const int32_t n_patterns = p->n_patterns;
    const uint8_t *const counts8 = p->counts8;
    const uint16_t *const counts16 = p->counts16;
    const mve_pred16_t lanes = vctp32q((uint32_t)n_pix);
    const int32x4_t pad = vdupq_n_s32(-p->input_offset);
    const int32_t y0 = oy * p->stride_h - p->pad_top;
    /* x of each lane's window, and its first element's offset in the input */
    const int32x4_t x0 = vaddq_n_s32(vmulq_n_s32(vreinterpretq_s32_u32(vidupq_n_u32(0u, 1)), p->stride_w),
                                     ox * p->stride_w - p->pad_left);
    const int32x4_t base = vmulq_n_s32(vaddq_n_s32(x0, y0 * p->in_w), cin);
    int32x4_t offs[DTMM_PATTERN_WINDOW_MAX];
    mve_pred16_t valid[DTMM_PATTERN_WINDOW_MAX];
    for (int32_t ky = 0; ky < p->kh; ++ky) {
        const int32_t y = y0 + ky * p->dilation_h;
        const int row_ok = y >= 0 && y < p->in_h;
        for (int32_t kx = 0; kx < p->kw; ++kx) {
            const int32_t q = ky * p->kw + kx;
            const int32x4_t x = vaddq_n_s32(x0, kx * p->dilation_w);
            offs[q] = vaddq_n_s32(base, (ky * p->dilation_h * p->in_w + kx * p->dilation_w) * cin);
            valid[q] = row_ok ? (mve_pred16_t)(vcmpgeq_n_s32(x, 0) & vcmpltq_n_s32(x, p->in_w) & lanes) : 0;
        }
    }
    const int32_t n_pos = p->kh * p->kw;
    const uint32_t *w = (const uint32_t *)(const void *)p->weights;
    const uint8_t *f8 = p->filters8;
    const uint16_t *f16 = p->filters16;
    int32x4_t win[DTMM_PATTERN_WINDOW_MAX];
    int32_t g = 0;
    memset(acc, 0, (size_t)cout * BLOCK * sizeof(int32_t));
    for (int32_t ci = 0; ci < cin; ++ci) {
        for (int32_t q = 0; q < n_pos; ++q) { /* the four windows' taps at this channel, once */
            const uint32x4_t at = vreinterpretq_u32_s32(vaddq_n_s32(offs[q], ci));
            win[q] = vpselq_s32(vldrbq_gather_offset_z_s32(input, at, valid[q]), pad, valid[q]);
        }
        const uint8_t *pos = p->positions;
        for (int32_t pid = 0; pid < n_patterns; ++pid, ++g, pos += 4) {
            int32_t n = counts8 != NULL ? (int32_t)counts8[g] : (int32_t)counts16[g];
            if (n == 0) {
                continue;
            }
            const int32x4_t t0 = win[pos[0]];
            const int32x4_t t1 = win[pos[1]];
            const int32x4_t t2 = win[pos[2]];
            const int32x4_t t3 = win[pos[3]];
#define DTMM_PATTERN_MVE_KERNEL(O)                                                                        \
    do {                                                                                                  \
        const uint32_t ww = *w++;                                                                         \
        int32_t *a = acc + BLOCK * (int32_t)(O);                                                          \
        int32x4_t v = vldrwq_s32(a);                                                                      \
        v = vmlaq_n_s32(v, t0, (int8_t)ww);                                                               \
        v = vmlaq_n_s32(v, t1, (int8_t)(ww >> 8));                                                        \
        v = vmlaq_n_s32(v, t2, (int8_t)(ww >> 16));                                                       \
        v = vmlaq_n_s32(v, t3, (int8_t)(ww >> 24));                                                       \
        vstrwq_s32(a, v);                                                                                 \
    } while (0)
            if (f8 != NULL) {
                while (n-- > 0) {
                    DTMM_PATTERN_MVE_KERNEL(*f8++);
                }
            } else {
                while (n-- > 0) {
                    DTMM_PATTERN_MVE_KERNEL(*f16++);
                }
            }
#undef DTMM_PATTERN_MVE_KERNEL
        }
    }
    const uint32x4_t out_off = vmulq_n_u32(vidupq_n_u32(0u, 1), (uint32_t)cout);
    const int32x4_t lo = vdupq_n_s32(p->act_min);
    const int32x4_t hi = vdupq_n_s32(p->act_max);
    for (int32_t o = 0; o < cout; ++o) {
        int32x4_t v = vaddq_n_s32(vldrwq_s32(acc + BLOCK * o), p->bias[o]);
        v = dtmm_mve_requantize(v, vdupq_n_s32(p->multiplier[o]), vdupq_n_s32(p->shift[o]));
        v = vminq_s32(vmaxq_s32(vaddq_n_s32(v, p->output_offset), lo), hi);
        vstrbq_scatter_offset_p_s32(out + o, out_off, v, lanes);
    }
}

dtmm_status dtmm_pattern_conv_s8_mve(const dtmm_pattern_conv_s8_params *p, const int8_t *input, int8_t *output,
                                     int32_t *acc)
{
    if (p->n_taps != 4 || p->kh * p->kw > DTMM_PATTERN_WINDOW_MAX) {
        return dtmm_pattern_conv_s8_c(p, input, output, acc);
    }
    int8_t *out = output;
    for (int32_t oy = 0; oy < p->out_h; ++oy) {
        for (int32_t ox = 0; ox < p->out_w; ox += BLOCK) {
            const int32_t n = p->out_w - ox < BLOCK ? p->out_w - ox : BLOCK;
            pixel_block(p, input, oy, ox, n, acc, out);
            out += (size_t)n * (size_t)p->cout;
        }
    }
    return DTMM_OK;
}

#else

dtmm_status dtmm_pattern_conv_s8_mve(const dtmm_pattern_conv_s8_params *p, const int8_t *input, int8_t *output,
                                     int32_t *acc)
{
    return dtmm_pattern_conv_s8_c(p, input, output, acc);
}

#endif
