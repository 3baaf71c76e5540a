/*
 * dtmm_depthwise_conv_s8_mve.c - int8 DEPTHWISE_CONV_2D with Helium MVE.
 *
 * Channels run four at a time on int32 lanes (VLDRB.S32 widens 4 int8).
 * With depth multiplier 1, blocks of 4 output pixels that use the same
 * kernel taps share each weight vector: a tap costs one weight load plus,
 * per pixel, a load, VMUL and VADD (assembly rows: 15 instructions a tap
 * when the tap step is 8..64 bytes (post-increment), 16 when the pixel step
 * is 8, 16 or 32 bytes (immediate offsets), 20 otherwise).  The input offset is not added per tap: the block sums the
 * weights of the taps it used (one VADD per tap for the 4 pixels) and adds
 * input_offset * that sum once, with the bias (exact: int32 arithmetic
 * wraps as TFLite's does).  Blocks run along each output row over the
 * interior columns (kernel rows outside the input skipped for the whole
 * block), then down each remaining column over the interior rows (kernel
 * columns clipped alike); a last partial block overlaps its neighbour.
 * Corner pixels and depth multipliers > 1 (input lanes gathered with
 * VLDRB.S32 [base, Qoff]) run one pixel at a time with the offset added per
 * tap.  out_ch % 4 uses a tail-predicated last group.  Requantization is
 * dtmm_mve_requantize() (TFLite double rounding) on 4 channels, stored with
 * VSTRB.32.
 * No scratch memory.
 */
#include <stddef.h>

#include "dtmm_ops.h"

#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)

#include <arm_mve.h>

#include "../common/dtmm_fixedpoint_mve.h"

#define ALWAYS_INLINE static inline __attribute__((always_inline))

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

/* Per-output-channel quantization and clamp of one group of 4 channels. */
typedef struct {
    int32x4_t mult, shift, lo, hi, out_off;
} quant4;

ALWAYS_INLINE int32x4_t load4(const int8_t *ptr, int tail, mve_pred16_t pr)
{
    return tail ? vldrbq_z_s32(ptr, pr) : vldrbq_s32(ptr);
}

ALWAYS_INLINE void store4(int8_t *y, int32x4_t acc, const quant4 *q, int tail, mve_pred16_t pr)
{
    int32x4_t v = vaddq_s32(dtmm_mve_requantize(acc, q->mult, q->shift), q->out_off);
    v = vminq_s32(vmaxq_s32(v, q->lo), q->hi);
    if (tail) {
        vstrbq_p_s32(y, v, pr);
    } else {
        vstrbq_s32(y, v);
    }
}

ALWAYS_INLINE void load_quant(const dtmm_depthwise_conv_s8_params *p, int32_t c, quant4 *q, int tail, mve_pred16_t pr)
{
    q->mult = tail ? vldrwq_z_s32(p->multiplier + c, pr) : vldrwq_s32(p->multiplier + c);
    q->shift = tail ? vldrwq_z_s32(p->shift + c, pr) : vldrwq_s32(p->shift + c);
}

/*
 * One kernel row of a 4-pixel block, full channel group: kw taps, the 4
 * pixels px bytes apart, taps tx bytes apart, weight taps wst bytes apart.
 * Assembly because the C version spills a Q register; per tap: weight
 * load, weight-sum add, 4 x (widening load, VMUL, VADD), pointer steps and
 * LE.  With a compile-time pixel step (PX_IMM) the 4 loads use immediate
 * offsets: 16 instructions a tap, else 20.  Widening loads take low
 * registers only, hence the "l" constraints.
 */
#define DW_TAP_HEAD                                                                                \
    "dls lr, %[kw]\n\t"                                                                            \
    "1:\n\t"                                                                                       \
    "vldrb.s32 %q[t0], [%[w]]\n\t"                                                                 \
    "add %[w], %[w], %[wst]\n\t"                                                                   \
    "vadd.i32 %q[ws], %q[ws], %q[t0]\n\t"                                                          \
    "vldrb.s32 %q[t1], [%[x]]\n\t"                                                                 \
    "vmul.i32 %q[t1], %q[t1], %q[t0]\n\t"                                                          \
    "vadd.i32 %q[a0], %q[a0], %q[t1]\n\t"
