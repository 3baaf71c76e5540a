/*
 * dtmm_depthwise_conv_s8_mve.c - int8 DEPTHWISE_CONV_2D with Helium MVE.
 *
 * Three paths, all exact (int32 sums wrap as TFLite's do):
 *
 * Lane path (depth multiplier 1, at most DW_LANE_PX output pixels, 8 or
 * more channels): channels on vector lanes, one output pixel at a time,
 * only its in-bounds taps; described at lane_path() below.
 *
 * Plane path (when one zero-point-padded input channel plane fits
 * DW_MVE_PLANE bytes of stack, i.e. maps up to about 50 x 50): one input
 * channel at a time is gathered out of NHWC into the plane (8 pixels a
 * VLDRB.U16 gather), so every output pixel sees all kh x kw taps and
 * borders cost nothing extra.  Outputs run 4 adjacent pixels of one
 * channel on int32 lanes; each tap is one widening load and one VMLA by
 * the tap's weight as a scalar.  3x3 kernels with stride 1 run naked
 * assembly over whole plane rows at once (9 weights in registers, 20
 * instructions per 4 outputs), 3x3 with stride 2 the same with gathers
 * (23), other shapes an intrinsics loop.  Plane rows run along the
 * output's longer side (a 25 x 5 map is done transposed: 5 rows of 27).
 * The input offset enters once per channel (bias + input_offset * weight
 * sum: padding taps read the zero point, so they add exactly 0).
 * Requantization is one tail-predicated loop per channel with the
 * channel's multiplier and shift as scalars (TFLite double rounding),
 * outputs stored out_ch apart with a VSTRB.32 scatter: 12 instructions
 * per 4 outputs.  A plane serves the depth_multiplier output channels of
 * its input channel.
 *
 * Column path (larger maps, or an input offset outside the int8 zero
 * point range): four channels on int32 lanes, four vertically adjacent
 * output pixels of one column a block, each pixel with its own input
 * pointer (assembly, 13 instructions a tap for tap steps of 8..64 bytes,
 * 17 otherwise); kernel columns outside the input are skipped for the
 * block, kernel rows outside it read a zero-point line.  Depth
 * multipliers > 1 and the out_ch % 4 group run an intrinsics version.
 *
 * No scratch memory; stack: 20 * DW_LANE_PX + 320 bytes (lane path, about
 * 1.6 KB), DW_MVE_PLANE + 4 * DW_MVE_BUF + 4 *
 * DW_MVE_MAX_TAPS bytes (plane path, about 4.5 KB) or DW_MVE_PAD + 8 *
 * DW_MVE_MAX_TAPS (column path).  Kernels of more taps, or wider padding
 * lines, use the portable path.
 */
#include <stddef.h>
#include <string.h>

#include "dtmm_ops.h"
#include "../common/dtmm_tap_range.h"
#include "dtmm_depthwise_plane.h"

#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)

#include <arm_mve.h>

#define ALWAYS_INLINE static inline __attribute__((always_inline))

#define DW_MVE_MAX_TAPS 100
#define DW_MVE_PAD 1040
#define DW_MVE_MAX_ROWS 16
#define DW_MVE_PLANE 3072
#define DW_MVE_BUF 256

/* Per-group constants. */
typedef struct {
    int32x4_t mult, left, right, lo, hi, out_off;
    int32x4_t base;    /* bias + input_offset * weight sum of the current columns */
    mve_pred16_t pr;   /* lanes < out_ch */
    int tail;          /* pr is not all lanes */
    int shl;           /* some lane has a left shift */
} group_q;
/* the offsets the assembly below uses */
_Static_assert(offsetof(group_q, left) == 16 && offsetof(group_q, right) == 32 && offsetof(group_q, lo) == 48 &&
                   offsetof(group_q, hi) == 64 && offsetof(group_q, out_off) == 80 && offsetof(group_q, base) == 96,
               "group_q layout");

ALWAYS_INLINE void store4(int8_t *y, int32x4_t acc, const group_q *q)
{
    int32x4_t v = vshlq_s32(vaddq_s32(acc, q->base), q->left);
    v = vqrdmulhq_s32(v, q->mult);
    v = vqaddq_s32(v, vshrq_n_s32(vandq_s32(v, q->right), 31)); /* TFLite rounds half away from zero */
    v = vaddq_s32(vrshlq_s32(v, q->right), q->out_off);
    v = vminq_s32(vmaxq_s32(v, q->lo), q->hi);
    if (q->tail) {
        vstrbq_p_s32(y, v, q->pr);
    } else {
        vstrbq_s32(y, v);
    }
}

/*
 * store4() on the four pixels of a block, full channel group, y .. y+3*ys:
 * each group constant is loaded once for the four (assembly, because the
 * compiler keeps them on the stack and reloads each per pixel).  SHL: the
 * group has a left shift.
 */
#define DW_Q4(OP) OP("a0") OP("a1") OP("a2") OP("a3")
#define DW_ADD(A) "vadd.i32 %q[" A "], %q[" A "], %q[c]\n\t"
#define DW_SHL(A) "vshl.s32 %q[" A "], %q[" A "], %q[c]\n\t"
#define DW_MULH(A) "vqrdmulh.s32 %q[" A "], %q[" A "], %q[c]\n\t"
#define DW_FIX(A) "vand %q[t], %q[" A "], %q[c]\n\t" "vshr.s32 %q[t], %q[t], #31\n\t" "vqadd.s32 %q[" A "], %q[" A "], %q[t]\n\t"
#define DW_RSHL(A) "vrshl.s32 %q[" A "], %q[" A "], %q[c]\n\t"
#define DW_MAX(A) "vmax.s32 %q[" A "], %q[" A "], %q[c]\n\t"
#define DW_MIN(A) "vmin.s32 %q[" A "], %q[" A "], %q[c]\n\t"
#define DW_STORE_BLOCK(NAME, SHL)                                                                  \
    ALWAYS_INLINE void NAME(const group_q *q, int8_t *y, int32_t ys, int32x4_t a0, int32x4_t a1, int32x4_t a2, \
                            int32x4_t a3)                                                          \
    {                                                                                              \
        int32x4_t c, t;                                                                            \
        __asm__ volatile("vldrw.u32 %q[c], [%[q], #96]\n\t" DW_Q4(DW_ADD) SHL                       \
                         "vldrw.u32 %q[c], [%[q], #0]\n\t" DW_Q4(DW_MULH)                           \
                         "vldrw.u32 %q[c], [%[q], #32]\n\t" DW_Q4(DW_FIX) DW_Q4(DW_RSHL)            \
                         "vldrw.u32 %q[c], [%[q], #80]\n\t" DW_Q4(DW_ADD)                           \
                         "vldrw.u32 %q[c], [%[q], #48]\n\t" DW_Q4(DW_MAX)                           \
                         "vldrw.u32 %q[c], [%[q], #64]\n\t" DW_Q4(DW_MIN)                           \
                         "vstrb.32 %q[a0], [%[y]]\n\t"                                              \
                         "add %[y], %[y], %[ys]\n\t"                                                \
                         "vstrb.32 %q[a1], [%[y]]\n\t"                                              \
                         "add %[y], %[y], %[ys]\n\t"                                                \
                         "vstrb.32 %q[a2], [%[y]]\n\t"                                              \
                         "add %[y], %[y], %[ys]\n\t"                                                \
                         "vstrb.32 %q[a3], [%[y]]\n\t"                                              \
                         : [a0] "+w"(a0), [a1] "+w"(a1), [a2] "+w"(a2), [a3] "+w"(a3), [c] "=&w"(c),   \
                           [t] "=&w"(t), [y] "+l"(y)                                                \
                         : [q] "r"(q), [ys] "r"(ys)                                                 \
                         : "memory");                                                               \
    }
DW_STORE_BLOCK(store_block_shl, "vldrw.u32 %q[c], [%[q], #16]\n\t" DW_Q4(DW_SHL))
DW_STORE_BLOCK(store_block_noshl, "")

