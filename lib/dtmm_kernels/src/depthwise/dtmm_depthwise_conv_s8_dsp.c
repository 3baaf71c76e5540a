/*
 * dtmm_depthwise_conv_s8_dsp.c - int8 DEPTHWISE_CONV_2D with the Arm DSP
 * extension (Cortex-M4/M7/M33), depth multiplier 1.
 *
 * Channels run four at a time, the channel group being the outer loop so
 * that its weights are prepared once for the whole image: a table on the
 * stack holds, per kernel tap, the tap's byte offset from the output
 * pixel's receptive-field origin and the group's four weights already
 * split by SXTB16 into even and odd int16 lanes.  Per tap the assembly
 * core then needs one LDM of the entry, one LDR of four input bytes, two
 * SXTAB16 (split into even/odd lanes and add the input offset in the same
 * instruction) and four SMLABB/SMLATT, taps unrolled by three: about 8.7
 * instructions per tap and group of 4 channels.  Pixels whose receptive
 * field leaves the input run the same core over each in-bounds row segment
 * of the table.  Requantization is TFLite-exact with the per-channel work
 * done once per group (dtmm_fixedpoint_pre.h).
 * Channels past the last multiple of 4 run a scalar loop.  Depth
 * multipliers > 1 and kernels of more than DW_DSP_MAX_TAPS taps use the
 * portable path.  No scratch memory (DW_DSP_MAX_TAPS * 12 bytes of stack).
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "dtmm_ops.h"

#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP && defined(__thumb2__) && defined(__GNUC__)

#include <arm_acle.h>

#include "../common/dtmm_fixedpoint.h"
#include "../common/dtmm_fixedpoint_pre.h"

#define DW_DSP_MAX_TAPS 32

typedef struct {
    int32_t off; /* bytes from the receptive-field origin (channel c) to the tap */
    int16x2_t we; /* weights of channels c, c+2 */
    int16x2_t wo; /* weights of channels c+1, c+3 */
} tap_entry;

typedef struct {
    uintptr_t x;          /* receptive-field origin, channel c (may lie outside the input) */
    const tap_entry *tap; /* first entry */
    int32_t n;            /* entries per kernel row, >= 1 */
    uint32_t off2;        /* input_offset in both int16 lanes */
    int32_t acc[4];       /* in/out: channels c..c+3 */
    int32_t rows;         /* kernel rows, >= 1 */
    int32_t skip;         /* bytes from the end of a row's entries to the next row's first */
} taps_args;

#define DW_TAP                                                                                     \
    "ldm r2!, {r8, r9, r10}\n\t"                                                                   \
    "ldr r11, [r1, r8]\n\t"                                                                        \
    "sxtab16 r8, r12, r11\n\t"                                                                     \
    "sxtab16 r11, r12, r11, ror #8\n\t"                                                            \
    "smlabb r4, r9, r8, r4\n\t"                                                                    \
    "smlatt r6, r9, r8, r6\n\t"                                                                    \
    "smlabb r5, r10, r11, r5\n\t"                                                                  \
    "smlatt r7, r10, r11, r7\n\t"

/* acc[k] += sum over rows x n entries of w[k] * (x[k] + input_offset).
 * Naked assembly: the 14 live values do not fit C's register allocation. */
__attribute__((naked, noinline)) static void dw_taps(__attribute__((unused)) taps_args *a)
{
    __asm__ volatile("push {r4-r11, lr}\n\t"
                     "ldm r0, {r1, r2, r3, r12}\n\t"
                     "add r4, r0, #16\n\t"
                     "ldm r4, {r4, r5, r6, r7}\n\t"
                     "ldr lr, [r0, #32]\n\t"
                     "0:\n\t"
                     "ldr r3, [r0, #8]\n\t"
                     "subs r3, r3, #3\n\t"
                     "blt 3f\n\t"
                     "1:\n\t" DW_TAP DW_TAP DW_TAP "subs r3, r3, #3\n\t"
                     "bge 1b\n\t"
                     "3:\n\t"
                     "adds r3, r3, #3\n\t"
                     "beq 5f\n\t"
                     "4:\n\t" DW_TAP "subs r3, r3, #1\n\t"
                     "bne 4b\n\t"
                     "5:\n\t"
                     "ldr r3, [r0, #36]\n\t"
                     "add r2, r2, r3\n\t"
                     "subs lr, lr, #1\n\t"
                     "bne 0b\n\t"
                     "add r0, r0, #16\n\t"
                     "stm r0, {r4, r5, r6, r7}\n\t"
                     "pop {r4-r11, pc}\n\t");
}