#define DW_MAC(A, ADDR)                                                                            \
    "vldrb.s32 %q[t1], " ADDR "\n\t"                                                               \
    "vmul.i32 %q[t1], %q[t1], %q[t0]\n\t"                                                          \
    "vadd.i32 %q[" A "], %q[" A "], %q[t1]\n\t"
#define DW_TAP_TAIL                                                                                \
    "add %[x], %[x], %[tx]\n\t"                                                                    \
    "le lr, 1b\n\t"
#define DW_ROW_OPERANDS                                                                            \
    [a0] "+w"(*a0), [a1] "+w"(*a1), [a2] "+w"(*a2), [a3] "+w"(*a3), [ws] "+w"(*ws), [t0] "=&w"(t0), \
        [t1] "=&w"(t1), [x] "+l"(x), [w] "+l"(w)
#define DW_ROW_ARGS                                                                                \
    const int8_t *x, const int8_t *w, int32_t kw, int32_t px, int32_t tx, int32_t wst, int32x4_t *a0, \
        int32x4_t *a1, int32x4_t *a2, int32x4_t *a3, int32x4_t *ws

/* Pixel step known at compile time (PX, 3*PX <= 127): immediate offsets. */
#define DW_ROW_IMM(NAME, PX1, PX2, PX3)                                                            \
    ALWAYS_INLINE void NAME(DW_ROW_ARGS)                                                           \
    {                                                                                              \
        int32x4_t t0, t1;                                                                          \
        (void)px;                                                                                  \
        __asm__ volatile(DW_TAP_HEAD DW_MAC("a1", "[%[x], #" PX1 "]") DW_MAC("a2", "[%[x], #" PX2 "]") \
                             DW_MAC("a3", "[%[x], #" PX3 "]") DW_TAP_TAIL                          \
                         : DW_ROW_OPERANDS                                                         \
                         : [kw] "r"(kw), [tx] "r"(tx), [wst] "r"(wst)                               \
                         : "lr", "memory");                                                        \
    }
DW_ROW_IMM(row_px8, "8", "16", "24")
DW_ROW_IMM(row_px16, "16", "32", "48")
DW_ROW_IMM(row_px32, "32", "64", "96")

/* Tap step TX = weight step known at compile time (<= 127): four pixel
 * pointers and the weight pointer advance by post-increment, 15 instructions
 * a tap for any pixel step. */
#define DW_MAC_POST(A, X, TX)                                                                      \
    "vldrb.s32 %q[t1], [%[" X "]], #" TX "\n\t"                                                    \
    "vmul.i32 %q[t1], %q[t1], %q[t0]\n\t"                                                          \
    "vadd.i32 %q[" A "], %q[" A "], %q[t1]\n\t"
#define DW_ROW_TX(NAME, TX)                                                                        \
    ALWAYS_INLINE void NAME(const int8_t *x0, const int8_t *w, int32_t kw, int32_t px,                       \
                            int32x4_t *a0, int32x4_t *a1, int32x4_t *a2, int32x4_t *a3, int32x4_t *ws)        \
    {                                                                                              \
        int32x4_t t0, t1;                                                                          \
        const int8_t *x1 = x0 + px, *x2 = x1 + px, *x3 = x2 + px;                                  \
        __asm__ volatile("dls lr, %[kw]\n\t"                                                       \
                         "1:\n\t"                                                                  \
                         "vldrb.s32 %q[t0], [%[w]], #" TX "\n\t"                                   \
                         "vadd.i32 %q[ws], %q[ws], %q[t0]\n\t" DW_MAC_POST("a0", "x0", TX)          \
                             DW_MAC_POST("a1", "x1", TX) DW_MAC_POST("a2", "x2", TX)               \
                                 DW_MAC_POST("a3", "x3", TX) "le lr, 1b\n\t"                       \
                         : [a0] "+w"(*a0), [a1] "+w"(*a1), [a2] "+w"(*a2), [a3] "+w"(*a3),          \
                           [ws] "+w"(*ws), [t0] "=&w"(t0), [t1] "=&w"(t1), [x0] "+l"(x0),           \
                           [x1] "+l"(x1), [x2] "+l"(x2), [x3] "+l"(x3), [w] "+l"(w)                 \
                         : [kw] "r"(kw)                                                            \
                         : "lr", "memory");                                                        \
    }
DW_ROW_TX(row_tx8, "8")
DW_ROW_TX(row_tx16, "16")
DW_ROW_TX(row_tx32, "32")
DW_ROW_TX(row_tx64, "64")

