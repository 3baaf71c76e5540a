/*
 * dtmm_depthwise_conv_s8_dsp.c - int8 DEPTHWISE_CONV_2D with the Arm DSP
 * extension (Cortex-M4/M7/M33).
 *
 * Plane path (3x3 kernels on maps large enough to amortize it, and every
 * depth multiplier > 1): one input channel at a time goes into an int16
 * plane of at most DW_DSP_PLANE elements (larger maps: in strips of output
 * rows) with the input offset added and zeros around it, rows along the
 * output's longer side (dtmm_depthwise_plane.h), so border
 * pixels cost what inner ones do.  3x3 stride 1 computes two adjacent
 * outputs per step from three word loads per kernel row (SMLAD on tap
 * pairs, SMLABB/SMLATB on the third): 21 instructions for 18 MACs; 3x3
 * stride 2 one output from an aligned pair and a halfword per kernel
 * row; other shapes one SMLABB per tap.  Requantization: SMMULR of 2*acc
 * and a shift-add rounding (7 instructions, exact while |acc| < 2^30,
 * checked per channel), else dtmm_fixedpoint_pre.h.  A plane serves the
 * depth_multiplier output channels of its input channel.
 *
 * Channel-group path (the other ops with depth multiplier 1 and at most
 * DW_DSP_MAX_TAPS taps; otherwise the portable path): channels run four
 * at a time, the group being the outer loop so that its weights are
 * prepared once: a stack table holds, per kernel tap, the tap's byte
 * offset from the receptive-field origin and the group's four weights
 * split by SXTB16 into even and odd int16 lanes.  Per tap the assembly
 * core needs one LDM of the entry, one LDR of four input bytes, two
 * SXTAB16 (split and add the input offset) and four SMLABB/SMLATT, taps
 * unrolled by three: about 8.7 instructions per tap and group.  Pixels
 * whose receptive field leaves the input run the same core over each
 * in-bounds row segment of the table.  Channels past the last multiple of
 * 4 run a scalar loop.  Small maps (at most DW_DSP_PX output pixels): a
 * table of each pixel's receptive field is built once for all groups, and
 * a group's pixels run in one loop per requantization mode (SMMULR form
 * when every channel has a right shift and |acc| < 2^30 is guaranteed).
 *
 * No scratch memory; stack: 2 * DW_DSP_PLANE bytes (plane path) or
 * DW_DSP_MAX_TAPS * 12 + DW_DSP_PX * 16 bytes (1.4 KB).
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "dtmm_ops.h"
#include "../common/dtmm_tap_range.h"

#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP && defined(__thumb2__) && defined(__GNUC__)

#include <arm_acle.h>

#include "../common/dtmm_fixedpoint.h"
#include "../common/dtmm_fixedpoint_pre.h"
#include "dtmm_depthwise_plane.h"

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

/* Small maps (at most DW_DSP_PX output pixels): each pixel's receptive field once for all groups. */
#define DW_DSP_PX 64
typedef struct {
    int32_t x;           /* bytes from the input (channel 0) to the receptive-field origin */
    int32_t skip;        /* taps_args.skip */
    int16_t t0;          /* first in-bounds tap (table index) */
    int16_t n, rows;     /* in-bounds kernel columns, rows (rows 0: no tap) */
} dw_px;

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

/*
 * Plane path: one input channel at a time into an int16 plane with the
 * input offset already added and zeros around it (padding taps then add
 * exactly 0), rows along the output's longer side (dtmm_depthwise_plane.h).
 * 3x3 stride 1: two adjacent outputs per step share their kernel rows; per
 * kernel row three word loads (x0x1, x2x3 and the unaligned x1x2) and two
 * SMLAD + SMLABB/SMLATB: 21 instructions for 18 MACs.  3x3 stride 2: one
 * aligned pair (SMLAD) and one halfword (SMLABB) per kernel row.  Other
 * shapes: one SMLABB per tap.  Requantization per channel as above.
 */
#define DW_DSP_PLANE 2048 /* int16 elements of the plane (4 KB of stack) */

static inline uint32_t ld32(const int16_t *ptr)
{
    uint32_t v;
    memcpy(&v, ptr, sizeof v); /* LDR, unaligned allowed */
    return v;
}

static inline uint32_t pack16(int32_t lo, int32_t hi)
{
    return ((uint32_t)lo & 0xFFFFu) | ((uint32_t)hi << 16);
}

