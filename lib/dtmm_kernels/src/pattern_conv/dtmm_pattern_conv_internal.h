/*
 * dtmm_pattern_conv_internal.h - what the pattern conv paths share
 * (internal): gathering one pattern's taps for a pixel and writing a
 * pixel's outputs.  See dtmm_ops.h for the storage.
 */
#ifndef DTMM_PATTERN_CONV_INTERNAL_H
#define DTMM_PATTERN_CONV_INTERNAL_H

#include <stddef.h>

#include "dtmm_ops.h"
#include "../common/dtmm_fixedpoint.h"

#define DTMM_PATTERN_MAX_TAPS 16

/* Kept kernels of group g (input channel, pattern). */
static inline int32_t dtmm_pattern_count(const dtmm_pattern_conv_s8_params *p, int32_t g)
{
    return p->counts8 != NULL ? (int32_t)p->counts8[g] : (int32_t)p->counts16[g];
}

static inline int32_t dtmm_pattern_filter(const dtmm_pattern_conv_s8_params *p, int32_t k)
{
    return p->filters8 != NULL ? (int32_t)p->filters8[k] : (int32_t)p->filters16[k];
}

/*
 * The taps of pattern `pid` at input channel `ci` for the window at (y0, x0):
 * straight loads when the window is inside the input (`window` is its
 * top-left element), else each tap checked, out-of-bounds taps reading the
 * input zero point (the folded bias expects it).
 */
static inline void dtmm_pattern_gather(const dtmm_pattern_conv_s8_params *p, const int8_t *input,
                                       const int8_t *window, int32_t y0, int32_t x0, int32_t ci, int32_t pid,
                                       int32_t *taps)
{
    const int32_t n = p->n_taps;
    if (window != NULL) {
        const int32_t *off = p->tap_offsets + pid * n;
        const int8_t *x = window + ci;
        for (int32_t t = 0; t < n; ++t) {
            taps[t] = x[off[t]];
        }
        return;
    }
    const uint8_t *pos = p->positions + pid * n;
    for (int32_t t = 0; t < n; ++t) {
        const int32_t ky = pos[t] / p->kw;
        const int32_t kx = pos[t] - ky * p->kw;
        const int32_t y = y0 + ky * p->dilation_h;
        const int32_t x = x0 + kx * p->dilation_w;
        taps[t] = (y >= 0 && y < p->in_h && x >= 0 && x < p->in_w)
                      ? input[((size_t)y * (size_t)p->in_w + (size_t)x) * (size_t)p->cin + (size_t)ci]
                      : -p->input_offset;
    }
}

/* Kernels up to this many positions gather a pixel's whole window once per input channel. */
#define DTMM_PATTERN_WINDOW_MAX 16

/* Offsets of every kernel position (ky*kw + kx) into an NHWC window, for dtmm_pattern_window_taps. */
static inline void dtmm_pattern_position_offsets(const dtmm_pattern_conv_s8_params *p, int32_t *off)
{
    for (int32_t ky = 0; ky < p->kh; ++ky) {
        for (int32_t kx = 0; kx < p->kw; ++kx) {
            off[ky * p->kw + kx] = (ky * p->dilation_h * p->in_w + kx * p->dilation_w) * p->cin;
        }
    }
}

/*
 * Every kernel position's input value at channel ci for the window at (y0, x0)
 * into win[0, kh*kw): straight loads when the window is inside (`window` set),
 * else checked, out-of-bounds positions reading the input zero point.
 */
static inline void dtmm_pattern_window_taps(const dtmm_pattern_conv_s8_params *p, const int8_t *input,
                                            const int8_t *window, const int32_t *pos_off, int32_t y0, int32_t x0,
                                            int32_t ci, int32_t *win)
{
    const int32_t n = p->kh * p->kw;
    if (window != NULL) {
        const int8_t *x = window + ci;
        for (int32_t t = 0; t < n; ++t) {
            win[t] = x[pos_off[t]];
        }
        return;
    }
    int32_t t = 0;
    for (int32_t ky = 0; ky < p->kh; ++ky) {
        const int32_t y = y0 + ky * p->dilation_h;
        for (int32_t kx = 0; kx < p->kw; ++kx, ++t) {
            const int32_t x = x0 + kx * p->dilation_w;
            win[t] = (y >= 0 && y < p->in_h && x >= 0 && x < p->in_w)
                         ? input[((size_t)y * (size_t)p->in_w + (size_t)x) * (size_t)p->cin + (size_t)ci]
                         : -p->input_offset;
        }
    }
}