/* Any pixel step. */
ALWAYS_INLINE void row_any(DW_ROW_ARGS)
{
    int32x4_t t0, t1;
    const int8_t *x1;
    __asm__ volatile(DW_TAP_HEAD "add %[x1], %[x], %[px]\n\t" DW_MAC("a1", "[%[x1]]") "add %[x1], %[x1], %[px]\n\t"
                     DW_MAC("a2", "[%[x1]]") "add %[x1], %[x1], %[px]\n\t" DW_MAC("a3", "[%[x1]]") DW_TAP_TAIL
                     : DW_ROW_OPERANDS, [x1] "=&l"(x1)
                     : [kw] "r"(kw), [px] "r"(px), [tx] "r"(tx), [wst] "r"(wst)
                     : "lr", "memory");
}

/* A block of 4 output pixels that use the same kernel taps: a rows x cols
 * rectangle of them, every tap inside the input. */
typedef struct {
    int32_t px;   /* input bytes between the 4 pixels */
    int32_t ys;   /* output bytes between the 4 pixels */
    int32_t rows; /* kernel rows used */
    int32_t cols; /* kernel columns used */
    int kind;     /* ROW_*: the row kernel */
} block_geom;

enum { ROW_ANY, ROW_PX8, ROW_PX16, ROW_PX32, ROW_TX8, ROW_TX16, ROW_TX32, ROW_TX64 };

/*
 * Four pixels, channels [c, c+4), depth multiplier 1.  x points at the
 * first used tap of pixel 0, channel c; w at that tap's weights, channel c.
 */
ALWAYS_INLINE void block4(const dtmm_depthwise_conv_s8_params *p, const int8_t *x, const int8_t *w,
                          const block_geom *g, int8_t *y, int32_t c, int tail, mve_pred16_t pr, quant4 *q, int kind)
{
    const int32_t in_ch = p->in_ch;
    const int32_t px = g->px;
    const int32_t tx = p->dilation_w * in_ch;           /* bytes between kernel columns */
    const int32_t ty = p->dilation_h * p->in_w * in_ch; /* bytes between kernel rows */
    const int32_t cols = g->cols;
    const int32_t rows = cols > 0 ? g->rows : 0;
    const int32_t wrow = p->kw * p->out_ch;
    int32x4_t a0 = vdupq_n_s32(0), a1 = a0, a2 = a0, a3 = a0, ws = a0;
    if (!tail) {
        for (int32_t r = 0; r < rows; ++r) {
            switch (kind) {
            case ROW_TX8: row_tx8(x, w, cols, px, &a0, &a1, &a2, &a3, &ws); break;
            case ROW_TX16: row_tx16(x, w, cols, px, &a0, &a1, &a2, &a3, &ws); break;
            case ROW_TX32: row_tx32(x, w, cols, px, &a0, &a1, &a2, &a3, &ws); break;
            case ROW_TX64: row_tx64(x, w, cols, px, &a0, &a1, &a2, &a3, &ws); break;
            case ROW_PX8: row_px8(x, w, cols, px, tx, p->out_ch, &a0, &a1, &a2, &a3, &ws); break;
            case ROW_PX16: row_px16(x, w, cols, px, tx, p->out_ch, &a0, &a1, &a2, &a3, &ws); break;
            case ROW_PX32: row_px32(x, w, cols, px, tx, p->out_ch, &a0, &a1, &a2, &a3, &ws); break;
            default: row_any(x, w, cols, px, tx, p->out_ch, &a0, &a1, &a2, &a3, &ws); break;
            }
            x += ty;
            w += wrow;
        }
    } else {
        for (int32_t r = 0; r < rows; ++r) {
            const int8_t *xr = x;
            const int8_t *wr = w;
            for (int32_t k = 0; k < cols; ++k) {
                const int32x4_t wv = load4(wr, tail, pr);
                ws = vaddq_s32(ws, wv);
                a0 = vaddq_s32(a0, vmulq_s32(load4(xr, tail, pr), wv));
                a1 = vaddq_s32(a1, vmulq_s32(load4(xr + px, tail, pr), wv));
                a2 = vaddq_s32(a2, vmulq_s32(load4(xr + 2 * px, tail, pr), wv));
                a3 = vaddq_s32(a3, vmulq_s32(load4(xr + 3 * px, tail, pr), wv));
                xr += tx;
                wr += p->out_ch;
            }
            x += ty;
            w += wrow;
        }
    }
    load_quant(p, c, q, tail, pr);
    const int32x4_t bias = tail ? vldrwq_z_s32(p->bias + c, pr) : vldrwq_s32(p->bias + c);
    const int32x4_t base = vmlaq_n_s32(bias, ws, p->input_offset);
    const int32_t ystep = g->ys;
    store4(y, vaddq_s32(a0, base), q, tail, pr);
    store4(y + ystep, vaddq_s32(a1, base), q, tail, pr);
    store4(y + 2 * ystep, vaddq_s32(a2, base), q, tail, pr);
    store4(y + 3 * ystep, vaddq_s32(a3, base), q, tail, pr);
}

