/*
 * ops_check - differential test of the SIMD paths of the elementwise,
 * pooling, depthwise and softmax ops against their portable C path, on the
 * target itself.
 *
 * The portable paths are verified bit-exact with tflite-micro on the host
 * (tests/test_ops_synthetic.py), so they are the oracle here.  Each round
 * draws random parameters over the whole legal range of the op's struct
 * (not only what the lowering emits: left shifts 0..30, every right shift,
 * multipliers from 0 to 2^31-1, tiny output shifts so that rounding ties
 * are common, narrow clamps), random shapes with tails of every length,
 * broadcast layouts, in-place ADDs and odd addresses, runs the dispatching
 * function and each path directly (a path whose extension this core lacks
 * forwards to C), and compares every byte, plus guard bytes around the
 * output.  Prints "@ops FAIL <op> <round> <path> ..." per mismatch and
 * "@ops done <op> rounds=R failed=F path=P" per op; exits 1 on any failure.
 *
 * -DOPS_CHECK_ROUNDS=N sets the rounds per op (default 300).
 */
#include <stdint.h>
#include <string.h>

#include "dtmm_board.h"
#include "dtmm_ops.h"

#ifndef OPS_CHECK_ROUNDS
#define OPS_CHECK_ROUNDS 300
#endif
#define GUARD 16
#define MAXN 2048

static uint32_t rng_state = 0x9e3779b9u;

static uint32_t rnd(void)
{
    uint32_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    rng_state = x;
    return x;
}

/* uniform in [lo, hi] */
static int32_t rr(int32_t lo, int32_t hi)
{
    return lo + (int32_t)(rnd() % (uint32_t)(hi - lo + 1));
}

static int8_t in1_buf[MAXN + 8] __attribute__((aligned(16)));
static int8_t in2_buf[MAXN + 8] __attribute__((aligned(16)));
static int8_t want_buf[MAXN + 2 * GUARD] __attribute__((aligned(16)));
static int8_t got_buf[MAXN + 2 * GUARD + 8] __attribute__((aligned(16)));
static int32_t table1[256];
static int32_t table2[256];

static int failures;

static void fill_i8(int8_t *p, int32_t n)
{
    for (int32_t i = 0; i < n; ++i) {
        uint32_t r = rnd();
        /* a quarter of the values at the ends of the range */
        p[i] = (r & 3u) == 0 ? (int8_t)((r & 4u) ? 127 : -128) : (int8_t)(r >> 8);
    }
}

static int32_t rand_multiplier(void)
{
    switch (rnd() % 6u) {
    case 0: return (int32_t)(rnd() >> 1);
    case 1: return (int32_t)((1u << 30) + (rnd() >> 2)); /* QuantizeMultiplier's usual range */
    case 2: return 1 << 30;
    case 3: return rr(0, 3);
    case 4: return INT32_MAX - rr(0, 3);
    default: return (int32_t)((1u << 30) + (rnd() >> 2));
    }
}

static int32_t rand_right_shift(void)
{
    uint32_t r = rnd() % 4u;
    return r == 0 ? 0 : (r == 1 ? rr(1, 3) : (r == 2 ? rr(0, 31) : rr(8, 24)));
}

/* ---- ADD --------------------------------------------------------------- */

static int32_t srdhm(int32_t a, int32_t b)
{
    if (a == INT32_MIN && b == INT32_MIN) {
        return INT32_MAX;
    }
    return (int32_t)(((int64_t)a * (int64_t)b + ((int64_t)1 << 30)) >> 31);
}

static int32_t rdbp(int32_t x, int32_t e)
{
    const int32_t mask = (int32_t)(((uint32_t)1 << e) - 1u);
    const int32_t rem = x & mask;
    const int32_t thr = (mask >> 1) + (x < 0 ? 1 : 0);
    return (x >> e) + (rem > thr ? 1 : 0);
}

static void make_table(int32_t *t, int32_t off, int32_t ls, int32_t m, int32_t shift)
{
    for (int32_t x = -128; x < 128; ++x) {
        t[x + 128] = rdbp(srdhm((int32_t)((uint32_t)(x + off) << ls), m), -shift);
    }
}