/* The top-left input element of the window at (y0, x0) when the whole window is inside, else NULL. */
static inline const int8_t *dtmm_pattern_window(const dtmm_pattern_conv_s8_params *p, const int8_t *input,
                                                int32_t y0, int32_t x0)
{
    const int inside = y0 >= 0 && y0 + (p->kh - 1) * p->dilation_h < p->in_h && x0 >= 0 &&
                       x0 + (p->kw - 1) * p->dilation_w < p->in_w;
    return inside ? input + ((size_t)y0 * (size_t)p->in_w + (size_t)x0) * (size_t)p->cin : NULL;
}

/* Output channel o of a pixel from its accumulator: bias, requantization, offset, clamp. */
static inline int8_t dtmm_pattern_output(const dtmm_pattern_conv_s8_params *p, int32_t o, int32_t acc)
{
    const int32_t a = dtmm_fp_add_wrap(acc, p->bias[o]);
    const int32_t v = dtmm_fp_add_wrap(dtmm_fp_requantize(a, p->multiplier[o], p->shift[o]), p->output_offset);
    return dtmm_fp_clamp_s8(v, p->act_min, p->act_max);
}

/* Requantize a pixel's cout accumulators into out[0, cout). */
static inline void dtmm_pattern_store(const dtmm_pattern_conv_s8_params *p, const int32_t *acc, int8_t *out)
{
    for (int32_t o = 0; o < p->cout; ++o) {
        out[o] = dtmm_pattern_output(p, o, acc[o]);
    }
}

/*
 * One output pixel, portable: the window at (y0, x0) (checked at the
 * borders), every group's taps, every kernel's products into acc[0, cout),
 * requantized into out[0, cout).  pos_off: dtmm_pattern_position_offsets
 * (used when kh*kw <= DTMM_PATTERN_WINDOW_MAX).
 */
static inline void dtmm_pattern_pixel_c(const dtmm_pattern_conv_s8_params *p, const int8_t *input, int32_t y0,
                                        int32_t x0, const int32_t *pos_off, int32_t *acc, int8_t *out)
{
    const int32_t n_taps = p->n_taps;
    const int whole_window = p->kh * p->kw <= DTMM_PATTERN_WINDOW_MAX;
    const int8_t *window = dtmm_pattern_window(p, input, y0, x0);
    int32_t win[DTMM_PATTERN_WINDOW_MAX];
    int32_t taps[DTMM_PATTERN_MAX_TAPS];
    const int8_t *w = p->weights;
    int32_t k = 0;
    int32_t g = 0;
    for (int32_t o = 0; o < p->cout; ++o) {
        acc[o] = 0;
    }
    for (int32_t ci = 0; ci < p->cin; ++ci) {
        if (whole_window) {
            dtmm_pattern_window_taps(p, input, window, pos_off, y0, x0, ci, win);
        }
        for (int32_t pid = 0; pid < p->n_patterns; ++pid, ++g) {
            const int32_t n = dtmm_pattern_count(p, g);
            if (n == 0) {
                continue;
            }
            if (whole_window) {
                const uint8_t *pos = p->positions + pid * n_taps;
                for (int32_t t = 0; t < n_taps; ++t) {
                    taps[t] = win[pos[t]];
                }
            } else {
                dtmm_pattern_gather(p, input, window, y0, x0, ci, pid, taps);
            }
            for (int32_t m = 0; m < n; ++m, ++k) {
                int32_t sum = 0;
                for (int32_t t = 0; t < n_taps; ++t) {
                    sum += (int32_t)w[t] * taps[t];
                }
                acc[dtmm_pattern_filter(p, k)] += sum;
                w += n_taps;
            }
        }
    }
    dtmm_pattern_store(p, acc, out);
}

#endif /* DTMM_PATTERN_CONV_INTERNAL_H */