/*
 * Assembly cores: rows x cols taps of four pixels with their own input
 * pointers x0..x3, post-incremented by the tap step TX along a kernel row;
 * weights 4 bytes a tap, rows contiguous.  Per tap: weight load, then per
 * pixel widening load, VMUL, VADD; LE.  Between kernel rows the pointers
 * either all step by rs (core_add: every kernel row inside the input) or
 * are reloaded from a table of 4 pointers a row (core_tab: rows outside
 * the input point at the zero-point line).  Widening loads take low
 * registers only ("l").
 */
#define DW_LDP(X, TX) "vldrb.s32 %q[t], [%[" X "]], #" TX "\n\t"
#define DW_LDR(X, TX) "vldrb.s32 %q[t], [%[" X "]]\n\t" "add %[" X "], %[" X "], %[tx]\n\t"
#define DW_TAPS(TX) DW_TAPS_L(DW_LDP, TX)
#define DW_TAPS_L(LD, TX)                                                                                \
    "dls lr, %[cols]\n\t"                                                                          \
    "2:\n\t"                                                                                       \
    "vldrb.s32 %q[w], [%[wp]], #4\n\t"                                                             \
    LD("x0", TX)                                                                                   \
    "vmul.i32 %q[t], %q[t], %q[w]\n\t"                                                             \
    "vadd.i32 %q[a0], %q[a0], %q[t]\n\t"                                                           \
    LD("x1", TX)                                                                                   \
    "vmul.i32 %q[t], %q[t], %q[w]\n\t"                                                             \
    "vadd.i32 %q[a1], %q[a1], %q[t]\n\t"                                                           \
    LD("x2", TX)                                                                                   \
    "vmul.i32 %q[t], %q[t], %q[w]\n\t"                                                             \
    "vadd.i32 %q[a2], %q[a2], %q[t]\n\t"                                                           \
    LD("x3", TX)                                                                                   \
    "vmul.i32 %q[t], %q[t], %q[w]\n\t"                                                             \
    "vadd.i32 %q[a3], %q[a3], %q[t]\n\t"                                                           \
    "le lr, 2b\n\t"
#define DW_OUTS(XC)                                                                                \
    [a0] "+w"(*a0), [a1] "+w"(*a1), [a2] "+w"(*a2), [a3] "+w"(*a3), [w] "=&w"(w), [t] "=&w"(t),     \
        [x0] XC(x0), [x1] XC(x1), [x2] XC(x2), [x3] XC(x3), [wp] "+l"(wp), [rows] "+r"(rows)
#define DW_ACCS int32x4_t *a0, int32x4_t *a1, int32x4_t *a2, int32x4_t *a3

/* LD: DW_LDP (post-increment by the constant TX) or DW_LDR (by register tx); extra inputs after cols. */
#define DW_CORE_ADD(NAME, LD, TX, ...) DW_CORE_ADD_Q(ALWAYS_INLINE, NAME, LD, TX, __VA_ARGS__)
#define DW_CORE_ADD_Q(QUAL, NAME, LD, TX, ...)                                                     \
    QUAL void NAME(const int8_t *x0, const int8_t *x1, const int8_t *x2, const int8_t *x3,   \
                            const int8_t *wp, int32_t rows, int32_t cols, int32_t tx, int32_t rs, DW_ACCS) \
    {                                                                                              \
        int32x4_t w, t;                                                                            \
        (void)tx;                                                                                  \
        __asm__ volatile("1:\n\t" DW_TAPS_L(LD, TX) "add %[x0], %[x0], %[rs]\n\t"                   \
                         "add %[x1], %[x1], %[rs]\n\t"                                             \
                         "add %[x2], %[x2], %[rs]\n\t"                                             \
                         "add %[x3], %[x3], %[rs]\n\t"                                             \
                         "subs %[rows], %[rows], #1\n\t"                                           \
                         "bne 1b\n\t"                                                              \
                         : DW_OUTS("+l")                                                           \
                         : [cols] "r"(cols), [rs] "r"(rs) __VA_ARGS__                              \
                         : "lr", "memory");                                                        \
    }
#define DW_CORE_TAB(NAME, LD, TX, ...)                                                             \
    ALWAYS_INLINE void NAME(const int8_t *const *pt, const int8_t *wp, int32_t rows, int32_t cols, int32_t tx, \
                            DW_ACCS)                                                               \
    {                                                                                              \
        int32x4_t w, t;                                                                            \
        const int8_t *x0, *x1, *x2, *x3;                                                           \
        (void)tx;                                                                                  \
        __asm__ volatile("1:\n\t"                                                                  \
                         "ldrd %[x0], %[x1], [%[pt]], #8\n\t"                                      \
                         "ldrd %[x2], %[x3], [%[pt]], #8\n\t" DW_TAPS_L(LD, TX) "subs %[rows], %[rows], #1\n\t" \
                         "bne 1b\n\t"                                                              \
                         : DW_OUTS("=&l"), [pt] "+r"(pt)                                           \
                         : [cols] "r"(cols) __VA_ARGS__                                            \
                         : "lr", "memory");                                                        \
    }
DW_CORE_ADD(add_tx8, DW_LDP, "8", )
DW_CORE_ADD(add_tx16, DW_LDP, "16", )
DW_CORE_ADD(add_tx32, DW_LDP, "32", )
DW_CORE_ADD(add_tx64, DW_LDP, "64", )
/* out of line: with the register step it needs too many registers to inline */
DW_CORE_ADD_Q(static __attribute__((noinline)), add_txr, DW_LDR, "", , [tx] "r"(tx))
DW_CORE_TAB(tab_tx8, DW_LDP, "8", )
DW_CORE_TAB(tab_tx16, DW_LDP, "16", )
DW_CORE_TAB(tab_tx32, DW_LDP, "32", )
DW_CORE_TAB(tab_tx64, DW_LDP, "64", )
DW_CORE_TAB(tab_txr, DW_LDR, "", , [tx] "r"(tx))

enum { CORE_C, CORE_TX8, CORE_TX16, CORE_TX32, CORE_TX64, CORE_TXR };

/* The assembly core for a tap step. */
static int core_kind(int32_t tx)
{
    switch (tx) {
    case 8: return CORE_TX8;
    case 16: return CORE_TX16;
    case 32: return CORE_TX32;
    case 64: return CORE_TX64;
    default: return CORE_TXR;
    }
}

/* Intrinsics core, pointer table as core_tab: any tap step, tail-predicated
 * loads, gathers (lane offsets) for depth multiplier > 1. */
static void core_c(const int8_t *const *pt, const int8_t *wp, int32_t rows, int32_t cols, int32_t tx, int gather,
                   uint32x4_t lane, mve_pred16_t pr, int32x4_t acc[4])
{
    for (int32_t r = 0; r < rows; ++r, pt += 4) {
        for (int32_t k = 0; k < cols; ++k, wp += 4) {
            const int32x4_t w = vldrbq_s32(wp);
            for (int32_t j = 0; j < 4; ++j) {
                const int8_t *xj = pt[j] + k * tx;
                const int32x4_t xv = gather ? vldrbq_gather_offset_z_s32(xj, lane, pr) : vldrbq_z_s32(xj, pr);
                acc[j] = vaddq_s32(acc[j], vmulq_s32(xv, w));
            }
        }
    }
}

/* What a channel group's columns share. */
typedef struct {
    const dtmm_depthwise_conv_s8_params *p;
    const int8_t *wc;  /* the group's weights of the current kernel columns, [kh][cols][4] */
    const int8_t *pad; /* zero-point line for kernel rows outside the input */
    int32_t tx;        /* bytes between kernel columns */
    int32_t in_row;    /* bytes of an input row */
    int32_t out_row;   /* bytes of an output row */
    int kind;          /* CORE_*: CORE_C unless full group, depth multiplier 1 and a post-increment step */
    uint32x4_t lane;   /* input channel of each lane relative to the first (gathers) */
} group_ctx;

