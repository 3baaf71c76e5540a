/*
 * dtmm_conv_s8_c.c - portable filterlet int8 convolution (Cortex-M0/M3, host).
 *
 * Computes only stored filterlets: each is one dot product of cin bytes with
 * the contiguous NHWC input slice of its tap.  Byte loads only, so it is
 * correct at any alignment (filterlets are merely byte-aligned when
 * cin % 4 != 0, and Cortex-M0 faults on unaligned words).
 *
 * Work is split by output pixel:
 *  - interior pixels (every tap inside the input) fold the input offset out
 *    of the inner loop: sum w*(x+off) = sum w*x + off*sum w, and
 *    bias + off*sum(w of the filter) is precomputed once per call (scratch);
 *    two horizontally adjacent interior pixels share every weight load;
 *  - border pixels skip out-of-bounds taps (padding is real zero under the
 *    input-offset formulation, so it contributes nothing) and add the offset
 *    per tap;
 *  - with dilation_w == 1, stored filterlets at adjacent positions of one
 *    kernel row are contiguous in the weights and in the input, so they are
 *    one dot product ("run"); sparse blobs get their runs listed once per
 *    call (scratch), DENSE blobs walk no index at all (a run per kernel row);
 *  - kernels with kh*kw > 32 (no 32-bit position masks) take a slow generic
 *    walk over the index itself.
 */
#include <stddef.h>

#include "dtmm_kernels.h"
#include "../common/dtmm_fixedpoint.h"

#define MAX_POSITIONS 32u

/* Each per-pixel routine is a function of its own: inlined into one big loop
 * nest they would share (and spill) registers. */
#if defined(__GNUC__)
#define DTMM_NOINLINE __attribute__((noinline))
#else
#define DTMM_NOINLINE
#endif

typedef struct {
    const int8_t *in;
    int8_t *out;
    const int8_t *weights;
    const int32_t *bias;
    const int32_t *mult;
    const int32_t *shift;
    const int32_t *init;    /* bias + input_offset * filter weight sum (interior pixels);
                               for an empty filter (mask 0): its constant int8 output */
    const uint32_t *masks;  /* kept positions per filter; NULL for DENSE */
    const uint32_t *run_first; /* [cout + 1]: filter o's runs are runs[run_first[o]..run_first[o + 1]) */
    const uint8_t *runs;       /* per run: first position, number of filterlets */
    int32_t in_off;
    int32_t out_lo, out_hi; /* clamp bounds with output_offset subtracted */
    int32_t out_off;
    uint32_t cin, cout, kh, kw, positions;
    int32_t in_h, in_w, stride_h, stride_w, dil_h, dil_w, pad_top, pad_left;
    int32_t pos_off[MAX_POSITIONS]; /* input byte offset of tap p from tap 0 */
    uint32_t n_runs, run_len;       /* DENSE interior: contiguous runs per filter */
    int32_t run_off[MAX_POSITIONS];
} conv_ctx;

static inline uint32_t lowest_bit(uint32_t m)
{
#if defined(__GNUC__)
    return (uint32_t)__builtin_ctz(m);
#else
    uint32_t p = 0;
    while (!(m & 1u)) {
        m >>= 1;
        p++;
    }
    return p;
#endif
}

/*
 * acc + sum w[i]*x[i], unrolled by 4 so the loop overhead is paid once per 4
 * MACs; one accumulation per statement keeps it a chain of MLAs.
 */
static inline int32_t dot1(const int8_t *w, const int8_t *x, uint32_t n, int32_t acc)
{
    for (; n >= 4u; n -= 4u, w += 4, x += 4) {
        acc += w[0] * x[0];
        acc += w[1] * x[1];
        acc += w[2] * x[2];
        acc += w[3] * x[3];
    }
    while (n--) {
        acc += *w++ * *x++;
    }
    return acc;
}

/* acc + sum w[i]*(x[i] + off): border taps, where the offset cannot be folded. */
static inline int32_t dot1_off(const int8_t *w, const int8_t *x, uint32_t n, int32_t off, int32_t acc)
{
    for (; n >= 4u; n -= 4u, w += 4, x += 4) {
        acc += w[0] * (x[0] + off);
        acc += w[1] * (x[1] + off);
        acc += w[2] * (x[2] + off);
        acc += w[3] * (x[3] + off);
    }
    while (n--) {
        acc += *w++ * (*x++ + off);
    }
    return acc;
}