typedef struct {
    dtmm_dw_plane o;
    int32_t wp;    /* plane width */
    int32_t strip; /* output rows per strip of the plane (all of them when it fits) */
    int kind;      /* 1: 3x3 stride 1, 2: 3x3 stride 2, 0: other */
} dsp_plane;

static int dsp_plane_fits(const dtmm_depthwise_conv_s8_params *p, dsp_plane *pg)
{
    /* Where the channel-group path is as fast (measured on qemu-m4): tiny maps, whose per-channel
     * plane set-up is not amortized, and kernels other than 3x3.  It has depth multiplier 1 only.
     * Checked first: no cost for the ops that stay there. */
    const int32_t outputs = p->out_h * p->out_w;
    const int k33 = p->kh == 3 && p->kw == 3 && p->dilation_h == 1 && p->dilation_w == 1;
    const int s1 = p->stride_h == 1 && p->stride_w == 1, s2 = p->stride_h == 2 && p->stride_w == 2;
    if (p->depth_multiplier == 1 && !(k33 && ((s1 && outputs >= 16) || (s2 && outputs >= 64)))) {
        return 0;
    }
    dtmm_dw_plane *g = &pg->o;
    dtmm_dw_plane_orient(p, g);
    pg->kind = k33 && s1 ? 1 : k33 && s2 ? 2 : 0;
    pg->wp = (g->out_w - 1) * g->sw + (g->kw - 1) * g->dw + 2; /* +1: the pair loads of a last output */
    /* plane rows of a strip of R output rows: (R - 1) * sh + (kh - 1) * dh + 1, +1 element of slack */
    const int32_t rows_max = (DW_DSP_PLANE - 2) / pg->wp, kspan = (g->kh - 1) * g->dh + 1;
    if (rows_max < kspan || p->kh * p->kw > DW_DSP_MAX_TAPS) {
        return 0;
    }
    pg->strip = (rows_max - kspan) / g->sh + 1;
    if (pg->strip > g->out_h) pg->strip = g->out_h;
    return 1;
}

/* Plane rows for output rows [oy0, oy0 + rows) of channel ic (in points at it), input offset added;
 * rows outside the input are zeroed when the plane runs in strips (else they stay zero). */
static void dsp_plane_fill(const dsp_plane *pg, const int8_t *in, int32_t input_offset, int16_t *plane, int32_t oy0,
                           int32_t rows)
{
    const dtmm_dw_plane *g = &pg->o;
    int32_t ncols = g->in_w;
    if (ncols > pg->wp - g->pl) ncols = pg->wp - g->pl;
    const int32_t prows = (rows - 1) * g->sh + (g->kh - 1) * g->dh + 1;
    const int32_t first = oy0 * g->sh - g->pt; /* input row of plane row 0 */
    int32_t j0 = first < 0 ? -first : 0, j1 = g->in_h - first; /* plane rows holding input rows */
    if (j1 > prows) j1 = prows;
    if (j1 < j0) j1 = j0;
    if (pg->strip < g->out_h) { /* strips: rows outside the input may hold an earlier strip's values */
        for (int32_t j = 0; j < prows; ++j) {
            if (j < j0 || j >= j1) {
                memset(plane + j * pg->wp + g->pl, 0, sizeof(int16_t) * (size_t)ncols);
            }
        }
    }
    const int32_t px = g->in_px;
    const int8_t *src_row = in + (size_t)(first + j0) * (size_t)g->in_rs;
    int16_t *dst = plane + j0 * pg->wp + g->pl;
    for (int32_t j = j0; j < j1; ++j, src_row += g->in_rs, dst += pg->wp) {
        const int8_t *src = src_row;
        int32_t k = 0;
        for (; k + 2 <= ncols; k += 2, src += 2 * px) {
            dst[k] = (int16_t)(src[0] + input_offset);
            dst[k + 1] = (int16_t)(src[px] + input_offset);
        }
        if (k < ncols) {
            dst[k] = (int16_t)(src[0] + input_offset);
        }
    }
}

/* Four channels' planes at once (ic .. ic+3, in points at ic), planes ps elements apart, whole
 * planes only (no strips): one word load of 4 channels, split by SXTAB16 with the input offset
 * added, 4 halfword stores; half the fill instructions of one plane at a time. */