/* One output column of one channel group: cols kernel columns, col = input row 0 at the first. */
static void column(const group_ctx *g, const group_q *qp, const int8_t *col, int8_t *ycol, int32_t cols)
{
    const dtmm_depthwise_conv_s8_params *p = g->p;
    const int32_t kh = p->kh, in_row = g->in_row, out_row = g->out_row, tx = g->tx;
    const int8_t *wp = g->wc;
    /* output rows whose kernel rows all lie inside the input */
    const int32_t oy_lo = (p->pad_top + p->stride_h - 1) / p->stride_h;
    const int32_t last = p->in_h - 1 - (kh - 1) * p->dilation_h + p->pad_top; /* largest oy*stride allowed */
    int32_t oy_hi = last >= 0 ? last / p->stride_h + 1 : 0;
    if (oy_hi > p->out_h) oy_hi = p->out_h;
    if (g->kind == CORE_C || cols == 0) oy_hi = 0;
    const int32_t px = p->stride_h * in_row;
    const int32_t rs = p->dilation_h * in_row - cols * tx;
    int32_t oy = 0;
    while (oy < p->out_h) {
        if (oy >= oy_lo && oy + 4 <= oy_hi) {
            const int8_t *x0 = col + (oy * p->stride_h - p->pad_top) * in_row;
            int8_t *y = ycol + oy * out_row;
            for (; oy + 4 <= oy_hi; oy += 4, x0 += 4 * px, y += 4 * out_row) {
                int32x4_t a0 = vdupq_n_s32(0), a1 = a0, a2 = a0, a3 = a0;
                const int8_t *x1 = x0 + px, *x2 = x1 + px, *x3 = x2 + px;
                switch (g->kind) {
                case CORE_TX8: add_tx8(x0, x1, x2, x3, wp, kh, cols, tx, rs, &a0, &a1, &a2, &a3); break;
                case CORE_TX16: add_tx16(x0, x1, x2, x3, wp, kh, cols, tx, rs, &a0, &a1, &a2, &a3); break;
                case CORE_TX32: add_tx32(x0, x1, x2, x3, wp, kh, cols, tx, rs, &a0, &a1, &a2, &a3); break;
                case CORE_TX64: add_tx64(x0, x1, x2, x3, wp, kh, cols, tx, rs, &a0, &a1, &a2, &a3); break;
                default: add_txr(x0, x1, x2, x3, wp, kh, cols, tx, rs, &a0, &a1, &a2, &a3); break;
                }
                if (qp->shl) {
                    store_block_shl(qp, y, out_row, a0, a1, a2, a3);
                } else {
                    store_block_noshl(qp, y, out_row, a0, a1, a2, a3);
                }
            }
            continue;
        }
        /* four pixels with a kernel row outside the input: a table of each kernel row's 4 pointers,
         * built 4 at a time (pointers as uint32 lanes).  The last block ends at the last row (it
         * overlaps the one before), or with out_h < 4 repeats the last row. */
        if (oy + 4 > p->out_h && p->out_h >= 4) {
            oy = p->out_h - 4;
        }
        const int8_t *pt[4 * DW_MVE_MAX_ROWS] __attribute__((aligned(8)));
        const uint32x4_t oyv = vminq_u32(vidupq_n_u32((uint32_t)oy, 1), vdupq_n_u32((uint32_t)(p->out_h - 1)));
        uint32x4_t iyv = vsubq_n_u32(vmulq_n_u32(oyv, (uint32_t)p->stride_h), (uint32_t)p->pad_top);
        uint32x4_t ptrv = vmlaq_n_u32(vdupq_n_u32((uint32_t)(uintptr_t)col), iyv, (uint32_t)in_row);
        const uint32x4_t padv = vdupq_n_u32((uint32_t)(uintptr_t)g->pad), in_h = vdupq_n_u32((uint32_t)p->in_h);
        for (int32_t r = 0; r < kh; ++r) {
            vstrwq_u32((uint32_t *)(void *)&pt[4 * r], vpselq_u32(ptrv, padv, vcmphiq_u32(in_h, iyv)));
            iyv = vaddq_n_u32(iyv, (uint32_t)p->dilation_h);
            ptrv = vaddq_n_u32(ptrv, (uint32_t)(p->dilation_h * in_row));
        }
        const int full_block = oy + 4 <= p->out_h;
        int32x4_t acc[4] = {vdupq_n_s32(0), vdupq_n_s32(0), vdupq_n_s32(0), vdupq_n_s32(0)};
        if (cols > 0) {
            switch (g->kind) {
            case CORE_TX8: tab_tx8(pt, wp, kh, cols, tx, &acc[0], &acc[1], &acc[2], &acc[3]); break;
            case CORE_TX16: tab_tx16(pt, wp, kh, cols, tx, &acc[0], &acc[1], &acc[2], &acc[3]); break;
            case CORE_TX32: tab_tx32(pt, wp, kh, cols, tx, &acc[0], &acc[1], &acc[2], &acc[3]); break;
            case CORE_TX64: tab_tx64(pt, wp, kh, cols, tx, &acc[0], &acc[1], &acc[2], &acc[3]); break;
            case CORE_TXR: tab_txr(pt, wp, kh, cols, tx, &acc[0], &acc[1], &acc[2], &acc[3]); break;
            default: core_c(pt, wp, kh, cols, tx, p->depth_multiplier > 1, g->lane, qp->pr, acc); break;
            }
        }
        if (qp->tail || !full_block) {
            for (int32_t j = 0; j < 4; ++j) {
                const int32_t oyj = oy + j < p->out_h ? oy + j : p->out_h - 1;
                store4(ycol + oyj * out_row, acc[j], qp);
            }
        } else if (qp->shl) {
            store_block_shl(qp, ycol + oy * out_row, out_row, acc[0], acc[1], acc[2], acc[3]);
        } else {
            store_block_noshl(qp, ycol + oy * out_row, out_row, acc[0], acc[1], acc[2], acc[3]);
        }
        oy += 4;
    }
}

/*
 * Plane path: one input channel at a time, copied (VLDRB gather from NHWC,
 * 4 pixels an instruction) into a zero-point-padded H x W plane on the
 * stack, so that every output pixel sees all kh*kw taps inside the plane.
 * Outputs then run 4 adjacent pixels of one output row and one channel at
 * a time: per tap one widening load (a gather when stride_w > 1) and one
 * VMLA by the tap's weight as a scalar; the input offset enters once per
 * channel (bias + input_offset * sum of the weights, exact as padding taps
 * read the zero point).  Requantization uses the channel's multiplier and
 * shift as scalars; the 4 results go out with one VSTRB.32 scatter
 * (offsets 0, out_ch, 2*out_ch, 3*out_ch), the last group of a row tail
 * predicated.  Each input channel's plane serves its depth_multiplier
 * output channels.
 */
enum { PLANE_GENERIC, PLANE_S1, PLANE_S2 };

/* The op in plane orientation (dtmm_depthwise_plane.h) and the plane. */
typedef struct {
    dtmm_dw_plane o;
    int32_t wp, hp;         /* plane width, height */
    int32_t ow4;            /* out_w rounded up to 4 */
    int kind;               /* PLANE_S1: 3x3, stride 1, dilation 1 (taps33_s1() over whole plane rows);
                             * PLANE_S2: 3x3, stride 2, dilation 1 (taps33_s2()); else the intrinsics loop */
} plane_geom;