typedef dtmm_status (*add_fn)(const dtmm_add_s8_params *, const int8_t *, const int8_t *, int8_t *);

static void report(const char *op, int round, const char *path, const char *what, int32_t at)
{
    dtmm_printf("@ops FAIL %s %d %s %s at %d\n", op, round, path, what, (int)at);
    failures++;
}

/* Runs fn into got_buf (output at offset GUARD + odd) and compares with want (n bytes). */
static void check_add(int round, const char *path, add_fn fn, const dtmm_add_s8_params *p, int32_t n1, int32_t n2,
                      int32_t n, int in_place, int odd)
{
    int8_t *a = in1_buf + odd;
    int8_t *b = in2_buf + ((odd + 1) & 3);
    int8_t *y = got_buf + GUARD + ((odd + 2) & 3);
    static int8_t save1[MAXN];
    static int8_t save2[MAXN];
    memcpy(save1, a, (size_t)n1);
    memcpy(save2, b, (size_t)n2);
    memset(got_buf, 0x5a, sizeof got_buf);
    if (in_place == 1) {
        y = a;
    } else if (in_place == 2) {
        y = b;
    }
    if (fn(p, a, b, y) != DTMM_OK) {
        report("add", round, path, "status", 0);
        return;
    }
    for (int32_t i = 0; i < n; ++i) {
        if (y[i] != want_buf[GUARD + i]) {
            report("add", round, path, "value", i);
            dtmm_printf("@ops params ls=%d off=%d,%d,%d m=%d,%d,%d sh=%d,%d,%d act=%d,%d tables=%d ndims=%d n=%d "
                        "got=%d want=%d\n",
                        (int)p->left_shift, (int)p->input1_offset, (int)p->input2_offset, (int)p->output_offset,
                        (int)p->input1_multiplier, (int)p->input2_multiplier, (int)p->output_multiplier,
                        (int)p->input1_shift, (int)p->input2_shift, (int)p->output_shift, (int)p->act_min,
                        (int)p->act_max, p->table1 != NULL, (int)p->ndims, (int)n, y[i], want_buf[GUARD + i]);
            break;
        }
    }
    if (!in_place) {
        const int8_t *g = got_buf + GUARD + ((odd + 2) & 3);
        for (int32_t i = 1; i <= GUARD; ++i) {
            if (g[-i] != 0x5a || g[n - 1 + i] != 0x5a) {
                report("add", round, path, "guard", i);
                break;
            }
        }
    }
    memcpy(a, save1, (size_t)n1);
    memcpy(b, save2, (size_t)n2);
}