static void dsp_plane_fill4(const dsp_plane *pg, const int8_t *in, int32_t input_offset, int16_t *plane, int32_t ps)
{
    const dtmm_dw_plane *g = &pg->o;
    int32_t ncols = g->in_w;
    if (ncols > pg->wp - g->pl) ncols = pg->wp - g->pl;
    const uint32_t off2 = ((uint32_t)input_offset & 0xFFFFu) * 0x10001u;
    const int32_t first = -g->pt; /* input row of plane row 0 */
    int32_t j0 = first < 0 ? -first : 0, j1 = g->in_h - first;
    const int32_t prows = (g->out_h - 1) * g->sh + (g->kh - 1) * g->dh + 1;
    if (j1 > prows) j1 = prows;
    const int32_t px = g->in_px;
    const int8_t *src_row = in + (size_t)(first + j0) * (size_t)g->in_rs;
    int16_t *dst = plane + j0 * pg->wp + g->pl;
    for (int32_t j = j0; j < j1; ++j, src_row += g->in_rs, dst += pg->wp) {
        const int8_t *src = src_row;
        int16_t *d = dst;
        for (int32_t k = 0; k < ncols; ++k, src += px, ++d) {
            const uint32_t x4 = load_u32(src);
            const uint32_t even = __sxtab16(off2, x4), odd = __sxtab16(off2, (x4 >> 8) | (x4 << 24));
            d[0] = (int16_t)even;
            d[ps] = (int16_t)odd;
            d[2 * ps] = (int16_t)(even >> 16);
            d[3 * ps] = (int16_t)(odd >> 16);
        }
    }
}

/*
 * Requantization of one output, three ways (RQ_* constant after inlining):
 * RQ_FAST_FULL / RQ_FAST_CLAMP when the channel has a right shift r of at
 * most 22 and its accumulators are bounded by 2^30 (|bias| + 256 * sum |w|,
 * checked once per channel): SaturatingRoundingDoublingHighMul is then
 * exactly SMMULR of 2*acc (no saturation case) -- the caller doubles bias
 * and weights, so the sum arrives doubled -- and TFLite's rounding right
 * shift (half away from zero) plus the output offset is
 * (v + (v >> 31) + 2^(r-1) + (output_offset << r)) >> r, with no overflow
 * (|v| <= 2^30, the constant below 2^30): 4 instructions, then SSAT #8 and,
 * unless the activation range is all of int8, the clamp.  RQ_SLOW:
 * dtmm_fp_requantize() semantics via requant_pre(), undoubled sums.
 */
enum { RQ_FAST_FULL, RQ_FAST_CLAMP, RQ_SLOW };

typedef struct {
    chan_q q;
    int32_t right, round; /* right shift; fast modes: 2^(right-1) + (out_off << right) */
    int32_t out_off, lo, hi;
} chan_rq;

static inline __attribute__((always_inline)) int8_t rq_one(const chan_rq *r, int32_t acc, int mode)
{
    if (mode == RQ_SLOW) {
        return dtmm_fp_clamp_s8(requant_pre(&r->q, acc, r->out_off), r->lo, r->hi);
    }
    int32_t v;
    __asm__("smmulr %0, %1, %2" : "=r"(v) : "r"(acc), "r"(r->q.multiplier)); /* acc doubled: (2*sum*m + 2^31) >> 32 */
    int32_t o = (v + (v >> 31) + r->round) >> r->right;
    o = __ssat(o, 8);
    if (mode == RQ_FAST_CLAMP) {
        o = o < r->lo ? r->lo : o;
        o = o > r->hi ? r->hi : o;
    }
    return (int8_t)o;
}