/* All channel groups of a block; x, w, y at channel 0; kind is a constant after inlining. */
ALWAYS_INLINE void block_all_k(const dtmm_depthwise_conv_s8_params *p, const int8_t *x, const int8_t *w,
                               const block_geom *g, int8_t *y, quant4 *q, int kind)
{
    const int32_t n4 = p->out_ch & ~3;
    for (int32_t c = 0; c < n4; c += 4) {
        block4(p, x + c, w + c, g, y + c, c, 0, 0, q, kind);
    }
    if (n4 < p->out_ch) {
        const mve_pred16_t pr = vctp32q((uint32_t)(p->out_ch - n4));
        block4(p, x + n4, w + n4, g, y + n4, n4, 1, pr, q, kind);
    }
}

/* Which row kernel a block uses: one specialized copy of the block code each. */
static int row_kind(const dtmm_depthwise_conv_s8_params *p, int32_t px)
{
    const int32_t tx = p->dilation_w * p->in_ch;
    if (tx == p->out_ch) { /* tap step == weight step: post-increment rows */
        switch (tx) {
        case 8: return ROW_TX8;
        case 16: return ROW_TX16;
        case 32: return ROW_TX32;
        case 64: return ROW_TX64;
        default: break;
        }
    }
    switch (px) {
    case 8: return ROW_PX8;
    case 16: return ROW_PX16;
    case 32: return ROW_PX32;
    default: return ROW_ANY;
    }
}

static void block_all(const dtmm_depthwise_conv_s8_params *p, const int8_t *x, const int8_t *w, const block_geom *g,
                      int8_t *y, quant4 *q)
{
    switch (g->kind) {
    case ROW_TX8: block_all_k(p, x, w, g, y, q, ROW_TX8); break;
    case ROW_TX16: block_all_k(p, x, w, g, y, q, ROW_TX16); break;
    case ROW_TX32: block_all_k(p, x, w, g, y, q, ROW_TX32); break;
    case ROW_TX64: block_all_k(p, x, w, g, y, q, ROW_TX64); break;
    case ROW_PX8: block_all_k(p, x, w, g, y, q, ROW_PX8); break;
    case ROW_PX16: block_all_k(p, x, w, g, y, q, ROW_PX16); break;
    case ROW_PX32: block_all_k(p, x, w, g, y, q, ROW_PX32); break;
    default: block_all_k(p, x, w, g, y, q, ROW_ANY); break;
    }
}