static void run_add(void)
{
    static const add_fn fns[] = {dtmm_add_s8, dtmm_add_s8_dsp, dtmm_add_s8_mve};
    static const char *const names[] = {"dispatch", "dsp", "mve"};
    const int before = failures;
    for (int round = 0; round < OPS_CHECK_ROUNDS; ++round) {
        dtmm_add_s8_params p;
        memset(&p, 0, sizeof p);
        p.left_shift = (rnd() & 1u) ? 20 : rr(0, 30);
        p.input1_offset = rr(-128, 128);
        p.input2_offset = rr(-128, 128);
        p.output_offset = rr(-128, 127);
        p.input1_multiplier = rand_multiplier();
        p.input2_multiplier = rand_multiplier();
        p.output_multiplier = rand_multiplier();
        p.input1_shift = -rand_right_shift();
        p.input2_shift = (rnd() & 1u) ? 0 : -rand_right_shift(); /* 0: equal input scales */
        p.output_shift = -rand_right_shift();
        if ((rnd() & 3u) == 0) { /* sums near zero and small shifts: many rounding ties */
            p.left_shift = rr(0, 4);
            p.output_shift = -rr(0, 3);
        }
        p.act_min = (rnd() & 1u) ? -128 : rr(-128, 127);
        p.act_max = (rnd() & 1u) ? 127 : rr(p.act_min, 127);
        if (rnd() & 1u) {
            make_table(table1, p.input1_offset, p.left_shift, p.input1_multiplier, p.input1_shift);
            make_table(table2, p.input2_offset, p.left_shift, p.input2_multiplier, p.input2_shift);
            p.table1 = table1;
            p.table2 = table2;
        }
        int32_t n1, n2, n;
        int in_place = 0;
        if (rnd() & 1u) {
            p.ndims = 0;
            n = (rnd() & 3u) == 0 ? rr(1, MAXN) : rr(1, 40);
            p.size = n;
            n1 = n2 = n;
            in_place = (int)(rnd() % 3u);
        } else {
            /* random broadcast: each input has each dim or not (stride 0) */
            p.ndims = rr(1, 4);
            int32_t s1 = 1, s2 = 1;
            n = 1;
            for (int32_t d = p.ndims - 1; d >= 0; --d) {
                p.shape[d] = rr(1, 13);
                if (n * p.shape[d] > MAXN) {
                    p.shape[d] = 1;
                }
                n *= p.shape[d];
                const uint32_t which = rnd() % 3u; /* 0 both, 1 only input1, 2 only input2 */
                p.stride1[d] = which != 2 ? s1 : 0;
                p.stride2[d] = which != 1 ? s2 : 0;
                s1 *= which != 2 ? p.shape[d] : 1;
                s2 *= which != 1 ? p.shape[d] : 1;
            }
            p.size = n;
            n1 = s1;
            n2 = s2;
        }
        /* now and then a negative output multiplier (never from TFLite): the MVE path then runs the
         * reference rule element by element; only it is checked (the DSP identities assume m >= 0) */
        const int negative = (rnd() & 15u) == 0 && p.output_multiplier > 0;
        if (negative) {
            p.output_multiplier = -p.output_multiplier;
        }
        const int odd = (int)(rnd() & 3u);
        fill_i8(in1_buf, MAXN + 8);
        fill_i8(in2_buf, MAXN + 8);
        if (dtmm_add_s8_c(&p, in1_buf + odd, in2_buf + ((odd + 1) & 3), want_buf + GUARD) != DTMM_OK) {
            report("add", round, "c", "status", 0);
            continue;
        }
        for (int k = negative ? 2 : 0; k < 3; ++k) {
            check_add(round, names[k], fns[k], &p, n1, n2, n, in_place, odd);
        }
    }
    dtmm_printf("@ops done add rounds=%d failed=%d\n", OPS_CHECK_ROUNDS, failures - before);
}

/* ---- AVERAGE_POOL_2D / MAX_POOL_2D / MEAN -------------------------------- */

typedef dtmm_status (*pool_fn)(const dtmm_pool_s8_params *, const int8_t *, int8_t *);
typedef dtmm_status (*mean_fn)(const dtmm_mean_s8_params *, const int8_t *, int8_t *);

/* Compares n output bytes written at got_buf + GUARD + odd with want_buf + GUARD, and the guards. */
static int compare_out(const char *op, int round, const char *path, int32_t n, int odd)
{
    const int8_t *g = got_buf + GUARD + odd;
    for (int32_t i = 0; i < n; ++i) {
        if (g[i] != want_buf[GUARD + i]) {
            report(op, round, path, "value", i);
            dtmm_printf("@ops got=%d want=%d\n", g[i], want_buf[GUARD + i]);
            return 0;
        }
    }
    for (int32_t i = 1; i <= GUARD; ++i) {
        if (g[-i] != 0x5a || g[n - 1 + i] != 0x5a) {
            report(op, round, path, "guard", i);
            return 0;
        }
    }
    return 1;
}