/* 3x3 kernels (kind 1: stride 1, two outputs a step; kind 2: stride 2) of one channel. */
static inline __attribute__((always_inline)) void dsp_rows33(const dsp_plane *pg, const int16_t *plane,
                                                             const uint32_t *wq, int32_t bias, const chan_rq *r,
                                                             int8_t *y0, int32_t rows, int mode)
{
    const dtmm_dw_plane *g = &pg->o;
    const int32_t wp = pg->wp, out_w = g->out_w, out_px = g->out_px;
    const uint32_t w01a = wq[0], w2a = wq[1], w01b = wq[2], w2b = wq[3], w01c = wq[4], w2c = wq[5];
    for (int32_t oy = 0; oy < rows; ++oy) {
        const int16_t *r0 = plane + oy * g->sh * wp, *r1 = r0 + wp, *r2 = r1 + wp;
        int8_t *y = y0 + (size_t)oy * (size_t)g->out_rs;
        int32_t ox = 0;
        if (pg->kind == 1) {
            for (; ox + 2 <= out_w; ox += 2, r0 += 2, r1 += 2, r2 += 2, y += 2 * out_px) {
                int32_t a0 = bias, a1 = bias;
                uint32_t x01 = ld32(r0), x23 = ld32(r0 + 2), x12 = ld32(r0 + 1);
                a0 = __smlabb(x23, w2a, __smlad(x01, w01a, a0));
                a1 = __smlatb(x23, w2a, __smlad(x12, w01a, a1));
                x01 = ld32(r1), x23 = ld32(r1 + 2), x12 = ld32(r1 + 1);
                a0 = __smlabb(x23, w2b, __smlad(x01, w01b, a0));
                a1 = __smlatb(x23, w2b, __smlad(x12, w01b, a1));
                x01 = ld32(r2), x23 = ld32(r2 + 2), x12 = ld32(r2 + 1);
                a0 = __smlabb(x23, w2c, __smlad(x01, w01c, a0));
                a1 = __smlatb(x23, w2c, __smlad(x12, w01c, a1));
                y[0] = rq_one(r, a0, mode);
                y[out_px] = rq_one(r, a1, mode);
            }
        }
        const int32_t step = g->sw;
        for (; ox < out_w; ++ox, r0 += step, r1 += step, r2 += step, y += out_px) {
            int32_t a = bias;
            a = __smlabb(ld32(r0 + 2), w2a, __smlad(ld32(r0), w01a, a));
            a = __smlabb(ld32(r1 + 2), w2b, __smlad(ld32(r1), w01b, a));
            a = __smlabb(ld32(r2 + 2), w2c, __smlad(ld32(r2), w01c, a));
            *y = rq_one(r, a, mode);
        }
    }
}

/* Output rows [oy0, oy0 + rows) of channel c from the plane (strip) holding their inputs. */
static void dsp_plane_channel(const dtmm_depthwise_conv_s8_params *p, const dsp_plane *pg, const int16_t *plane,
                              const int32_t *woff, int8_t *out, int32_t c, int32_t oy0, int32_t rows)
{
    const dtmm_dw_plane *g = &pg->o;
    const int32_t wp = pg->wp, out_w = g->out_w, out_px = g->out_px, taps = g->kh * g->kw;
    const int8_t *wc = p->weights + c;
    int32_t w[DW_DSP_MAX_TAPS];
    int32_t wabs = 0;
    for (int32_t t = 0; t < taps; ++t) {
        w[t] = wc[woff[t]];
        wabs += w[t] < 0 ? -w[t] : w[t];
    }
    chan_rq r;
    r.q.multiplier = p->multiplier[c];
    r.q.shift = p->shift[c];
    r.q.fast = dtmm_fp_pre_ok(r.q.multiplier);
    r.q.pre = dtmm_fp_pre_make(r.q.multiplier, r.q.shift);
    r.right = -r.q.shift;
    r.out_off = p->output_offset, r.lo = p->act_min, r.hi = p->act_max;
    int32_t bias = p->bias[c];
    const int64_t bound = (int64_t)(bias < 0 ? -(int64_t)bias : bias) + 256 * (int64_t)wabs;
    const int fast = r.right > 0 && r.right <= 22 && bound < ((int64_t)1 << 30);
    const int mode = !fast ? RQ_SLOW : (r.lo <= -128 && r.hi >= 127) ? RQ_FAST_FULL : RQ_FAST_CLAMP;
    r.round = fast ? (int32_t)(1u << (r.right - 1)) + (int32_t)((uint32_t)r.out_off << r.right) : 0;
    int8_t *y0 = out + (size_t)oy0 * (size_t)g->out_rs + (size_t)c;
    if (pg->kind != 0) {
        const int32_t d = fast ? 2 : 1; /* fast modes take doubled sums (rq_one) */
        const uint32_t wq[6] = {pack16(d * w[0], d * w[1]), (uint32_t)(d * w[2]), pack16(d * w[3], d * w[4]),
                                (uint32_t)(d * w[5]), pack16(d * w[6], d * w[7]), (uint32_t)(d * w[8])};
        bias *= d;
        switch (mode) {
        case RQ_FAST_FULL: dsp_rows33(pg, plane, wq, bias, &r, y0, rows, RQ_FAST_FULL); break;
        case RQ_FAST_CLAMP: dsp_rows33(pg, plane, wq, bias, &r, y0, rows, RQ_FAST_CLAMP); break;
        default: dsp_rows33(pg, plane, wq, bias, &r, y0, rows, RQ_SLOW); break;
        }
        return;
    }
    int32_t off[DW_DSP_MAX_TAPS];
    for (int32_t ky = 0, t = 0; ky < g->kh; ++ky) {
        for (int32_t kx = 0; kx < g->kw; ++kx, ++t) {
            off[t] = ky * g->dh * wp + kx * g->dw;
        }
    }
    for (int32_t oy = 0; oy < rows; ++oy) {
        const int16_t *row = plane + oy * g->sh * wp;
        int8_t *y = y0 + (size_t)oy * (size_t)g->out_rs;
        for (int32_t ox = 0; ox < out_w; ++ox, row += g->sw, y += out_px) {
            int32_t a = bias;
            for (int32_t t = 0; t < taps; ++t) {
                a = __smlabb((uint32_t)(int32_t)row[off[t]], (uint32_t)w[t], a);
            }
            *y = rq_one(&r, a, RQ_SLOW);
        }
    }
}