/* One pixel, channels [c, c+4), any depth multiplier; taps [ky_s,ky_e) x [kx_s,kx_e). */
ALWAYS_INLINE void pixel1(const dtmm_depthwise_conv_s8_params *p, const int8_t *in, int32_t iy0, int32_t ix0,
                          int32_t ky_s, int32_t ky_e, int32_t kx_s, int32_t kx_e, int8_t *y, int32_t c, int tail,
                          mve_pred16_t pr, quant4 *q)
{
    const int32_t in_ch = p->in_ch;
    const int32_t mult = p->depth_multiplier;
    int32x4_t acc = vdupq_n_s32(0);
    /* input channel of each lane, relative to the first lane's */
    const int32_t ic0 = c / mult;
    uint32x4_t lane = vdupq_n_u32(0);
    if (mult > 1) {
        lane = vsetq_lane_u32((uint32_t)((c + 1) / mult - ic0), lane, 1);
        lane = vsetq_lane_u32((uint32_t)((c + 2) / mult - ic0), lane, 2);
        lane = vsetq_lane_u32((uint32_t)((c + 3) / mult - ic0), lane, 3);
    }
    for (int32_t ky = ky_s; ky < ky_e; ++ky) {
        const int32_t iy = iy0 + ky * p->dilation_h;
        const int8_t *xr = in + ((size_t)iy * (size_t)p->in_w + (size_t)(ix0 + kx_s * p->dilation_w)) * (size_t)in_ch + (size_t)ic0;
        const int8_t *wr = p->weights + ((size_t)ky * (size_t)p->kw + (size_t)kx_s) * (size_t)p->out_ch + (size_t)c;
        for (int32_t kx = kx_s; kx < kx_e; ++kx) {
            int32x4_t xv;
            if (mult > 1) {
                xv = tail ? vldrbq_gather_offset_z_s32(xr, lane, pr) : vldrbq_gather_offset_s32(xr, lane);
            } else {
                xv = load4(xr, tail, pr);
            }
            acc = vaddq_s32(acc, vmulq_s32(vaddq_n_s32(xv, p->input_offset), load4(wr, tail, pr)));
            xr += p->dilation_w * in_ch;
            wr += p->out_ch;
        }
    }
    load_quant(p, c, q, tail, pr);
    acc = vaddq_s32(acc, tail ? vldrwq_z_s32(p->bias + c, pr) : vldrwq_s32(p->bias + c));
    store4(y, acc, q, tail, pr);
}

static void pixel_all(const dtmm_depthwise_conv_s8_params *p, const int8_t *in, int32_t iy0, int32_t ix0,
                      int32_t ky_s, int32_t ky_e, int8_t *y, quant4 *q)
{
    int32_t kx_s, kx_e;
    tap_range(ix0, p->dilation_w, p->kw, p->in_w, &kx_s, &kx_e);
    const int32_t n4 = p->out_ch & ~3;
    for (int32_t c = 0; c < n4; c += 4) {
        pixel1(p, in, iy0, ix0, ky_s, ky_e, kx_s, kx_e, y + c, c, 0, 0, q);
    }
    if (n4 < p->out_ch) {
        const mve_pred16_t pr = vctp32q((uint32_t)(p->out_ch - n4));
        pixel1(p, in, iy0, ix0, ky_s, ky_e, kx_s, kx_e, y + n4, n4, 1, pr, q);
    }
}

/* Output positions [lo, hi) whose kernel span (k-1)*dil+1 from o*stride-pad lies inside [0, size). */
static void interior(int32_t size, int32_t k, int32_t dil, int32_t stride, int32_t pad, int32_t out, int32_t *lo,
                     int32_t *hi)
{
    const int32_t last = size - 1 - (k - 1) * dil + pad; /* largest o*stride allowed */
    int32_t l = (pad + stride - 1) / stride;
    int32_t h = last >= 0 ? last / stride + 1 : 0;
    if (h > out) h = out;
    if (l > h) l = h;
    *lo = l;
    *hi = h;
}