static int plane_fits(const dtmm_depthwise_conv_s8_params *p, plane_geom *pg)
{
    dtmm_dw_plane *g = &pg->o;
    dtmm_dw_plane_orient(p, g);
    const int k33 = g->kh == 3 && g->kw == 3 && g->dh == 1 && g->dw == 1;
    pg->ow4 = (g->out_w + 3) & ~3;
    pg->kind = k33 && g->sh == 1 && g->sw == 1 ? PLANE_S1 : k33 && g->sh == 2 && g->sw == 2 ? PLANE_S2 : PLANE_GENERIC;
    /* loads of a last group past out_w: into the next row (S1) or up to ow4 */
    pg->wp = ((pg->kind == PLANE_S1 ? g->out_w : pg->ow4) - 1) * g->sw + (g->kw - 1) * g->dw + 1;
    pg->hp = (g->out_h - 1) * g->sh + (g->kh - 1) * g->dh + 1;
    const int32_t row_sums = pg->kind == PLANE_S1 ? pg->wp : pg->ow4;
    return (int64_t)pg->wp * pg->hp <= DW_MVE_PLANE && p->kh * p->kw <= DW_MVE_MAX_TAPS && row_sums <= DW_MVE_BUF &&
           (int64_t)g->in_px * 7 <= 65535; /* gather offsets fit 16 bits */
}

/* Channel ic of the image into the plane: per input row inside the plane, 8 pixels an
 * iteration (VLDRB.U16 gather at 16-bit offsets k*in_px, VSTRB.16), tail-predicated loop. */
static void plane_fill(const plane_geom *pg, const int8_t *in, int8_t *plane)
{
    const dtmm_dw_plane *g = &pg->o;
    const uint16x8_t offs = vmulq_n_u16(vidupq_n_u16(0, 1), (uint16_t)g->in_px);
    int32_t ncols = g->in_w; /* input columns inside the plane */
    if (ncols > pg->wp - g->pl) ncols = pg->wp - g->pl;
    int32_t rows = g->in_h;
    if (rows > pg->hp - g->pt) rows = pg->hp - g->pt;
    if (rows <= 0 || ncols <= 0) return;
    const int8_t *s = in;
    int8_t *d = plane + g->pt * pg->wp + g->pl;
    const int32_t step8 = 8 * g->in_px, srow = g->in_rs, drow = pg->wp;
    uint16x8_t v;
    const int32_t groups = (ncols + 7) / 8;
    const int32_t sskip = srow - groups * step8, dskip = drow - groups * 8; /* end of a row's loop to the next row */
    __asm__ volatile("1:\n\t"
                     "dlstp.16 lr, %[n]\n\t"
                     "2:\n\t"
                     "vldrb.u16 %q[v], [%[s], %q[offs]]\n\t"
                     "vstrb.16 %q[v], [%[d]], #8\n\t"
                     "add %[s], %[s], %[step8]\n\t"
                     "letp lr, 2b\n\t"
                     "add %[s], %[s], %[sskip]\n\t"
                     "add %[d], %[d], %[dskip]\n\t"
                     "subs %[rows], %[rows], #1\n\t"
                     "bne 1b\n\t"
                     : [s] "+l"(s), [d] "+l"(d), [v] "=&w"(v), [rows] "+r"(rows)
                     : [offs] "w"(offs), [n] "r"(ncols), [step8] "r"(step8), [sskip] "r"(sskip), [dskip] "r"(dskip)
                     : "lr", "memory");
}

/*
 * Requantization of one channel: rows x n int32 sums (bias not yet added)
 * to int8 outputs out_ch apart, rows of both at the given skips.
 * Tail-predicated loop (DLSTP/LETP), VSTRB.32 scatter, one loop per kind
 * of shift: 12 instructions per 4 outputs with a right shift, 11 with a
 * left one, 10 with none.  Naked assembly: 12 scalar and 5 vector
 * operands.
 */
typedef struct {
    const int32_t *buf;                         /* 0 */
    int8_t *y;                                  /* 4 */
    int32_t base, left, mult, nright, out_off;  /* 8..24: nright = -right shift */
    int32_t y4, bskip, yskip, n, rows;          /* 28..44: y4 = 4 * out_ch; bytes from where a row's
                                                 * loop leaves buf, y to the next row's start */
    int32_t pad_[2];                            /* 48 */
    int32x4_t reserved_;                        /* 56: keeps lo..soff at the offsets below */
    int32x4_t lo, hi;                           /* 72, 88 */
    uint32x4_t soff;                            /* 104: 0, out_ch, 2*out_ch, 3*out_ch */
} requant_args;
_Static_assert(offsetof(requant_args, rows) == 44 && offsetof(requant_args, lo) == 72 &&
                   offsetof(requant_args, soff) == 104,
               "requant_args layout (the assembly below)");

/* one requant row loop: LABEL, the ops between the bias add and the offset add, then clamp and scatter store */
#define DW_RQ_LOOP(LABEL, OPS)                                                                     \
    LABEL ":\n\t"                                                                                   \
    "dlstp.32 lr, r11\n\t"                                                                         \
    "9:\n\t"                                                                                        \
    "vldrw.u32 q0, [r1], #16\n\t"                                                                  \
    "vadd.i32 q0, q0, r3\n\t" OPS                                                                  \
    "vadd.i32 q0, q0, r7\n\t"                                                                      \
    "vmax.s32 q0, q0, q3\n\t"                                                                      \
    "vmin.s32 q0, q0, q4\n\t"                                                                      \
    "vstrb.32 q0, [r2, q5]\n\t"                                                                    \
    "add r2, r2, r8\n\t"                                                                           \
    "letp lr, 9b\n\t"                                                                              \
    "add r1, r1, r9\n\t"                                                                           \
    "add r2, r2, r10\n\t"                                                                          \
    "subs r12, r12, #1\n\t"                                                                        \
    "bne " LABEL "b\n\t"                                                                            \
    "b 8f\n\t"

__attribute__((naked, noinline)) static void requant_rows(__attribute__((unused)) const requant_args *a)
{
    __asm__ volatile("push {r4-r11, lr}\n\t"
                     "vpush {d8-d11}\n\t" /* q4, q5: callee-saved */
                     "add r1, r0, #56\n\t"
                     "vldrw.u32 q3, [r1, #16]\n\t"
                     "vldrw.u32 q4, [r1, #32]\n\t"
                     "vldrw.u32 q5, [r1, #48]\n\t"
                     "ldm r0, {r1-r12}\n\t"
                     "cbnz r4, 1f\n\t"
                     "cbz r6, 3f\n\t"
                     /* right shift (the usual case): SRDHM, -1 on negatives, rounding shift = TFLite's
                      * round half away from zero */
                     DW_RQ_LOOP("2", "vqrdmulh.s32 q0, q0, r5\n\t"
                                     "vshr.s32 q1, q0, #31\n\t"
                                     "vqadd.s32 q0, q0, q1\n\t"
                                     "vrshl.s32 q0, r6\n\t")
                     /* left shift: no right shift */
                     DW_RQ_LOOP("1", "vshl.s32 q0, r4\n\t"
                                     "vqrdmulh.s32 q0, q0, r5\n\t")
                     /* no shift */
                     DW_RQ_LOOP("3", "vqrdmulh.s32 q0, q0, r5\n\t")
                     "8:\n\t"
                     "vpop {d8-d11}\n\t"
                     "pop {r4-r11, pc}\n\t");
}

/*
 * 3x3 kernel, stride 1, dilation 1, over n groups of 4 consecutive plane
 * positions: buf[i] = sum of w[t] * plane[x + i + tap offset t] (int32,
 * no bias).  x0, x1, x2 are the three kernel rows' first positions.
 * Naked assembly: the 9 weights stay in registers (VMLA by scalar), 20
 * instructions per 4 outputs.
 */
typedef struct {
    const int8_t *x0, *x1, *x2;
    int32_t *buf;
    int32_t n;
    int32_t w[9];
    int32_t rows, skip; /* taps33_s2: output rows, bytes from a row's last group to the next row */
} taps33_args;
_Static_assert(offsetof(taps33_args, n) == 16 && offsetof(taps33_args, w) == 20 && offsetof(taps33_args, rows) == 56 &&
                   offsetof(taps33_args, skip) == 60,
               "taps33_args layout");