static void run_pool(int is_max)
{
    static const pool_fn avg_fns[] = {dtmm_avg_pool_s8, dtmm_avg_pool_s8_dsp, dtmm_avg_pool_s8_mve};
    static const pool_fn max_fns[] = {dtmm_max_pool_s8, dtmm_max_pool_s8_dsp, dtmm_max_pool_s8_mve};
    static const char *const names[] = {"dispatch", "dsp", "mve"};
    const char *op = is_max ? "max_pool" : "avg_pool";
    const int before = failures;
    for (int round = 0; round < OPS_CHECK_ROUNDS; ++round) {
        dtmm_pool_s8_params p;
        int32_t n_in, n_out;
        do {
            p.batches = rr(1, 2);
            p.channels = (rnd() & 1u) ? rr(1, 20) : rr(1, 80);
            p.in_h = rr(1, 12);
            p.in_w = rr(1, 12);
            if ((rnd() % 5u) == 0) { /* global pooling, sometimes over more than 256 values */
                p.in_h = rr(1, 25);
                p.in_w = rr(1, 20);
                p.channels = rr(1, 9);
                p.filter_h = p.in_h;
                p.filter_w = p.in_w;
            } else {
                p.filter_h = rr(1, p.in_h + 1);
                p.filter_w = rr(1, p.in_w + 1);
            }
            p.stride_h = rr(1, 3);
            p.stride_w = rr(1, 3);
            p.pad_top = rr(0, p.filter_h - 1);
            p.pad_left = rr(0, p.filter_w - 1);
            p.out_h = (p.in_h + p.pad_top - 1) / p.stride_h + 1;
            p.out_w = (p.in_w + p.pad_left - 1) / p.stride_w + 1;
            /* every window must reach the input: the first starts at -pad, the last before in */
            n_in = p.batches * p.in_h * p.in_w * p.channels;
            n_out = p.batches * p.out_h * p.out_w * p.channels;
        } while (n_in > MAXN || n_out > MAXN);
        p.act_min = (rnd() & 1u) ? -128 : rr(-128, 127);
        p.act_max = (rnd() & 1u) ? 127 : rr(p.act_min, 127);
        if ((rnd() % 16u) == 0) { /* clamps the lowering never emits */
            p.act_min = rr(-300, 300);
            p.act_max = rr(-300, 300);
        }
        const int odd = (int)(rnd() & 3u);
        fill_i8(in1_buf, MAXN + 8);
        const int8_t *x = in1_buf + odd;
        const dtmm_status ref = is_max ? dtmm_max_pool_s8_c(&p, x, want_buf + GUARD)
                                       : dtmm_avg_pool_s8_c(&p, x, want_buf + GUARD);
        if (ref != DTMM_OK) {
            report(op, round, "c", "status", 0);
            continue;
        }
        for (int k = 0; k < 3; ++k) {
            memset(got_buf, 0x5a, sizeof got_buf);
            const pool_fn fn = is_max ? max_fns[k] : avg_fns[k];
            if (fn(&p, x, got_buf + GUARD + ((odd + 1) & 3)) != DTMM_OK) {
                report(op, round, names[k], "status", 0);
                continue;
            }
            if (!compare_out(op, round, names[k], n_out, (odd + 1) & 3)) {
                dtmm_printf("@ops params b=%d in=%dx%dx%d f=%dx%d s=%dx%d pad=%d,%d out=%dx%d act=%d,%d\n",
                            (int)p.batches, (int)p.in_h, (int)p.in_w, (int)p.channels, (int)p.filter_h,
                            (int)p.filter_w, (int)p.stride_h, (int)p.stride_w, (int)p.pad_top, (int)p.pad_left,
                            (int)p.out_h, (int)p.out_w, (int)p.act_min, (int)p.act_max);
            }
        }
    }
    dtmm_printf("@ops done %s rounds=%d failed=%d\n", op, OPS_CHECK_ROUNDS, failures - before);
}