/* Two pixels, one weight stream: each weight byte is loaded once for two MACs. */
static inline void dot2(const int8_t *w, const int8_t *a, const int8_t *b, uint32_t n, int32_t *acc0,
                        int32_t *acc1)
{
    int32_t s0 = *acc0, s1 = *acc1;
    for (; n >= 4u; n -= 4u, w += 4, a += 4, b += 4) {
        int32_t w0 = w[0], w1 = w[1], w2 = w[2], w3 = w[3];
        s0 += w0 * a[0];
        s1 += w0 * b[0];
        s0 += w1 * a[1];
        s1 += w1 * b[1];
        s0 += w2 * a[2];
        s1 += w2 * b[2];
        s0 += w3 * a[3];
        s1 += w3 * b[3];
    }
    while (n--) {
        int32_t wi = *w++;
        s0 += wi * *a++;
        s1 += wi * *b++;
    }
    *acc0 = s0;
    *acc1 = s1;
}

/* One weight byte k times two inputs: the body of the unrolled pair loops. */
#define DTMM_MAC2(k)                 \
    do {                             \
        const int32_t wk = w[k];     \
        s0 += wk * a[k];             \
        s1 += wk * b[k];             \
    } while (0)

/*
 * dot2 for n a nonzero multiple of 4: 8 bytes per iteration, then at most one
 * block of 4.  Unrolled by hand: at -O2 GCC does not unroll even constant
 * trip-count loops.
 */
static inline void dot2_x4(const int8_t *w, const int8_t *a, const int8_t *b, uint32_t n, int32_t *acc0,
                           int32_t *acc1)
{
    int32_t s0 = *acc0, s1 = *acc1;
    for (; n >= 8u; n -= 8u, w += 8, a += 8, b += 8) {
        DTMM_MAC2(0);
        DTMM_MAC2(1);
        DTMM_MAC2(2);
        DTMM_MAC2(3);
        DTMM_MAC2(4);
        DTMM_MAC2(5);
        DTMM_MAC2(6);
        DTMM_MAC2(7);
    }
    if (n) {
        DTMM_MAC2(0);
        DTMM_MAC2(1);
        DTMM_MAC2(2);
        DTMM_MAC2(3);
    }
    *acc0 = s0;
    *acc1 = s1;
}

#undef DTMM_MAC2

/*
 * base (bias, or init on interior pixels) + acc, requantized, clamped, offset.
 * The dot products start from 0 and meet the base only here, with int32
 * wrap-around: a base near the int32 limits (extreme biases, hostile blobs)
 * never makes a partial sum overflow, and the sums themselves are bounded by
 * the validator (cin * kh * kw <= 65,793: |sum| < 2^31).
 */
static inline int8_t finish(const conv_ctx *c, uint32_t o, int32_t base, int32_t acc)
{
    /* clamp before adding the output offset: the requantized value may be near INT32_MAX */
    int32_t r = dtmm_fp_requantize(dtmm_fp_add_wrap(base, acc), c->mult[o], c->shift[o]);
    r = r < c->out_lo ? c->out_lo : r;
    r = r > c->out_hi ? c->out_hi : r;
    return (int8_t)(r + c->out_off);
}

/* Byte offset of input pixel (iy, ix); may be negative for border pixels' origins. */
static inline int32_t pixel_off(const conv_ctx *c, int32_t iy, int32_t ix)
{
    return (iy * c->in_w + ix) * (int32_t)c->cin;
}

/* ---- interior pixels ------------------------------------------------------- */

/*
 * The pair routines come in two flavours: any length, and lengths that are a
 * nonzero multiple of 4 (cin % 4 == 0, most real layers), whose inner loop
 * has no tail and no entry test.  `x4` is a constant in each caller, so the
 * compiler drops the branch.
 */
static inline void pair_sparse_body(const conv_ctx *c, const int8_t *xa, const int8_t *xb, int8_t *out,
                                    const int x4)
{
    const int8_t *w = c->weights;
    const uint32_t cin = c->cin;
    const uint8_t *run = c->runs;
    for (uint32_t o = 0; o < c->cout; o++) {
        int32_t acc0 = 0, acc1 = 0;
        const uint8_t *end = c->runs + 2u * c->run_first[o + 1u];
        if (run == end) { /* empty filter: init holds its constant output */
            out[o] = out[c->cout + o] = (int8_t)c->init[o];
            continue;
        }
        for (; run != end; run += 2) {
            const int32_t off = c->pos_off[run[0]];
            const uint32_t len = run[1] * cin;
            if (x4) {
                dot2_x4(w, xa + off, xb + off, len, &acc0, &acc1);
            } else {
                dot2(w, xa + off, xb + off, len, &acc0, &acc1);
            }
            w += len;
        }
        out[o] = finish(c, o, c->init[o], acc0);
        out[c->cout + o] = finish(c, o, c->init[o], acc1);
    }
}