__attribute__((naked, noinline)) static void taps33_s1(__attribute__((unused)) const taps33_args *a)
{
    __asm__ volatile("push {r4-r11, lr}\n\t"
                     "ldm r0, {r1, r2, r3, r12}\n\t"
                     "ldr lr, [r0, #16]\n\t"
                     "add r0, r0, #20\n\t"
                     "ldm r0, {r4, r5, r6, r7, r8, r9, r10, r11}\n\t"
                     "ldr r0, [r0, #32]\n\t"
                     "dls lr, lr\n\t"
                     "1:\n\t"
                     "vldrb.s32 q0, [r1, #1]\n\t"
                     "vmul.i32 q1, q0, r5\n\t"
                     "vldrb.s32 q0, [r1, #2]\n\t"
                     "vmla.s32 q1, q0, r6\n\t"
                     "vldrb.s32 q0, [r1], #4\n\t"
                     "vmla.s32 q1, q0, r4\n\t"
                     "vldrb.s32 q0, [r2, #1]\n\t"
                     "vmla.s32 q1, q0, r8\n\t"
                     "vldrb.s32 q0, [r2, #2]\n\t"
                     "vmla.s32 q1, q0, r9\n\t"
                     "vldrb.s32 q0, [r2], #4\n\t"
                     "vmla.s32 q1, q0, r7\n\t"
                     "vldrb.s32 q0, [r3, #1]\n\t"
                     "vmla.s32 q1, q0, r11\n\t"
                     "vldrb.s32 q0, [r3, #2]\n\t"
                     "vmla.s32 q1, q0, r0\n\t"
                     "vldrb.s32 q0, [r3], #4\n\t"
                     "vmla.s32 q1, q0, r10\n\t"
                     "vstrw.32 q1, [r12], #16\n\t"
                     "le lr, 1b\n\t"
                     "pop {r4-r11, pc}\n\t");
}

/*
 * 3x3 kernel, stride 2, dilation 1: rows x n groups of 4 outputs of one
 * output row each (kernel rows at x0, x1, x2, then skip to the next output
 * row), gathers at offsets {0,2,4,6} + 0/1/2 (q5..q7).  Same registers as
 * taps33_s1, 23 instructions per 4 outputs.
 */
__attribute__((naked, noinline)) static void taps33_s2(__attribute__((unused)) const taps33_args *a)
{
    __asm__ volatile("push {r4-r11, lr}\n\t"
                     "vpush {d10-d15}\n\t"
                     "ldr r1, [r0, #60]\n\t" /* skip */
                     "ldr r2, [r0, #56]\n\t" /* rows */
                     "ldr r3, [r0, #16]\n\t" /* n */
                     "push {r1, r2, r3}\n\t"
                     "movs r2, #0\n\t"
                     "vidup.u32 q5, r2, #2\n\t"
                     "movs r2, #2\n\t"
                     "vadd.i32 q6, q5, r2\n\t"
                     "movs r1, #1\n\t"
                     "vadd.i32 q7, q5, r1\n\t" /* q5 = 0,2,4,6  q7 = 1,3,5,7  q6 = 2,4,6,8 */
                     "ldm r0, {r1, r2, r3, r12}\n\t"
                     "add r0, r0, #20\n\t"
                     "ldm r0, {r4, r5, r6, r7, r8, r9, r10, r11}\n\t"
                     "ldr r0, [r0, #32]\n\t"
                     "1:\n\t"
                     "ldr lr, [sp, #8]\n\t"
                     "dls lr, lr\n\t"
                     "2:\n\t"
                     "vldrb.s32 q0, [r1, q5]\n\t"
                     "vmul.i32 q1, q0, r4\n\t"
                     "vldrb.s32 q0, [r1, q7]\n\t"
                     "vmla.s32 q1, q0, r5\n\t"
                     "vldrb.s32 q0, [r1, q6]\n\t"
                     "vmla.s32 q1, q0, r6\n\t"
                     "vldrb.s32 q0, [r2, q5]\n\t"
                     "vmla.s32 q1, q0, r7\n\t"
                     "vldrb.s32 q0, [r2, q7]\n\t"
                     "vmla.s32 q1, q0, r8\n\t"
                     "vldrb.s32 q0, [r2, q6]\n\t"
                     "vmla.s32 q1, q0, r9\n\t"
                     "vldrb.s32 q0, [r3, q5]\n\t"
                     "vmla.s32 q1, q0, r10\n\t"
                     "vldrb.s32 q0, [r3, q7]\n\t"
                     "vmla.s32 q1, q0, r11\n\t"
                     "vldrb.s32 q0, [r3, q6]\n\t"
                     "vmla.s32 q1, q0, r0\n\t"
                     "adds r1, #8\n\t"
                     "adds r2, #8\n\t"
                     "adds r3, #8\n\t"
                     "vstrw.32 q1, [r12], #16\n\t"
                     "le lr, 2b\n\t"
                     "ldr lr, [sp]\n\t"
                     "add r1, lr\n\t"
                     "add r2, lr\n\t"
                     "add r3, lr\n\t"
                     "ldr lr, [sp, #4]\n\t"
                     "subs lr, #1\n\t"
                     "str lr, [sp, #4]\n\t"
                     "bne 1b\n\t"
                     "add sp, sp, #12\n\t"
                     "vpop {d10-d15}\n\t"
                     "pop {r4-r11, pc}\n\t");
}

/* What every channel of the plane path shares. */
typedef struct {
    int32_t buf[DW_MVE_BUF] __attribute__((aligned(16))); /* a run's sums */
    taps33_args a;     /* 3x3 paths: pointers, weights */
    requant_args rq;   /* constant fields set once */
    int32_t runs_rows; /* output rows per run of the 3x3 paths (DW_MVE_BUF sums) */
    int32_t n4;        /* taps33_s2: groups of 4 per output row */
    int32_t woff[DW_MVE_MAX_TAPS]; /* weights offset of each plane-order tap */
} plane_ctx;

/* Output channel c from the plane: sums into buf, then requant_rows(). */
static void plane_channel(const dtmm_depthwise_conv_s8_params *p, const plane_geom *pg, plane_ctx *cx,
                          const int8_t *plane, int8_t *out, int32_t c)
{
    const dtmm_dw_plane *g = &pg->o;
    const int32_t kh = g->kh, kw = g->kw, wpl = pg->wp, out_w = g->out_w, out_h = g->out_h;
    int32_t *buf = cx->buf;
    int32_t *w = cx->a.w;
    int32_t wg[DW_MVE_MAX_TAPS];
    if (pg->kind == PLANE_GENERIC) w = wg;
    /* weights in plane order: w[ky*kw + kx] of the plane's kernel */
    int32_t wsum = 0;
    const int8_t *wc = p->weights + c;
    for (int32_t t = 0; t < kh * kw; ++t) {
        w[t] = wc[cx->woff[t]];
        wsum += w[t];
    }
    requant_args *rq = &cx->rq;
    const int32_t shift = p->shift[c];
    rq->base = (int32_t)((uint32_t)p->bias[c] + (uint32_t)p->input_offset * (uint32_t)wsum);
    rq->mult = p->multiplier[c];
    rq->left = shift > 0 ? shift : 0;
    rq->nright = shift > 0 ? 0 : shift;
    rq->buf = buf;
    for (int32_t oy0 = 0; oy0 < out_h; oy0 += cx->runs_rows) {
        const int32_t rows = out_h - oy0 < cx->runs_rows ? out_h - oy0 : cx->runs_rows;
        const int8_t *x0 = plane + oy0 * g->sh * wpl;
        rq->y = out + (size_t)oy0 * (size_t)g->out_rs + (size_t)c;
        rq->rows = rows;
        if (pg->kind == PLANE_S1) {
            /* plane rows are contiguous: one run over whole rows of plane positions
             * (the kw - 1 positions past out_w in each row are computed, not stored) */
            cx->a.x0 = x0;
            cx->a.x1 = x0 + wpl;
            cx->a.x2 = x0 + 2 * wpl;
            cx->a.buf = buf;
            cx->a.n = (rows * wpl - (wpl - out_w) + 3) / 4;
            taps33_s1(&cx->a);
        } else if (pg->kind == PLANE_S2) {
            cx->a.x0 = x0;
            cx->a.x1 = x0 + wpl;
            cx->a.x2 = x0 + 2 * wpl;
            cx->a.buf = buf;
            cx->a.rows = rows;
            taps33_s2(&cx->a);
        } else {
            const uint32x4_t xoff = vmulq_n_u32(vidupq_n_u32(0, 1), (uint32_t)g->sw);
            int32_t *bp = buf;
            for (int32_t r = 0; r < rows; ++r) {
                const int8_t *row = x0 + r * g->sh * wpl;
                for (int32_t ox = 0; ox < out_w; ox += 4, bp += 4) {
                    const int8_t *x = row + ox * g->sw;
                    int32x4_t acc = vdupq_n_s32(0);
                    for (int32_t ky = 0, t = 0; ky < kh; ++ky) {
                        const int8_t *xr = x + ky * g->dh * wpl;
                        for (int32_t kx = 0; kx < kw; ++kx, ++t) {
                            acc = vmlaq_n_s32(acc, vldrbq_gather_offset_s32(xr + kx * g->dw, xoff), w[t]);
                        }
                    }
                    vst1q_s32(bp, acc);
                }
            }
        }
        requant_rows(rq);
    }
}