/* First kernel index k in [0, n) with 0 <= origin + k*dil < limit, and one past the last. */
static void tap_range(int32_t origin, int32_t dil, int32_t n, int32_t limit, int32_t *start, int32_t *end)
{
    int32_t s = 0;
    if (origin < 0) {
        s = (-origin + dil - 1) / dil;
    }
    int32_t e = n;
    if (origin + (n - 1) * dil >= limit) {
        e = limit - origin <= 0 ? 0 : (limit - origin + dil - 1) / dil;
    }
    if (e < s) {
        e = s;
    }
    *start = s;
    *end = e;
}

static inline int8_t requant(const dtmm_depthwise_conv_s8_params *p, int32_t acc, int32_t c)
{
    const int32_t v = dtmm_fp_add_wrap(dtmm_fp_requantize(acc, p->multiplier[c], p->shift[c]), p->output_offset);
    return dtmm_fp_clamp_s8(v, p->act_min, p->act_max);
}

/* Requantization of one channel of the current group, precomputed once per group. */
typedef struct {
    dtmm_fp_pre pre;
    int32_t fast; /* dtmm_fp_pre_ok */
    int32_t multiplier, shift;
} chan_q;

/* Requantized, offset, not yet clamped. */
static inline int32_t requant_pre(const chan_q *q, int32_t acc, int32_t out_off)
{
    const int32_t r = q->fast ? dtmm_fp_pre_apply(acc, &q->pre) : dtmm_fp_requantize(acc, q->multiplier, q->shift);
    return dtmm_fp_add_wrap(r, out_off);
}

/* Stores 4 outputs; locals, because int8 stores may alias *p for the compiler. */
static inline void store4(int8_t *y, const chan_q *cq, const int32_t *acc, int32_t out_off, int32_t lo, int32_t hi,
                          int full)
{
    const int32_t v0 = requant_pre(&cq[0], acc[0], out_off);
    const int32_t v1 = requant_pre(&cq[1], acc[1], out_off);
    const int32_t v2 = requant_pre(&cq[2], acc[2], out_off);
    const int32_t v3 = requant_pre(&cq[3], acc[3], out_off);
    if (full) { /* activation range = int8 range: one SSAT each */
        y[0] = (int8_t)__ssat(v0, 8);
        y[1] = (int8_t)__ssat(v1, 8);
        y[2] = (int8_t)__ssat(v2, 8);
        y[3] = (int8_t)__ssat(v3, 8);
    } else {
        y[0] = dtmm_fp_clamp_s8(v0, lo, hi);
        y[1] = dtmm_fp_clamp_s8(v1, lo, hi);
        y[2] = dtmm_fp_clamp_s8(v2, lo, hi);
        y[3] = dtmm_fp_clamp_s8(v3, lo, hi);
    }
}

static inline uint32_t load_u32(const int8_t *ptr)
{
    uint32_t v;
    memcpy(&v, ptr, sizeof v);
    return v;
}