static inline void pair_dense_body(const conv_ctx *c, const int8_t *xa, const int8_t *xb, int8_t *out,
                                   const int x4)
{
    const int8_t *w = c->weights;
    const uint32_t len = c->run_len;
    for (uint32_t o = 0; o < c->cout; o++) {
        int32_t acc0 = 0, acc1 = 0;
        for (uint32_t r = 0; r < c->n_runs; r++) {
            int32_t off = c->run_off[r];
            if (x4) {
                dot2_x4(w, xa + off, xb + off, len, &acc0, &acc1);
            } else {
                dot2(w, xa + off, xb + off, len, &acc0, &acc1);
            }
            w += len;
        }
        out[o] = finish(c, o, c->init[o], acc0);
        out[c->cout + o] = finish(c, o, c->init[o], acc1);
    }
}

typedef void (*pair_fn)(const conv_ctx *c, const int8_t *xa, const int8_t *xb, int8_t *out);

static DTMM_NOINLINE void pair_sparse(const conv_ctx *c, const int8_t *xa, const int8_t *xb, int8_t *out)
{
    pair_sparse_body(c, xa, xb, out, 0);
}

static DTMM_NOINLINE void pair_sparse_x4(const conv_ctx *c, const int8_t *xa, const int8_t *xb, int8_t *out)
{
    pair_sparse_body(c, xa, xb, out, 1);
}

static DTMM_NOINLINE void pair_dense(const conv_ctx *c, const int8_t *xa, const int8_t *xb, int8_t *out)
{
    pair_dense_body(c, xa, xb, out, 0);
}

static DTMM_NOINLINE void pair_dense_x4(const conv_ctx *c, const int8_t *xa, const int8_t *xb, int8_t *out)
{
    pair_dense_body(c, xa, xb, out, 1);
}

static DTMM_NOINLINE void single_interior(const conv_ctx *c, const int8_t *x, int8_t *out)
{
    const int8_t *w = c->weights;
    for (uint32_t o = 0; o < c->cout; o++) {
        int32_t acc = 0;
        if (c->masks == NULL) {
            for (uint32_t r = 0; r < c->n_runs; r++) {
                acc = dot1(w, x + c->run_off[r], c->run_len, acc);
                w += c->run_len;
            }
        } else {
            const uint8_t *run = c->runs + 2u * c->run_first[o], *end = c->runs + 2u * c->run_first[o + 1u];
            if (run == end) { /* empty filter: init holds its constant output */
                out[o] = (int8_t)c->init[o];
                continue;
            }
            for (; run != end; run += 2) {
                const uint32_t len = run[1] * c->cin;
                acc = dot1(w, x + c->pos_off[run[0]], len, acc);
                w += len;
            }
        }
        out[o] = finish(c, o, c->init[o], acc);
    }
}

/* ---- border pixels: only the taps in `valid` (bit p) are inside the input ---- */

static DTMM_NOINLINE void single_border(const conv_ctx *c, int32_t base, uint32_t valid, int8_t *out)
{
    const int8_t *w = c->weights;
    const uint32_t cin = c->cin;
    for (uint32_t o = 0; o < c->cout; o++) {
        int32_t acc = 0;
        if (c->masks == NULL) {
            /* DENSE: filterlet p of this filter is at w + p*cin, no index to walk */
            for (uint32_t m = valid; m != 0; m &= m - 1u) {
                uint32_t p = lowest_bit(m);
                acc = dot1_off(w + p * cin, c->in + (base + c->pos_off[p]), cin, c->in_off, acc);
            }
            w += c->positions * cin;
        } else {
            if (c->masks[o] == 0) { /* empty filter: init holds its constant output */
                out[o] = (int8_t)c->init[o];
                continue;
            }
            for (uint32_t m = c->masks[o]; m != 0; m &= m - 1u) {
                uint32_t p = lowest_bit(m);
                if ((valid >> p) & 1u) {
                    acc = dot1_off(w, c->in + (base + c->pos_off[p]), cin, c->in_off, acc);
                }
                w += cin;
            }
        }
        out[o] = finish(c, o, c->bias[o], acc);
    }
}

/*
 * Lists each filter's stored filterlets as runs: a run is one filterlet, or
 * with dilation_w == 1 several at adjacent positions of one kernel row, whose
 * weights (stored consecutively) and inputs (adjacent NHWC pixels) are both
 * contiguous.  At most n_kept runs of 2 bytes.
 */