__attribute__((noinline)) static void plane_path(const dtmm_depthwise_conv_s8_params *p, const plane_geom *pg,
                                                const int8_t *input, int8_t *output)
{
    const dtmm_dw_plane *g = &pg->o;
    int8_t plane[DW_MVE_PLANE + 16];
    memset(plane, -p->input_offset, (size_t)(pg->wp * pg->hp));
    plane_ctx cx;
    const int32_t out_ch = p->out_ch;
    /* sums per output row in buf: plane positions (S1) or groups of 4 */
    const int32_t row_sums = pg->kind == PLANE_S1 ? pg->wp : pg->ow4;
    cx.runs_rows = DW_MVE_BUF / row_sums;
    for (int32_t ky = 0, t = 0; ky < g->kh; ++ky) {
        for (int32_t kx = 0; kx < g->kw; ++kx, ++t) {
            cx.woff[t] = (ky * g->tap_ky + kx * g->tap_kx) * out_ch;
        }
    }
    cx.n4 = pg->ow4 / 4;
    cx.a.n = cx.n4;
    cx.a.skip = g->sh * pg->wp - 8 * cx.n4;
    cx.rq.out_off = p->output_offset;
    cx.rq.y4 = 4 * g->out_px;
    const int32_t groups = (g->out_w + 3) / 4; /* iterations of a requant row */
    cx.rq.bskip = 4 * row_sums - 16 * groups;
    cx.rq.yskip = g->out_rs - groups * 4 * g->out_px;
    cx.rq.n = g->out_w;
    cx.rq.lo = vdupq_n_s32(p->act_min);
    cx.rq.hi = vdupq_n_s32(p->act_max);
    cx.rq.soff = vmulq_n_u32(vidupq_n_u32(0, 1), (uint32_t)g->out_px);
    const size_t in_image = (size_t)p->in_h * (size_t)p->in_w * (size_t)p->in_ch;
    const size_t out_image = (size_t)p->out_h * (size_t)p->out_w * (size_t)out_ch;
    for (int32_t b = 0; b < p->batches; ++b) {
        for (int32_t ic = 0; ic < p->in_ch; ++ic) {
            plane_fill(pg, input + (size_t)b * in_image + (size_t)ic, plane);
            for (int32_t m = 0; m < p->depth_multiplier; ++m) {
                plane_channel(p, pg, &cx, plane, output + (size_t)b * out_image, ic * p->depth_multiplier + m);
            }
        }
    }
}

/*
 * Lane path (small maps, depth multiplier 1): channels on vector lanes,
 * one output pixel at a time, the channel block of 16 (then 8,
 * tail-predicated) the outer loop so that its requantization constants
 * are prepared once.  Per tap and 8 channels: VLDRB.S16 of the input and
 * of the weights, VMULLB/VMULLT.S16 into even/odd int32 lanes, two VADDs;
 * only the in-bounds taps of a pixel are visited (a table of DW_LANE_PX
 * pixels built once: first tap, kernel rows and columns inside the input).
 * Pixels that see every tap start from bias + input_offset * (sum of the
 * weights), computed once per block; border pixels start from the bias
 * and add the input offset to the input (one VADD.I16, exact while
 * x + input_offset fits int16).  Requantization on lanes (even/odd
 * channels), narrowed with VQMOVNB/VQMOVNT into channel order, clamped in
 * int16 lanes and stored 8 at a time.  Stack: 20 * DW_LANE_PX bytes of
 * pixel table and 320 bytes of constants.
 */
#define DW_LANE_PX 64

typedef struct {
    int32_t x;          /* input byte offset of the first in-bounds tap, channel 0 */
    int32_t w;          /* weights byte offset of that tap */
    int32_t rsx, rsw;   /* input, weights bytes from the end of a kernel row's taps to the next row */
    int16_t rows, cols; /* in-bounds kernel rows, columns; rows * cols == taps: the full kernel */
} lane_px;
_Static_assert(offsetof(lane_px, rsx) == 8 && offsetof(lane_px, rsw) == 12, "lane_px layout (the assembly below)");

/* requantization constants of 8 channels: [0] even channels, [1] odd ones */
typedef struct {
    int32x4_t full[2];  /* bias + input_offset * sum of all weights */
    int32x4_t bias[2];
    int32x4_t mult[2];
    int32x4_t left[2];  /* max(shift, 0) */
    int32x4_t right[2]; /* min(shift, 0) */
} lane_q;

/* n (1..8) channels from c: constants into q. */
static void lane_prep(const dtmm_depthwise_conv_s8_params *p, int32_t c, int32_t n, lane_q *q)
{
    const uint32x4_t idx = vidupq_n_u32(0, 2);
    const int32_t ch = p->out_ch, taps = p->kh * p->kw;
    const mve_pred16_t p16 = vctp16q((uint32_t)n);
    int16x8_t ws = vdupq_n_s16(0);
    for (int32_t t = 0; t < taps; ++t) {
        ws = vaddq_s16(ws, vldrbq_z_s16(p->weights + (size_t)t * (size_t)ch + (size_t)c, p16));
    }
    const int32x4_t wsum[2] = {vmovlbq_s16(ws), vmovltq_s16(ws)};
    for (int32_t h = 0; h < 2; ++h) {
        const mve_pred16_t pr = vctp32q((uint32_t)((n + 1 - h) / 2));
        const int32x4_t bias = vldrwq_gather_shifted_offset_z_s32(p->bias + c + h, idx, pr);
        const int32x4_t shift = vldrwq_gather_shifted_offset_z_s32(p->shift + c + h, idx, pr);
        q->bias[h] = bias;
        q->full[h] = vmlaq_n_s32(bias, wsum[h], p->input_offset);
        q->mult[h] = vldrwq_gather_shifted_offset_z_s32(p->multiplier + c + h, idx, pr);
        q->left[h] = vmaxq_s32(shift, vdupq_n_s32(0));
        q->right[h] = vminq_s32(shift, vdupq_n_s32(0));
    }
}

/* 8 outputs in channel order (int16 lanes), from the even/odd sums (bias included). */
ALWAYS_INLINE int16x8_t lane_rq(const lane_q *q, int32x4_t ae, int32x4_t ao, int32_t out_off, int16x8_t lo,
                                int16x8_t hi, int shl)
{
    if (shl) {
        ae = vshlq_s32(ae, q->left[0]);
        ao = vshlq_s32(ao, q->left[1]);
    }
    ae = vqrdmulhq_s32(ae, q->mult[0]);
    ao = vqrdmulhq_s32(ao, q->mult[1]);
    ae = vqaddq_s32(ae, vshrq_n_s32(vandq_s32(ae, q->right[0]), 31)); /* TFLite rounds half away from zero */
    ao = vqaddq_s32(ao, vshrq_n_s32(vandq_s32(ao, q->right[1]), 31));
    ae = vaddq_n_s32(vrshlq_s32(ae, q->right[0]), out_off);
    ao = vaddq_n_s32(vrshlq_s32(ao, q->right[1]), out_off);
    int16x8_t v = vqmovnbq_s32(vdupq_n_s16(0), ae);
    v = vqmovntq_s32(v, ao);
    return vminq_s16(vmaxq_s16(v, lo), hi);
}