static void run_mean(void)
{
    static const mean_fn fns[] = {dtmm_mean_s8, dtmm_mean_s8_dsp, dtmm_mean_s8_mve};
    static const char *const names[] = {"dispatch", "dsp", "mve"};
    const int before = failures;
    for (int round = 0; round < OPS_CHECK_ROUNDS; ++round) {
        dtmm_mean_s8_params p;
        int32_t nb, h, w, c;
        do {
            nb = rr(1, 3);
            h = rr(1, 25);
            w = rr(1, 20);
            c = (rnd() & 1u) ? rr(1, 20) : rr(1, 70);
        } while (nb * h * w * c > MAXN);
        for (int32_t j = 0; j < 4; ++j) {
            p.kept_dims[j] = p.red_dims[j] = 1;
            p.kept_stride[j] = p.red_stride[j] = 0;
        }
        int32_t n_out;
        switch (rnd() % 3u) {
        case 0: /* over H and W, as two dims */
            p.kept_dims[2] = nb, p.kept_stride[2] = h * w * c, p.kept_dims[3] = c, p.kept_stride[3] = 1;
            p.red_dims[2] = h, p.red_stride[2] = w * c, p.red_dims[3] = w, p.red_stride[3] = c;
            p.count = h * w;
            n_out = nb * c;
            break;
        case 1: /* over H and W merged (what the lowering emits) */
            p.kept_dims[2] = nb, p.kept_stride[2] = h * w * c, p.kept_dims[3] = c, p.kept_stride[3] = 1;
            p.red_dims[3] = h * w, p.red_stride[3] = c;
            p.count = h * w;
            n_out = nb * c;
            break;
        default: /* over C: the portable path */
            p.kept_dims[3] = nb * h * w, p.kept_stride[3] = c;
            p.red_dims[3] = c, p.red_stride[3] = 1;
            p.count = c;
            n_out = nb * h * w;
            break;
        }
        p.input_zero_point = rr(-128, 127);
        p.output_zero_point = rr(-128, 127);
        p.multiplier = rand_multiplier();
        p.shift = (rnd() & 1u) ? -rand_right_shift() : rr(-31, 30);
        if (p.shift < -31) {
            p.shift = -31;
        }
        const int odd = (int)(rnd() & 3u);
        fill_i8(in1_buf, MAXN + 8);
        const int8_t *x = in1_buf + odd;
        if (dtmm_mean_s8_c(&p, x, want_buf + GUARD) != DTMM_OK) {
            report("mean", round, "c", "status", 0);
            continue;
        }
        for (int k = 0; k < 3; ++k) {
            memset(got_buf, 0x5a, sizeof got_buf);
            if (fns[k](&p, x, got_buf + GUARD + ((odd + 1) & 3)) != DTMM_OK) {
                report("mean", round, names[k], "status", 0);
                continue;
            }
            if (!compare_out("mean", round, names[k], n_out, (odd + 1) & 3)) {
                dtmm_printf("@ops params n=%d h=%d w=%d c=%d zp=%d,%d m=%d shift=%d\n", (int)nb, (int)h, (int)w,
                            (int)c, (int)p.input_zero_point, (int)p.output_zero_point, (int)p.multiplier,
                            (int)p.shift);
            }
        }
    }
    dtmm_printf("@ops done mean rounds=%d failed=%d\n", OPS_CHECK_ROUNDS, failures - before);
}

/* ---- DEPTHWISE_CONV_2D --------------------------------------------------- */

typedef dtmm_status (*dw_fn)(const dtmm_depthwise_conv_s8_params *, const int8_t *, int8_t *);

#define DW_MAXW 4096
#define DW_MAXC 256
static int8_t dw_weights[DW_MAXW];
static int32_t dw_bias[DW_MAXC], dw_mult[DW_MAXC], dw_shift[DW_MAXC];

/* Shapes the SIMD paths special-case: 3x3 stride 1 and 2 (small maps, W <= 5 included), depth
 * multipliers 1..4, dilation, every padding, channel counts off multiples of 4, sometimes an input
 * offset outside the int8 zero-point range, a large map (the Helium column path) or a small map with
 * many channels (the Helium lane path). */