static void list_runs(const conv_ctx *c, const uint32_t *masks, uint32_t *run_first, uint8_t *runs)
{
    uint32_t n = 0;
    for (uint32_t o = 0; o < c->cout; o++) {
        run_first[o] = n;
        uint32_t m = masks[o];
        while (m != 0) {
            const uint32_t p = lowest_bit(m);
            uint32_t len = 1;
            m &= m - 1u;
            if (c->dil_w == 1) {
                while (p + len < c->positions && (p + len) % c->kw != 0 && ((m >> (p + len)) & 1u)) {
                    m &= ~(1u << (p + len));
                    len++;
                }
            }
            runs[2u * n] = (uint8_t)p;
            runs[2u * n + 1u] = (uint8_t)len;
            n++;
        }
    }
    run_first[c->cout] = n;
}

/* Bits of the taps inside the input for the output pixel whose tap 0 is (iy0, ix0). */
static uint32_t valid_taps(const conv_ctx *c, int32_t iy0, int32_t ix0)
{
    uint32_t cols = 0;
    for (uint32_t j = 0; j < c->kw; j++) {
        int32_t ix = ix0 + (int32_t)j * c->dil_w;
        cols |= (uint32_t)(ix >= 0 && ix < c->in_w) << j;
    }
    uint32_t valid = 0;
    for (uint32_t i = 0; i < c->kh; i++) {
        int32_t iy = iy0 + (int32_t)i * c->dil_h;
        if (iy >= 0 && iy < c->in_h) {
            valid |= cols << (i * c->kw);
        }
    }
    return valid;
}

/* ---- kernels with more than 32 positions: walk the index itself ------------- */

static dtmm_status run_generic(const conv_ctx *c, const dtmm_fwcs_view *v, uint32_t out_h, uint32_t out_w)
{
    const uint32_t enc = v->hdr->encoding;
    const uint32_t cin = c->cin;
    int8_t *out = c->out;
    for (uint32_t y = 0; y < out_h; y++) {
        const int32_t iy0 = (int32_t)y * c->stride_h - c->pad_top;
        for (uint32_t x = 0; x < out_w; x++, out += c->cout) {
            const int32_t ix0 = (int32_t)x * c->stride_w - c->pad_left;
            const int8_t *w = c->weights;
            const uint8_t *list = v->index;
            uint32_t bit = 0;
            for (uint32_t o = 0; o < c->cout; o++) {
                int32_t acc = 0;
                uint32_t count = enc == DTMM_FWCS_ENC_LIST ? *list++ : c->positions;
                for (uint32_t k = 0; k < count; k++) {
                    uint32_t p = k;
                    if (enc == DTMM_FWCS_ENC_LIST) {
                        p = *list++;
                    } else if (enc == DTMM_FWCS_ENC_BITMAP) {
                        uint32_t kept = (v->index[bit >> 3] >> (bit & 7u)) & 1u;
                        bit++;
                        if (!kept) continue;
                    }
                    uint32_t i = p / c->kw, j = p - i * c->kw;
                    int32_t iy = iy0 + (int32_t)i * c->dil_h, ix = ix0 + (int32_t)j * c->dil_w;
                    if (iy >= 0 && iy < c->in_h && ix >= 0 && ix < c->in_w) {
                        acc = dot1_off(w, c->in + pixel_off(c, iy, ix), cin, c->in_off, acc);
                    }
                    w += cin;
                }
                out[o] = finish(c, o, c->bias[o], acc);
            }
        }
    }
    return DTMM_OK;
}