dtmm_status dtmm_depthwise_conv_s8_dsp(const dtmm_depthwise_conv_s8_params *p, const int8_t *input, int8_t *output)
{
    const int32_t taps = p->kh * p->kw;
    if (p->depth_multiplier != 1 || taps > DW_DSP_MAX_TAPS) {
        return dtmm_depthwise_conv_s8_c(p, input, output);
    }
    const int32_t ch = p->in_ch;
    const int32_t kw = p->kw;
    const int32_t n4 = ch & ~3;
    const size_t in_image = (size_t)p->in_h * (size_t)p->in_w * (size_t)ch;
    const size_t out_image = (size_t)p->out_h * (size_t)p->out_w * (size_t)ch;
    const uint32_t off2 = ((uint32_t)p->input_offset & 0xFFFFu) * 0x10001u;
    tap_entry tab[DW_DSP_MAX_TAPS];

    const int full = p->act_min <= -128 && p->act_max >= 127; /* clamp = SSAT #8 */
    const int32_t out_off = p->output_offset, act_lo = p->act_min, act_hi = p->act_max;
    for (int32_t c = 0; c < n4; c += 4) {
        chan_q cq[4];
        for (int32_t k = 0; k < 4; ++k) {
            cq[k].multiplier = p->multiplier[c + k];
            cq[k].shift = p->shift[c + k];
            cq[k].fast = dtmm_fp_pre_ok(cq[k].multiplier);
            cq[k].pre = dtmm_fp_pre_make(cq[k].multiplier, cq[k].shift);
        }
        for (int32_t t = 0; t < taps; ++t) {
            const int32_t ky = t / kw, kx = t % kw;
            const uint32_t w = load_u32(p->weights + (size_t)t * (size_t)ch + (size_t)c);
            tab[t].off = (ky * p->dilation_h * p->in_w + kx * p->dilation_w) * ch;
            tab[t].we = __sxtb16(w);
            tab[t].wo = __sxtb16((w >> 8) | (w << 24));
        }
        for (int32_t b = 0; b < p->batches; ++b) {
            const int8_t *in = input + (size_t)b * in_image;
            int8_t *y = output + (size_t)b * out_image + (size_t)c;
            for (int32_t oy = 0; oy < p->out_h; ++oy) {
                const int32_t iy0 = oy * p->stride_h - p->pad_top;
                int32_t ky_s, ky_e;
                tap_range(iy0, p->dilation_h, p->kh, p->in_h, &ky_s, &ky_e);
                for (int32_t ox = 0; ox < p->out_w; ++ox, y += ch) {
                    const int32_t ix0 = ox * p->stride_w - p->pad_left;
                    int32_t kx_s, kx_e;
                    tap_range(ix0, p->dilation_w, kw, p->in_w, &kx_s, &kx_e);
                    taps_args a;
                    /* integer arithmetic: the origin may lie outside the input */
                    a.x = (uintptr_t)in + (uintptr_t)(intptr_t)((iy0 * p->in_w + ix0) * ch + c);
                    a.off2 = off2;
                    a.acc[0] = p->bias[c];
                    a.acc[1] = p->bias[c + 1];
                    a.acc[2] = p->bias[c + 2];
                    a.acc[3] = p->bias[c + 3];
                    if (ky_s == 0 && ky_e == p->kh && kx_s == 0 && kx_e == kw) {
                        a.tap = tab; /* the whole table as one row */
                        a.n = taps;
                        a.rows = 1;
                        a.skip = 0;
                        dw_taps(&a);
                    } else if (kx_e > kx_s && ky_e > ky_s) {
                        a.tap = tab + ky_s * kw + kx_s;
                        a.n = kx_e - kx_s;
                        a.rows = ky_e - ky_s;
                        a.skip = (kw - a.n) * (int32_t)sizeof(tap_entry);
                        dw_taps(&a);
                    }
                    store4(y, cq, a.acc, out_off, act_lo, act_hi, full);
                }
            }
        }
    }
    /* the last ch % 4 channels */
    for (int32_t c = n4; c < ch; ++c) {
        for (int32_t b = 0; b < p->batches; ++b) {
            const int8_t *in = input + (size_t)b * in_image;
            int8_t *y = output + (size_t)b * out_image + (size_t)c;
            for (int32_t oy = 0; oy < p->out_h; ++oy) {
                const int32_t iy0 = oy * p->stride_h - p->pad_top;
                int32_t ky_s, ky_e;
                tap_range(iy0, p->dilation_h, p->kh, p->in_h, &ky_s, &ky_e);
                for (int32_t ox = 0; ox < p->out_w; ++ox, y += ch) {
                    const int32_t ix0 = ox * p->stride_w - p->pad_left;
                    int32_t kx_s, kx_e;
                    tap_range(ix0, p->dilation_w, kw, p->in_w, &kx_s, &kx_e);
                    int32_t acc = p->bias[c];
                    for (int32_t ky = ky_s; ky < ky_e; ++ky) {
                        const int32_t iy = iy0 + ky * p->dilation_h;
                        for (int32_t kx = kx_s; kx < kx_e; ++kx) {
                            const int32_t ix = ix0 + kx * p->dilation_w;
                            const int32_t xv = in[((size_t)iy * (size_t)p->in_w + (size_t)ix) * (size_t)ch + (size_t)c];
                            acc += (int32_t)p->weights[((size_t)ky * (size_t)kw + (size_t)kx) * (size_t)ch + (size_t)c] *
                                   (xv + p->input_offset);
                        }
                    }
                    *y = requant(p, acc, c);
                }
            }
        }
    }
    return DTMM_OK;
}

#else /* no DSP extension: keep the symbol, forward to the portable path */

dtmm_status dtmm_depthwise_conv_s8_dsp(const dtmm_depthwise_conv_s8_params *p, const int8_t *input, int8_t *output)
{
    return dtmm_depthwise_conv_s8_c(p, input, output);
}

#endif