__attribute__((noinline)) static void dsp_plane_path(const dtmm_depthwise_conv_s8_params *p, const dsp_plane *pg,
                                                    const int8_t *input, int8_t *output)
{
    int16_t plane[DW_DSP_PLANE];
    const int32_t hs = (pg->strip - 1) * pg->o.sh + (pg->o.kh - 1) * pg->o.dh + 1; /* plane rows */
    memset(plane, 0, sizeof(int16_t) * (size_t)(pg->wp * hs + 2));
    const dtmm_dw_plane *g = &pg->o;
    int32_t woff[DW_DSP_MAX_TAPS]; /* weights offset of each plane-order tap */
    for (int32_t ky = 0, t = 0; ky < g->kh; ++ky) {
        for (int32_t kx = 0; kx < g->kw; ++kx, ++t) {
            woff[t] = (ky * g->tap_ky + kx * g->tap_kx) * p->out_ch;
        }
    }
    const size_t in_image = (size_t)p->in_h * (size_t)p->in_w * (size_t)p->in_ch;
    const size_t out_image = (size_t)p->out_h * (size_t)p->out_w * (size_t)p->out_ch;
    /* whole planes four at a time when four fit (their zero borders are written once) */
    const int32_t ps = (pg->wp * hs + 2 + 1) & ~1, group4 = pg->strip == g->out_h && 4 * ps <= DW_DSP_PLANE;
    if (group4) {
        memset(plane, 0, sizeof(int16_t) * (size_t)(4 * ps));
    }
    for (int32_t b = 0; b < p->batches; ++b) {
        int32_t ic = 0;
        for (; group4 && ic + 4 <= p->in_ch; ic += 4) {
            dsp_plane_fill4(pg, input + (size_t)b * in_image + (size_t)ic, p->input_offset, plane, ps);
            for (int32_t k = 0; k < 4; ++k) {
                for (int32_t m = 0; m < p->depth_multiplier; ++m) {
                    dsp_plane_channel(p, pg, plane + k * ps, woff, output + (size_t)b * out_image,
                                      (ic + k) * p->depth_multiplier + m, 0, g->out_h);
                }
            }
        }
        for (; ic < p->in_ch; ++ic) {
            for (int32_t oy0 = 0; oy0 < g->out_h; oy0 += pg->strip) {
                const int32_t rows = g->out_h - oy0 < pg->strip ? g->out_h - oy0 : pg->strip;
                dsp_plane_fill(pg, input + (size_t)b * in_image + (size_t)ic, p->input_offset, plane, oy0, rows);
                for (int32_t m = 0; m < p->depth_multiplier; ++m) {
                    dsp_plane_channel(p, pg, plane, woff, output + (size_t)b * out_image, ic * p->depth_multiplier + m,
                                      oy0, rows);
                }
            }
        }
    }
}

/* The pixels of one channel group on a small map (pixel table), requantization mode constant. */
typedef struct {
    const dw_px *pxt;
    int32_t npx;
    const tap_entry *tab;
    uintptr_t xc;       /* input + c */
    uint32_t off2;
    const int32_t *bias; /* of channel c */
    int8_t *y;          /* output + c */
    int32_t ch;
    const chan_rq *rq;  /* RQ_FAST_*: 4 channels */
    const chan_q *cq;   /* RQ_SLOW: 4 channels */
    int full;           /* RQ_SLOW: activation range = int8 range */
} group_args;

