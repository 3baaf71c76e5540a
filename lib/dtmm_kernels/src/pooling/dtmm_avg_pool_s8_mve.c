/*
 * dtmm_avg_pool_s8_mve.c - Helium (MVE) int8 AVERAGE_POOL_2D, Cortex-M55/M85.
 *
 * Channels go 8 at a time in int16 lanes (VLDRB.S16 + VADD per tap), exact while a window has at most 256 values
 * (|sum| <= 128 * 256 fits int16).  The rounded division (|sum| + count/2) /
 * count, sign restored, uses a reciprocal: with M = ceil(2^32 / count)
 * (one UDIV: floor((2^32 - 1) / count) + 1), floor(n / count) = (n * M) >> 32
 * (VMULH.U32) whenever n * count < 2^32, and here n <= 128.5 * count with
 * count <= 256.  The sums are widened to two int32 halves (VMOVLB/VMOVLT)
 * for that and narrowed back (VMOVNB/VMOVNT) in lane order.
 *
 * The last ch % 8 channels, windows of more than 256 values, and clamps
 * outside [-128, 127] or with act_min > act_max take window_s32() (cold, -Os): 4 channels at a time in
 * int32 lanes, the reciprocal floor((2^32 - 1) / count) corrected by one
 * step, and the reference clamp (v < lo ? lo : min(v, hi)).  So the portable
 * path is not linked.
 */
#include <stddef.h>

#include "dtmm_ops.h"

#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)

#include <arm_mve.h>

#include "../common/dtmm_cold.h"

/* One output position from channel c0 on, any window and clamp: int32 lanes, 4 channels a step (the
 * last one predicated). */
static DTMM_COLD __attribute__((noinline)) void window_s32(const dtmm_pool_s8_params *p, const int8_t *x0, int8_t *y,
                                                           int32_t rows, int32_t cols, int32_t c0)
{
    const int32_t ch = p->channels;
    const size_t row = (size_t)p->in_w * (size_t)ch;
    const uint32_t count = (uint32_t)(rows * cols);
    const uint32_t half = count / 2u;
    const uint32x4_t recip = vdupq_n_u32(0xFFFFFFFFu / count); /* floor(n / count) or one less, n < 2^32 */
    const int32x4_t lo = vdupq_n_s32(p->act_min);
    for (int32_t c = c0; c < ch; c += 4) {
        const mve_pred16_t pr = vctp32q((uint32_t)(ch - c));
        int32x4_t acc = vdupq_n_s32(0);
        const int8_t *xr = x0 + c;
        for (int32_t r = 0; r < rows; ++r, xr += row) {
            const int8_t *x = xr;
            for (int32_t k = 0; k < cols; ++k, x += ch) {
                acc = vaddq_s32(acc, vldrbq_z_s32(x, pr));
            }
        }
        const uint32x4_t n = vaddq_n_u32(vreinterpretq_u32_s32(vabsq_s32(acc)), half);
        uint32x4_t q = vmulhq_u32(n, recip);
        q = vaddq_m_n_u32(q, q, 1u, vcmpcsq_u32(n, vmulq_n_u32(vaddq_n_u32(q, 1u), count)));
        const int32x4_t sign = vshrq_n_s32(acc, 31);
        int32x4_t v = vsubq_s32(veorq_s32(vreinterpretq_s32_u32(q), sign), sign);
        /* the reference clamp, v < lo ? lo : (v > hi ? hi : v), also for lo > hi */
        v = vpselq_s32(lo, vminq_s32(v, vdupq_n_s32(p->act_max)), vcmpltq_s32(v, lo));
        vstrbq_p_s32(y + c, v, pr);
    }
}

/* round(v / count) half away from zero, count >= 2 (recip = ceil(2^32 / count), half = count / 2). */
static inline __attribute__((always_inline)) int32x4_t div_round(int32x4_t v, uint32x4_t recip, uint32_t half)
{
    const uint32x4_t n = vaddq_n_u32(vreinterpretq_u32_s32(vabsq_s32(v)), half);
    const int32x4_t q = vreinterpretq_s32_u32(vmulhq_u32(n, recip));
    const int32x4_t sign = vshrq_n_s32(v, 31);
    return vsubq_s32(veorq_s32(q, sign), sign);
}