dtmm_status dtmm_depthwise_conv_s8_mve(const dtmm_depthwise_conv_s8_params *p, const int8_t *input, int8_t *output)
{
    const int32_t in_ch = p->in_ch;
    const int32_t out_ch = p->out_ch;
    const size_t in_image = (size_t)p->in_h * (size_t)p->in_w * (size_t)in_ch;
    const size_t out_image = (size_t)p->out_h * (size_t)p->out_w * (size_t)out_ch;
    quant4 q;
    q.lo = vdupq_n_s32(p->act_min);
    q.hi = vdupq_n_s32(p->act_max);
    q.out_off = vdupq_n_s32(p->output_offset);
    q.mult = q.shift = q.lo;

    /*
     * Blocks of 4 pixels need depth multiplier 1 and the same taps for the
     * 4 pixels: along a row, interior columns (every kernel column inside
     * the input; kernel rows clipped alike); down a column, interior rows
     * (kernel columns clipped alike).  Rows first, the columns left over
     * (borders, out_w % 4) then go down in blocks; the rest pixel by pixel.
     */
    int32_t ox_lo, ox_hi, oy_lo, oy_hi;
    interior(p->in_w, p->kw, p->dilation_w, p->stride_w, p->pad_left, p->out_w, &ox_lo, &ox_hi);
    interior(p->in_h, p->kh, p->dilation_h, p->stride_h, p->pad_top, p->out_h, &oy_lo, &oy_hi);
    if (p->depth_multiplier != 1) {
        ox_hi = ox_lo;
        oy_hi = oy_lo;
    }
    /* Blocks cover [lo, end): when the interior is not a multiple of 4 long,
     * the last block overlaps the one before (recomputing up to 3 pixels is
     * cheaper than running them one by one). */
    const int32_t ox_end = ox_hi - ox_lo >= 4 ? ox_hi : ox_lo;
    const int32_t oy_end = oy_hi - oy_lo >= 4 ? oy_hi : oy_lo;
    const size_t in_row = (size_t)p->in_w * (size_t)in_ch;
    const size_t out_row = (size_t)p->out_w * (size_t)out_ch;

    for (int32_t b = 0; b < p->batches; ++b) {
        const int8_t *in = input + (size_t)b * in_image;
        int8_t *out = output + (size_t)b * out_image;
        block_geom g;
        /* row blocks */
        g.px = p->stride_w * in_ch;
        g.ys = out_ch;
        g.cols = p->kw;
        g.kind = row_kind(p, g.px);
        for (int32_t oy = 0; oy < p->out_h && ox_end > ox_lo; ++oy) {
            const int32_t iy0 = oy * p->stride_h - p->pad_top;
            int32_t ky_s, ky_e;
            tap_range(iy0, p->dilation_h, p->kh, p->in_h, &ky_s, &ky_e);
            g.rows = ky_e - ky_s;
            const int8_t *w = p->weights + (size_t)ky_s * (size_t)p->kw * (size_t)out_ch;
            for (int32_t ox0 = ox_lo; ox0 < ox_end; ox0 += 4) {
                const int32_t ox = ox0 + 4 <= ox_end ? ox0 : ox_end - 4;
                const int32_t ix0 = ox * p->stride_w - p->pad_left;
                const int8_t *x = in + (size_t)(iy0 + ky_s * p->dilation_h) * in_row + (size_t)ix0 * (size_t)in_ch;
                block_all(p, x, w, &g, out + (size_t)oy * out_row + (size_t)ox * (size_t)out_ch, &q);
            }
        }
        /* the other columns: column blocks over interior rows, then single pixels */
        g.px = p->stride_h * (int32_t)in_row;
        g.ys = (int32_t)out_row;
        g.rows = p->kh;
        g.kind = row_kind(p, g.px);
        for (int32_t ox = 0; ox < p->out_w; ++ox) {
            if (ox == ox_lo && ox_end > ox_lo) {
                ox = ox_end;
                if (ox >= p->out_w) break;
            }
            const int32_t ix0 = ox * p->stride_w - p->pad_left;
            int32_t kx_s, kx_e;
            tap_range(ix0, p->dilation_w, p->kw, p->in_w, &kx_s, &kx_e);
            g.cols = kx_e - kx_s;
            const int8_t *w = p->weights + (size_t)kx_s * (size_t)out_ch;
            for (int32_t oy = 0; oy < p->out_h; ++oy) {
                const int32_t iy0 = oy * p->stride_h - p->pad_top;
                int8_t *y = out + (size_t)oy * out_row + (size_t)ox * (size_t)out_ch;
                if (oy >= oy_lo && oy < oy_end) {
                    const int32_t oyb = oy + 4 <= oy_end ? oy : oy_end - 4; /* overlapping last block */
                    const int32_t iyb = oyb * p->stride_h - p->pad_top;
                    const int8_t *x = in + (size_t)iyb * in_row + (size_t)(ix0 + kx_s * p->dilation_w) * (size_t)in_ch;
                    block_all(p, x, w, &g, out + (size_t)oyb * out_row + (size_t)ox * (size_t)out_ch, &q);
                    oy = oyb + 3;
                    continue;
                }
                int32_t ky_s, ky_e;
                tap_range(iy0, p->dilation_h, p->kh, p->in_h, &ky_s, &ky_e);
                pixel_all(p, in, iy0, ix0, ky_s, ky_e, y, &q);
            }
        }
    }
    return DTMM_OK;
}

#else /* no integer MVE: keep the symbol, forward to the portable path */

dtmm_status dtmm_depthwise_conv_s8_mve(const dtmm_depthwise_conv_s8_params *p, const int8_t *input, int8_t *output)
{
    return dtmm_depthwise_conv_s8_c(p, input, output);
}

#endif