static inline __attribute__((always_inline)) void group_pixels(const group_args *g, int mode)
{
    const int32_t b0 = g->bias[0], b1 = g->bias[1], b2 = g->bias[2], b3 = g->bias[3];
    const chan_rq *rq = g->rq;
    int8_t *y = g->y;
    for (int32_t i = 0; i < g->npx; ++i, y += g->ch) {
        const dw_px *e = &g->pxt[i];
        taps_args a;
        a.acc[0] = b0;
        a.acc[1] = b1;
        a.acc[2] = b2;
        a.acc[3] = b3;
        if (e->rows > 0) {
            a.x = g->xc + (uintptr_t)(intptr_t)e->x; /* integer arithmetic: may lie outside the input */
            a.off2 = g->off2;
            a.tap = g->tab + e->t0;
            a.n = e->n;
            a.rows = e->rows;
            a.skip = e->skip;
            dw_taps(&a);
        }
        if (mode == RQ_SLOW) {
            store4(y, g->cq, a.acc, rq[0].out_off, rq[0].lo, rq[0].hi, g->full);
        } else {
            y[0] = rq_one(&rq[0], 2 * a.acc[0], mode);
            y[1] = rq_one(&rq[1], 2 * a.acc[1], mode);
            y[2] = rq_one(&rq[2], 2 * a.acc[2], mode);
            y[3] = rq_one(&rq[3], 2 * a.acc[3], mode);
        }
    }
}

__attribute__((noinline)) static void group_pixels_full(const group_args *g)
{
    group_pixels(g, RQ_FAST_FULL);
}

__attribute__((noinline)) static void group_pixels_clamp(const group_args *g)
{
    group_pixels(g, RQ_FAST_CLAMP);
}

__attribute__((noinline)) static void group_pixels_slow(const group_args *g)
{
    group_pixels(g, RQ_SLOW);
}