static inline __attribute__((always_inline)) int16x8_t average(int16x8_t acc, int32_t count, uint32x4_t recip,
                                                               uint32_t half)
{
    if (count == 1) {
        return acc;
    }
    const int32x4_t even = div_round(vmovlbq_s16(acc), recip, half);
    const int32x4_t odd = div_round(vmovltq_s16(acc), recip, half);
    return vmovntq_s32(vmovnbq_s32(acc, even), odd);
}

dtmm_status dtmm_avg_pool_s8_mve(const dtmm_pool_s8_params *p, const int8_t *input, int8_t *output)
{
    if (p == NULL || input == NULL || output == NULL || p->stride_h < 1 || p->stride_w < 1 || p->channels < 1) {
        return DTMM_ERR_ARGUMENT;
    }
    /* int16 sums could overflow, or an odd clamp: window_s32() */
    const int odd = p->act_min < -128 || p->act_max > 127 || p->act_min > p->act_max;
    const int32_t ch = p->channels;
    const int32_t full = ch & ~7;
    const size_t row = (size_t)p->in_w * (size_t)ch;
    const int16x8_t lo = vdupq_n_s16((int16_t)p->act_min);
    const int16x8_t hi = vdupq_n_s16((int16_t)p->act_max);
    for (int32_t b = 0; b < p->batches; ++b) {
        const int8_t *in = input + (size_t)b * (size_t)p->in_h * row;
        int8_t *out = output + (size_t)b * (size_t)p->out_h * (size_t)p->out_w * (size_t)ch;
        for (int32_t oy = 0; oy < p->out_h; ++oy) {
            const int32_t iy0 = oy * p->stride_h - p->pad_top;
            const int32_t fy_s = iy0 < 0 ? -iy0 : 0;
            const int32_t fy_e = p->filter_h < p->in_h - iy0 ? p->filter_h : p->in_h - iy0;
            for (int32_t ox = 0; ox < p->out_w; ++ox) {
                const int32_t ix0 = ox * p->stride_w - p->pad_left;
                const int32_t fx_s = ix0 < 0 ? -ix0 : 0;
                const int32_t fx_e = p->filter_w < p->in_w - ix0 ? p->filter_w : p->in_w - ix0;
                if (fy_e <= fy_s || fx_e <= fx_s) {
                    return DTMM_ERR_ARGUMENT; /* empty window: TFLite fails too */
                }
                const int32_t rows = fy_e - fy_s;
                const int32_t cols = fx_e - fx_s;
                const int32_t count = rows * cols;
                const int8_t *x0 = in + (size_t)(iy0 + fy_s) * row + (size_t)(ix0 + fx_s) * (size_t)ch;
                int8_t *y = out + ((size_t)oy * (size_t)p->out_w + (size_t)ox) * (size_t)ch;
                if (count > 256 || odd) {
                    window_s32(p, x0, y, rows, cols, 0);
                    continue;
                }
                /* ceil(2^32 / count); 0 (unused) for count == 1 */
                const uint32x4_t recip = vdupq_n_u32(0xFFFFFFFFu / (uint32_t)count + 1u);
                const uint32_t half = (uint32_t)count / 2u;
                int32_t c = 0;
                for (; c < full; c += 8) {
                    int16x8_t acc = vdupq_n_s16(0);
                    const int8_t *xr = x0 + c;
                    for (int32_t r = 0; r < rows; ++r, xr += row) {
                        const int8_t *x = xr;
                        for (int32_t k = 0; k < cols; ++k, x += ch) {
                            acc = vaddq_s16(acc, vldrbq_s16(x));
                        }
                    }
                    vstrbq_s16(y + c, vminq_s16(vmaxq_s16(average(acc, count, recip, half), lo), hi));
                }
                if (c < ch) {
                    window_s32(p, x0, y, rows, cols, c); /* the last ch % 8 channels */
                }
            }
        }
    }
    return DTMM_OK;
}

#else /* no integer MVE: keep the symbol, forward to the portable path */

dtmm_status dtmm_avg_pool_s8_mve(const dtmm_pool_s8_params *p, const int8_t *input, int8_t *output)
{
    return dtmm_avg_pool_s8_c(p, input, output);
}

#endif