/*
 * The in-bounds taps of one pixel (assembly: the compiler spills an
 * accumulator): rows x cols taps (both >= 1) from xp / wp, each tap tx / ch
 * bytes after the previous one, kernel rows px->rsx / px->rsw apart.
 * 16 channels: a0/a1 even/odd lanes of channels 0..7, a2/a3 of 8..15,
 * 15 instructions a tap (17 with the input offset).  8 channels: the lanes
 * of pred (P0), 10 (11).  OFF: add the input offset (a scalar, or a vector
 * for 8 channels) to the input.
 */
#define LANE_MAC(A, B)                                                                             \
    "vmullb.s16 %q[t], %q[x], %q[w]\n\t"                                                           \
    "vadd.i32 %q[" A "], %q[" A "], %q[t]\n\t"                                                     \
    "vmullt.s16 %q[t], %q[x], %q[w]\n\t"                                                           \
    "vadd.i32 %q[" B "], %q[" B "], %q[t]\n\t"
#define LANE_STEP                                                                                  \
    "add %[xp], %[xp], %[tx]\n\t"                                                                  \
    "add %[wp], %[wp], %[ch]\n\t"
#define LANE_BODY16(OFF)                                                                           \
    "vldrb.s16 %q[x], [%[xp], #8]\n\t"                                                             \
    "vldrb.s16 %q[w], [%[wp], #8]\n\t" OFF LANE_MAC("a2", "a3")                                    \
    "vldrb.s16 %q[x], [%[xp]]\n\t"                                                                 \
    "vldrb.s16 %q[w], [%[wp]]\n\t" LANE_STEP OFF LANE_MAC("a0", "a1")
#define LANE_BODY8(OFF)                                                                            \
    "vpstt\n\t"                                                                                    \
    "vldrbt.s16 %q[x], [%[xp]]\n\t"                                                                \
    "vldrbt.s16 %q[w], [%[wp]]\n\t" LANE_STEP OFF LANE_MAC("a0", "a1")
/* lr is free at a row's end: it carries the row skips */
#define LANE_CORE(NAME, PRE, BODY, ACC, ...)                                                       \
    ALWAYS_INLINE void NAME(const lane_px *px, const int8_t *xp, const int8_t *wp, int32_t rows, int32_t cols, \
                            int32_t tx, int32_t ch, int32_t off, int16x8_t off16, uint32_t pred, int32x4_t *a) \
    {                                                                                              \
        int16x8_t x, w;                                                                            \
        int32x4_t t;                                                                               \
        (void)off, (void)off16, (void)pred;                                                        \
        __asm__ volatile(PRE "1:\n\t"                                                              \
                         "dls lr, %[cols]\n\t"                                                     \
                         "2:\n\t" BODY "le lr, 2b\n\t"                                             \
                         "ldr lr, [%[px], #8]\n\t"                                                 \
                         "add %[xp], %[xp], lr\n\t"                                                \
                         "ldr lr, [%[px], #12]\n\t"                                                \
                         "add %[wp], %[wp], lr\n\t"                                                \
                         "subs %[rows], %[rows], #1\n\t"                                           \
                         "bne 1b\n\t"                                                              \
                         : ACC, [x] "=&w"(x), [w] "=&w"(w), [t] "=&w"(t), [xp] "+l"(xp), [wp] "+l"(wp), \
                           [rows] "+r"(rows)                                                       \
                         : [px] "r"(px), [cols] "r"(cols), [tx] "r"(tx), [ch] "r"(ch) __VA_ARGS__  \
                         : "lr", "memory", "cc");                                                  \
    }
#define LANE_ACC16 [a0] "+w"(a[0]), [a1] "+w"(a[1]), [a2] "+w"(a[2]), [a3] "+w"(a[3])
#define LANE_ACC8 [a0] "+w"(a[0]), [a1] "+w"(a[1])
LANE_CORE(lane_taps16, "", LANE_BODY16(""), LANE_ACC16, )
LANE_CORE(lane_taps16_off, "", LANE_BODY16("vadd.i16 %q[x], %q[x], %[off]\n\t"), LANE_ACC16, , [off] "r"(off))
LANE_CORE(lane_taps8, "vmsr p0, %[pred]\n\t", LANE_BODY8(""), LANE_ACC8, , [pred] "r"(pred))
LANE_CORE(lane_taps8_off, "vmsr p0, %[pred]\n\t", LANE_BODY8("vadd.i16 %q[x], %q[x], %q[off]\n\t"), LANE_ACC8, ,
          [off] "w"(off16), [pred] "r"(pred))

/* One block of 16 channels (w16) or of n <= 8 (predicated) over all pixels of one image. */
ALWAYS_INLINE void lane_block(const dtmm_depthwise_conv_s8_params *p, const lane_px *tab, int32_t npx,
                              const lane_q *q, const int8_t *in, const int8_t *wts, int8_t *out, int32_t n, int w16,
                              int shl)
{
    const int32_t ch = p->in_ch, taps = p->kh * p->kw;
    const int32_t tx = p->dilation_w * ch;
    const int32_t off = p->input_offset;
    const int16x8_t off16 = vdupq_n_s16((int16_t)off);
    const int32_t out_off = p->output_offset;
    const int16x8_t lo = vdupq_n_s16((int16_t)p->act_min), hi = vdupq_n_s16((int16_t)p->act_max);
    const mve_pred16_t p16 = vctp16q((uint32_t)n);
    for (int32_t i = 0; i < npx; ++i, out += ch) {
        const lane_px *t = &tab[i];
        const int32_t rows = t->rows, cols = t->cols;
        int32x4_t a[4];
        const int full = rows * cols == taps;
        a[0] = full ? q[0].full[0] : q[0].bias[0];
        a[1] = full ? q[0].full[1] : q[0].bias[1];
        if (w16) {
            a[2] = full ? q[1].full[0] : q[1].bias[0];
            a[3] = full ? q[1].full[1] : q[1].bias[1];
        } else {
            a[2] = a[3] = a[0];
        }
        if (rows > 0) {
            const int8_t *xr = in + t->x, *wr = wts + t->w;
            if (w16) {
                if (full) lane_taps16(t, xr, wr, rows, cols, tx, ch, off, off16, 0, a);
                else lane_taps16_off(t, xr, wr, rows, cols, tx, ch, off, off16, 0, a);
            } else {
                if (full) lane_taps8(t, xr, wr, rows, cols, tx, ch, off, off16, p16, a);
                else lane_taps8_off(t, xr, wr, rows, cols, tx, ch, off, off16, p16, a);
            }
        }
        if (w16) {
            vstrbq_s16(out, lane_rq(&q[0], a[0], a[1], out_off, lo, hi, shl));
            vstrbq_s16(out + 8, lane_rq(&q[1], a[2], a[3], out_off, lo, hi, shl));
        } else {
            vstrbq_p_s16(out, lane_rq(&q[0], a[0], a[1], out_off, lo, hi, shl), p16);
        }
    }
}

/* Whether the lane path takes the op: depth multiplier 1, at most DW_LANE_PX output pixels, at
 * least 8 channels, x + input_offset fits int16. */
static int lane_fits(const dtmm_depthwise_conv_s8_params *p)
{
    return p->depth_multiplier == 1 && p->in_ch >= 8 && (int64_t)p->out_h * p->out_w <= DW_LANE_PX &&
           p->kh * p->kw <= DW_MVE_MAX_TAPS && p->input_offset >= -32768 + 128 && p->input_offset <= 32767 - 127;
}