static void run_dw(void)
{
    static const dw_fn fns[] = {dtmm_depthwise_conv_s8, dtmm_depthwise_conv_s8_dsp, dtmm_depthwise_conv_s8_mve};
    static const char *const names[] = {"dispatch", "dsp", "mve"};
    const int before = failures;
    for (int round = 0; round < OPS_CHECK_ROUNDS; ++round) {
        dtmm_depthwise_conv_s8_params p;
        int32_t n_in, n_out, pad_bottom, pad_right;
        do {
            const int k3 = (rnd() % 3u) != 0;
            p.batches = (rnd() % 8u) == 0 ? 2 : 1;
            p.depth_multiplier = (rnd() & 1u) ? 1 : rr(2, 4);
            p.in_ch = (rnd() & 1u) ? rr(1, 12) : rr(1, 70);
            p.out_ch = p.in_ch * p.depth_multiplier;
            p.in_h = rr(1, 26);
            p.in_w = (rnd() & 1u) ? rr(1, 5) : rr(1, 26);
            p.kh = k3 ? 3 : rr(1, 5);
            p.kw = k3 ? 3 : rr(1, 5);
            p.stride_h = k3 ? rr(1, 2) : rr(1, 3);
            p.stride_w = (k3 && (rnd() & 1u)) ? p.stride_h : rr(1, 3);
            p.dilation_h = (rnd() % 4u) == 0 ? rr(1, 3) : 1;
            p.dilation_w = (rnd() % 4u) == 0 ? rr(1, 3) : 1;
            if ((rnd() % 10u) == 0) { /* maps too large for one plane: Helium column path, DSP plane strips */
                p.depth_multiplier = 1;
                p.in_ch = p.out_ch = 1;
                p.in_h = rr(38, 45);
                p.in_w = rr(38, 45);
                p.kh = p.kw = (rnd() & 1u) ? 3 : 5;
                p.stride_h = p.stride_w = p.kh == 3 ? rr(1, 2) : 1;
                p.dilation_h = p.dilation_w = p.kh == 3 ? 1 : 3;
            } else if ((rnd() % 5u) == 0) { /* small maps with many channels: the Helium lane path */
                p.depth_multiplier = 1;
                p.in_h = rr(1, 8);
                p.in_w = rr(1, 8);
                const int32_t cmax = 2048 / (p.in_h * p.in_w);
                p.in_ch = p.out_ch = rr(8, cmax < 150 ? cmax : 150);
            }
            const int32_t eff_h = (p.kh - 1) * p.dilation_h + 1, eff_w = (p.kw - 1) * p.dilation_w + 1;
            p.pad_top = rr(0, eff_h - 1);
            p.pad_left = rr(0, eff_w - 1);
            pad_bottom = rr(0, eff_h - 1);
            pad_right = rr(0, eff_w - 1);
            p.out_h = p.in_h + p.pad_top + pad_bottom >= eff_h ? (p.in_h + p.pad_top + pad_bottom - eff_h) / p.stride_h + 1 : 0;
            p.out_w = p.in_w + p.pad_left + pad_right >= eff_w ? (p.in_w + p.pad_left + pad_right - eff_w) / p.stride_w + 1 : 0;
            n_in = p.batches * p.in_h * p.in_w * p.in_ch;
            n_out = p.batches * p.out_h * p.out_w * p.out_ch;
        } while (p.out_h < 1 || p.out_w < 1 || n_in > MAXN || n_out > MAXN || p.out_ch > DW_MAXC ||
                 p.kh * p.kw * p.out_ch > DW_MAXW);
        fill_i8(dw_weights, p.kh * p.kw * p.out_ch);
        for (int32_t c = 0; c < p.out_ch; ++c) {
            dw_bias[c] = (rnd() % 8u) == 0 ? (int32_t)rnd() : rr(-20000, 20000);
            dw_mult[c] = rand_multiplier();
            dw_shift[c] = (rnd() % 4u) == 0 ? rr(0, 6) : -rand_right_shift();
        }
        p.weights = dw_weights;
        p.bias = dw_bias;
        p.multiplier = dw_mult;
        p.shift = dw_shift;
        p.input_offset = (rnd() % 16u) == 0 ? rr(-1000, 1000) : rr(-127, 128);
        p.output_offset = rr(-128, 127);
        p.act_min = (rnd() & 1u) ? -128 : rr(-128, 127);
        p.act_max = (rnd() & 1u) ? 127 : rr(p.act_min, 127);
        const int odd = (int)(rnd() & 3u);
        fill_i8(in1_buf, MAXN + 8);
        const int8_t *x = in1_buf + odd;
        if (dtmm_depthwise_conv_s8_c(&p, x, want_buf + GUARD) != DTMM_OK) {
            report("depthwise", round, "c", "status", 0);
            continue;
        }
        for (int k = 0; k < 3; ++k) {
            memset(got_buf, 0x5a, sizeof got_buf);
            if (fns[k](&p, x, got_buf + GUARD + ((odd + 1) & 3)) != DTMM_OK) {
                report("depthwise", round, names[k], "status", 0);
                continue;
            }
            if (!compare_out("depthwise", round, names[k], n_out, (odd + 1) & 3)) {
                dtmm_printf("@ops params b=%d in=%dx%dx%d m=%d k=%dx%d s=%dx%d d=%dx%d pad=%d,%d out=%dx%d "
                            "off=%d,%d act=%d,%d\n",
                            (int)p.batches, (int)p.in_h, (int)p.in_w, (int)p.in_ch, (int)p.depth_multiplier,
                            (int)p.kh, (int)p.kw, (int)p.stride_h, (int)p.stride_w, (int)p.dilation_h,
                            (int)p.dilation_w, (int)p.pad_top, (int)p.pad_left, (int)p.out_h, (int)p.out_w,
                            (int)p.input_offset, (int)p.output_offset, (int)p.act_min, (int)p.act_max);
            }
        }
    }
    dtmm_printf("@ops done depthwise rounds=%d failed=%d\n", OPS_CHECK_ROUNDS, failures - before);
}