/* Channel-group path, or the portable one when it does not apply. */
__attribute__((noinline)) static dtmm_status group_path(const dtmm_depthwise_conv_s8_params *p, const int8_t *input,
                                                       int8_t *output)
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
    /* small maps: each pixel's receptive field (origin, in-bounds taps) once for all groups */
    const int32_t npx = p->out_h * p->out_w;
    dw_px pxt[DW_DSP_PX];
    const int tabled = npx <= DW_DSP_PX;
    if (tabled) {
        for (int32_t oy = 0, i = 0; oy < p->out_h; ++oy) {
            const int32_t iy0 = oy * p->stride_h - p->pad_top;
            int32_t ky_s, ky_e;
            dtmm_tap_range(iy0, p->dilation_h, p->kh, p->in_h, &ky_s, &ky_e);
            for (int32_t ox = 0; ox < p->out_w; ++ox, ++i) {
                const int32_t ix0 = ox * p->stride_w - p->pad_left;
                int32_t kx_s, kx_e;
                dtmm_tap_range(ix0, p->dilation_w, kw, p->in_w, &kx_s, &kx_e);
                pxt[i].x = (iy0 * p->in_w + ix0) * ch;
                pxt[i].t0 = (int16_t)(ky_s * kw + kx_s);
                pxt[i].n = (int16_t)(kx_e - kx_s);
                pxt[i].rows = (int16_t)(ky_e - ky_s);
                if (pxt[i].n <= 0 || pxt[i].rows <= 0) pxt[i].rows = 0;
                if (pxt[i].n == kw && pxt[i].rows == p->kh) { /* the whole table as one row */
                    pxt[i].n = (int16_t)taps;
                    pxt[i].rows = 1;
                }
                pxt[i].skip = (kw - pxt[i].n) * (int32_t)sizeof(tap_entry);
            }
        }
    }
    /* the fast requantization needs |acc| < 2^30: |bias| < bound_w, as |x + input_offset| <= xmax,
     * |w| <= 128 and taps <= DW_DSP_MAX_TAPS */
    const int64_t xmax = 128 + (int64_t)(p->input_offset < 0 ? -(int64_t)p->input_offset : p->input_offset);
    const int64_t bound_w = ((int64_t)1 << 30) - xmax * 128 * taps;
    for (int32_t c = 0; c < n4; c += 4) {
        chan_q cq[4];
        chan_rq rq[4];
        for (int32_t t = 0; t < taps; ++t) {
            const int32_t ky = t / kw, kx = t % kw;
            const uint32_t w = load_u32(p->weights + (size_t)t * (size_t)ch + (size_t)c);
            tab[t].off = (ky * p->dilation_h * p->in_w + kx * p->dilation_w) * ch;
            tab[t].we = __sxtb16(w);
            tab[t].wo = __sxtb16((w >> 8) | (w << 24));
        }
        int fast = tabled;
        for (int32_t k = 0; fast && k < 4; ++k) {
            const int32_t b = p->bias[c + k];
            rq[k].q.multiplier = p->multiplier[c + k];
            rq[k].right = -p->shift[c + k];
            rq[k].out_off = out_off, rq[k].lo = act_lo, rq[k].hi = act_hi;
            fast = rq[k].right > 0 && rq[k].right <= 22 && (b < 0 ? -(int64_t)b : (int64_t)b) < bound_w;
            /* rq_one() takes 2*acc and the output offset inside the rounding constant */
            rq[k].round = fast ? (int32_t)(1u << (rq[k].right - 1)) + (int32_t)((uint32_t)out_off << rq[k].right) : 0;
        }
        if (!fast) {
            for (int32_t k = 0; k < 4; ++k) {
                cq[k].multiplier = p->multiplier[c + k];
                cq[k].shift = p->shift[c + k];
                cq[k].fast = dtmm_fp_pre_ok(cq[k].multiplier);
                cq[k].pre = dtmm_fp_pre_make(cq[k].multiplier, cq[k].shift);
            }
            rq[0].out_off = out_off, rq[0].lo = act_lo, rq[0].hi = act_hi; /* read by group_pixels_slow() */
        }
        for (int32_t b = 0; b < p->batches; ++b) {
            const int8_t *in = input + (size_t)b * in_image;
            int8_t *y = output + (size_t)b * out_image + (size_t)c;
            if (tabled) {
                group_args g = {pxt, npx, tab, (uintptr_t)in + (uintptr_t)c, off2, p->bias + c, y, ch, rq, cq, full};
                if (fast && full) {
                    group_pixels_full(&g);
                } else if (fast) {
                    group_pixels_clamp(&g);
                } else {
                    group_pixels_slow(&g);
                }
                continue;
            }
            for (int32_t oy = 0; oy < p->out_h; ++oy) {
                const int32_t iy0 = oy * p->stride_h - p->pad_top;
                int32_t ky_s, ky_e;
                dtmm_tap_range(iy0, p->dilation_h, p->kh, p->in_h, &ky_s, &ky_e);
                for (int32_t ox = 0; ox < p->out_w; ++ox, y += ch) {
                    const int32_t ix0 = ox * p->stride_w - p->pad_left;
                    int32_t kx_s, kx_e;
                    dtmm_tap_range(ix0, p->dilation_w, kw, p->in_w, &kx_s, &kx_e);
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
                dtmm_tap_range(iy0, p->dilation_h, p->kh, p->in_h, &ky_s, &ky_e);
                for (int32_t ox = 0; ox < p->out_w; ++ox, y += ch) {
                    const int32_t ix0 = ox * p->stride_w - p->pad_left;
                    int32_t kx_s, kx_e;
                    dtmm_tap_range(ix0, p->dilation_w, kw, p->in_w, &kx_s, &kx_e);
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

dtmm_status dtmm_depthwise_conv_s8_dsp(const dtmm_depthwise_conv_s8_params *p, const int8_t *input, int8_t *output)
{
    const int32_t x_lo = -128 + p->input_offset, x_hi = 127 + p->input_offset; /* plane values fit int16 */
    dsp_plane pg;
    if (dsp_plane_fits(p, &pg) && x_lo >= -32768 && x_hi <= 32767) {
        dsp_plane_path(p, &pg, input, output);
        return DTMM_OK;
    }
    return group_path(p, input, output);
}

#else /* no DSP extension: keep the symbol, forward to the portable path */

dtmm_status dtmm_depthwise_conv_s8_dsp(const dtmm_depthwise_conv_s8_params *p, const int8_t *input, int8_t *output)
{
    return dtmm_depthwise_conv_s8_c(p, input, output);
}

#endif