__attribute__((noinline)) static void lane_path(const dtmm_depthwise_conv_s8_params *p, const int8_t *input,
                                               int8_t *output)
{
    const int32_t ch = p->in_ch, npx = p->out_h * p->out_w;
    lane_px tab[DW_LANE_PX];
    for (int32_t oy = 0, i = 0; oy < p->out_h; ++oy) {
        const int32_t iy0 = oy * p->stride_h - p->pad_top;
        int32_t ky_s, ky_e;
        dtmm_tap_range(iy0, p->dilation_h, p->kh, p->in_h, &ky_s, &ky_e);
        for (int32_t ox = 0; ox < p->out_w; ++ox, ++i) {
            const int32_t ix0 = ox * p->stride_w - p->pad_left;
            int32_t kx_s, kx_e;
            dtmm_tap_range(ix0, p->dilation_w, p->kw, p->in_w, &kx_s, &kx_e);
            tab[i].rows = (int16_t)(ky_e - ky_s);
            tab[i].cols = (int16_t)(kx_e - kx_s);
            if (tab[i].rows == 0 || tab[i].cols == 0) {
                tab[i].rows = tab[i].cols = 0;
            }
            tab[i].x = ((iy0 + ky_s * p->dilation_h) * p->in_w + ix0 + kx_s * p->dilation_w) * ch;
            tab[i].w = (ky_s * p->kw + kx_s) * ch;
            tab[i].rsx = (p->dilation_h * p->in_w - tab[i].cols * p->dilation_w) * ch;
            tab[i].rsw = (p->kw - tab[i].cols) * ch;
        }
    }
    int shl = 0;
    for (int32_t c = 0; c < ch; ++c) {
        shl |= p->shift[c] > 0;
    }
    const size_t in_image = (size_t)p->in_h * (size_t)p->in_w * (size_t)ch;
    const size_t out_image = (size_t)npx * (size_t)ch;
    lane_q q[2];
    for (int32_t c = 0; c < ch;) {
        const int w16 = ch - c >= 16;
        const int32_t n = w16 ? 16 : (ch - c < 8 ? ch - c : 8);
        lane_prep(p, c, n < 8 ? n : 8, &q[0]);
        if (w16) {
            lane_prep(p, c + 8, 8, &q[1]);
        }
        for (int32_t b = 0; b < p->batches; ++b) {
            const int8_t *in = input + (size_t)b * in_image + c, *wts = p->weights + c;
            int8_t *out = output + (size_t)b * out_image + c;
            if (w16) {
                if (shl) lane_block(p, tab, npx, q, in, wts, out, 8, 1, 1);
                else lane_block(p, tab, npx, q, in, wts, out, 8, 1, 0);
            } else {
                if (shl) lane_block(p, tab, npx, q, in, wts, out, n, 0, 1);
                else lane_block(p, tab, npx, q, in, wts, out, n, 0, 0);
            }
        }
        c += n;
    }
}

/* Column path, or the portable one when it does not apply. */
__attribute__((noinline)) static dtmm_status column_path(const dtmm_depthwise_conv_s8_params *p, const int8_t *input,
                                                        int8_t *output)
{
    const int32_t in_ch = p->in_ch, out_ch = p->out_ch, mult = p->depth_multiplier;
    const int32_t kh = p->kh, kw = p->kw, taps = kh * kw;
    const int32_t zero_point = -p->input_offset;
    group_ctx g;
    g.p = p;
    g.tx = p->dilation_w * in_ch;
    g.in_row = p->in_w * in_ch;
    g.out_row = p->out_w * out_ch;
    const int32_t pad_len = (kw - 1) * g.tx + 4;
    if (taps > DW_MVE_MAX_TAPS || kh > DW_MVE_MAX_ROWS || pad_len > DW_MVE_PAD || zero_point < -128 ||
        zero_point > 127) {
        return dtmm_depthwise_conv_s8_c(p, input, output);
    }
    int32_t wt[DW_MVE_MAX_TAPS]; /* the group's weights, 4 bytes a tap, [kh][kw] */
    int32_t wc[DW_MVE_MAX_TAPS]; /* those of the current kernel columns, [kh][cols] */
    int8_t pad[DW_MVE_PAD];
    memset(pad, zero_point, (size_t)pad_len);
    g.wc = (const int8_t *)wc;
    g.pad = pad;
    const size_t in_image = (size_t)p->in_h * (size_t)g.in_row;
    const size_t out_image = (size_t)p->out_h * (size_t)g.out_row;
    group_q q;
    q.lo = vdupq_n_s32(p->act_min);
    q.hi = vdupq_n_s32(p->act_max);
    q.out_off = vdupq_n_s32(p->output_offset);

    for (int32_t c = 0; c < out_ch; c += 4) {
        const int32_t n = out_ch - c < 4 ? out_ch - c : 4;
        q.tail = n < 4;
        q.pr = vctp32q((uint32_t)n);
        g.kind = !q.tail && mult == 1 ? core_kind(g.tx) : CORE_C;
        for (int32_t t = 0; t < taps; ++t) { /* missing lanes 0 */
            wt[t] = 0;
            memcpy(&wt[t], p->weights + (size_t)t * (size_t)out_ch + (size_t)c, (size_t)n);
        }
        q.mult = vldrwq_z_s32(p->multiplier + c, q.pr);
        const int32x4_t shift = vldrwq_z_s32(p->shift + c, q.pr);
        q.left = vmaxq_s32(shift, vdupq_n_s32(0));
        q.right = vminq_s32(shift, vdupq_n_s32(0));
        q.shl = vmaxvq_s32(0, q.left) > 0;
        const int32x4_t bias = vldrwq_z_s32(p->bias + c, q.pr);
        const int32_t ic0 = c / mult;
        uint32_t lanes[4] = {0, 0, 0, 0};
        for (int32_t j = 1; j < n; ++j) {
            lanes[j] = (uint32_t)((c + j) / mult - ic0);
        }
        g.lane = vld1q_u32(lanes);
        int32_t cs = -1, ce = -1; /* kernel columns of wc and q.base */
        q.base = bias;
        for (int32_t b = 0; b < p->batches; ++b) {
            const int8_t *in = input + (size_t)b * in_image + ic0;
            int8_t *out = output + (size_t)b * out_image + c;
            for (int32_t ox = 0; ox < p->out_w; ++ox) {
                const int32_t ix0 = ox * p->stride_w - p->pad_left;
                int32_t s, e;
                dtmm_tap_range(ix0, p->dilation_w, kw, p->in_w, &s, &e);
                if (s != cs || e != ce) {
                    int32x4_t ws = vdupq_n_s32(0);
                    int32_t *dst = wc;
                    for (int32_t r = 0; r < kh; ++r) {
                        for (int32_t k = s; k < e; ++k) {
                            *dst = wt[r * kw + k];
                            ws = vaddq_s32(ws, vldrbq_s32((const int8_t *)dst));
                            ++dst;
                        }
                    }
                    q.base = vmlaq_n_s32(bias, ws, p->input_offset);
                    cs = s;
                    ce = e;
                }
                column(&g, &q, in + (ix0 + s * p->dilation_w) * in_ch, out + ox * out_ch, e - s);
            }
        }
    }
    return DTMM_OK;
}

dtmm_status dtmm_depthwise_conv_s8_mve(const dtmm_depthwise_conv_s8_params *p, const int8_t *input, int8_t *output)
{
    if (lane_fits(p)) {
        lane_path(p, input, output);
        return DTMM_OK;
    }
    plane_geom pg;
    if (p->input_offset >= -127 && p->input_offset <= 128 && plane_fits(p, &pg)) {
        plane_path(p, &pg, input, output);
        return DTMM_OK;
    }
    return column_path(p, input, output);
}

#else /* no integer MVE: keep the symbol, forward to the portable path */

dtmm_status dtmm_depthwise_conv_s8_mve(const dtmm_depthwise_conv_s8_params *p, const int8_t *input, int8_t *output)
{
    return dtmm_depthwise_conv_s8_c(p, input, output);
}

#endif