/* ---- SOFTMAX -------------------------------------------------------------- */

typedef dtmm_status (*softmax_fn)(const dtmm_softmax_s8_params *, const int8_t *, int8_t *);

/* Rows of 1..300 with tails of every length; multipliers and shifts over PreprocessSoftmaxScaling's
 * range and beyond (left shifts 0..31), diff_min from 0 (only the row maxima count) to below -255. */
static void run_softmax(void)
{
    static const softmax_fn fns[] = {dtmm_softmax_s8, dtmm_softmax_s8_dsp, dtmm_softmax_s8_mve};
    static const char *const names[] = {"dispatch", "dsp", "mve"};
    const int before = failures;
    for (int round = 0; round < OPS_CHECK_ROUNDS; ++round) {
        dtmm_softmax_s8_params p;
        do {
            p.outer = rr(1, 4);
            p.depth = (rnd() & 1u) ? rr(1, 40) : rr(1, 300);
        } while (p.outer * p.depth > MAXN);
        p.input_multiplier = (rnd() & 3u) ? (int32_t)((1u << 30) + (rnd() >> 2)) : rand_multiplier();
        p.input_left_shift = (rnd() & 3u) ? rr(18, 27) : rr(0, 31);
        p.diff_min = (rnd() % 8u) == 0 ? 0 : -(int32_t)(rnd() % 400u);
        const int32_t n = p.outer * p.depth;
        const int odd = (int)(rnd() & 3u);
        fill_i8(in1_buf, MAXN + 8);
        const int8_t *x = in1_buf + odd;
        const dtmm_status ref = dtmm_softmax_s8_c(&p, x, want_buf + GUARD);
        for (int k = 0; k < 3; ++k) {
            memset(got_buf, 0x5a, sizeof got_buf);
            const dtmm_status st = fns[k](&p, x, got_buf + GUARD + ((odd + 1) & 3));
            if (st != ref) {
                report("softmax", round, names[k], "status", 0);
                continue;
            }
            if (ref == DTMM_OK && !compare_out("softmax", round, names[k], n, (odd + 1) & 3)) {
                dtmm_printf("@ops params outer=%d depth=%d mult=%d shift=%d diff_min=%d\n", (int)p.outer,
                            (int)p.depth, (int)p.input_multiplier, (int)p.input_left_shift, (int)p.diff_min);
            }
        }
    }
    dtmm_printf("@ops done softmax rounds=%d failed=%d\n", OPS_CHECK_ROUNDS, failures - before);
}

int main(void)
{
    dtmm_printf("ops_check on %s\n", dtmm_board_name());
    run_add();
    run_pool(0);
    run_pool(1);
    run_mean();
    run_dw();
    run_softmax();
    return failures ? 1 : 0;
}