dtmm_status dtmm_conv_s8_c(const dtmm_fwcs_view *v, const int8_t *input, int8_t *output, void *scratch)
{
    if (v == NULL || v->hdr == NULL || input == NULL || output == NULL) {
        return DTMM_ERR_ARGUMENT;
    }
    const dtmm_fwcs_header *h = v->hdr;
    if (h->encoding == DTMM_FWCS_ENC_GROUPS) {
        return dtmm_conv_groups_s8_c(v, input, output, scratch);
    }
    conv_ctx c;
    c.in = input;
    c.out = output;
    c.weights = v->weights;
    c.bias = v->bias;
    c.mult = v->multiplier;
    c.shift = v->shift;
    c.in_off = h->input_offset;
    c.out_off = h->output_offset;
    c.out_lo = h->act_min - h->output_offset;
    c.out_hi = h->act_max - h->output_offset;
    c.cin = h->cin;
    c.cout = h->cout;
    c.kh = h->kh;
    c.kw = h->kw;
    c.positions = c.kh * c.kw;
    c.in_h = h->in_h;
    c.in_w = h->in_w;
    c.stride_h = h->stride_h;
    c.stride_w = h->stride_w;
    c.dil_h = h->dilation_h;
    c.dil_w = h->dilation_w;
    c.pad_top = h->pad_top;
    c.pad_left = h->pad_left;
    const uint32_t out_h = h->out_h, out_w = h->out_w;
    const int dense = h->encoding == DTMM_FWCS_ENC_DENSE;

    if (c.positions > MAX_POSITIONS) {
        c.init = NULL;
        c.masks = NULL;
        return run_generic(&c, v, out_h, out_w);
    }
    if (scratch == NULL || ((uintptr_t)scratch & 3u) != 0) {
        return DTMM_ERR_ARGUMENT;
    }
    /* scratch: init[cout], then for sparse blobs masks[cout], run_first[cout + 1], runs[2 * n_kept] */
    int32_t *init = (int32_t *)scratch;
    uint32_t *masks = NULL, *run_first = NULL;
    uint8_t *runs = NULL;
    if (!dense) {
        masks = (uint32_t *)scratch + c.cout;
        run_first = masks + c.cout;
        runs = (uint8_t *)(run_first + c.cout + 1u);
        dtmm_status status = dtmm_fwcs_filter_masks(v, masks);
        if (status != DTMM_OK) {
            return status;
        }
        list_runs(&c, masks, run_first, runs);
    }
    c.init = init;
    c.masks = masks;
    c.run_first = run_first;
    c.runs = runs;

    /* init[o] = bias + in_off * (sum of the stored weights of filter o), wrapping like int32 */
    const uint32_t all = c.positions == 32u ? 0xFFFFFFFFu : (1u << c.positions) - 1u;
    const int8_t *w = c.weights;
    for (uint32_t o = 0; o < c.cout; o++) {
        uint32_t m = dense ? all : masks[o];
        int32_t sum = 0;
        for (; m != 0; m &= m - 1u) {
            for (uint32_t k = 0; k < c.cin; k++) sum += w[k];
            w += c.cin;
        }
        init[o] = (int32_t)((uint32_t)c.bias[o] + (uint32_t)c.in_off * (uint32_t)sum);
        if (!dense && masks[o] == 0) {
            init[o] = finish(&c, o, c.bias[o], 0); /* a filter with nothing stored outputs a constant */
        }
    }

    for (uint32_t i = 0; i < c.kh; i++) {
        for (uint32_t j = 0; j < c.kw; j++) {
            c.pos_off[i * c.kw + j] = pixel_off(&c, (int32_t)i * c.dil_h, (int32_t)j * c.dil_w);
        }
    }
    if (c.dil_w == 1) { /* a kernel row is contiguous in both the weights and the input */
        c.n_runs = c.kh;
        c.run_len = c.kw * c.cin;
        for (uint32_t i = 0; i < c.kh; i++) c.run_off[i] = c.pos_off[i * c.kw];
    } else {
        c.n_runs = c.positions;
        c.run_len = c.cin;
        for (uint32_t p = 0; p < c.positions; p++) c.run_off[p] = c.pos_off[p];
    }

    const int32_t span_h = ((int32_t)c.kh - 1) * c.dil_h, span_w = ((int32_t)c.kw - 1) * c.dil_w;
    const int32_t pair_step = c.stride_w * (int32_t)c.cin;
    const pair_fn pair = dense ? ((c.run_len & 3u) == 0 ? pair_dense_x4 : pair_dense)
                               : ((c.cin & 3u) == 0 ? pair_sparse_x4 : pair_sparse);
    int8_t *out = output;
    for (uint32_t y = 0; y < out_h; y++) {
        const int32_t iy0 = (int32_t)y * c.stride_h - c.pad_top;
        const int row_inside = iy0 >= 0 && iy0 + span_h < c.in_h;
        uint32_t x = 0;
        while (x < out_w) {
            const int32_t ix0 = (int32_t)x * c.stride_w - c.pad_left;
            const int32_t base = pixel_off(&c, iy0, ix0);
            const int inside = row_inside && ix0 >= 0 && ix0 + span_w < c.in_w;
            if (inside && x + 1u < out_w && ix0 + c.stride_w + span_w < c.in_w) {
                pair(&c, input + base, input + base + pair_step, out);
                out += 2u * c.cout;
                x += 2u;
                continue;
            }
            if (inside) {
                single_interior(&c, input + base, out);
            } else {
                single_border(&c, base, valid_taps(&c, iy0, ix0), out);
            }
            out += c.cout;
            x++;
        }
    }
    return DTMM_OK;
}
