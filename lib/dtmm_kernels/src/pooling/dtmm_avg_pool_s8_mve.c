/*
 * dtmm_avg_pool_s8_mve.c - Helium (MVE) int8 AVERAGE_POOL_2D, Cortex-M55/M85.
 *
 * Channels go 8 at a time in int16 lanes (VLDRB.S16 + VADD per tap; the
 * last chunk tail-predicated), exact while a window has at most 256 values
 * (|sum| <= 128 * 256 fits int16); larger windows take the portable path.
 * The rounded division (|sum| + count/2) / count, sign restored, uses a
 * reciprocal: with M = ceil(2^32 / count), floor(n / count) = (n * M) >> 32
 * (VMULH.U32) whenever n * count < 2^32, and here n <= 128.5 * count with
 * count <= 256.  The sums are widened to two int32 halves (VMOVLB/VMOVLT)
 * for that and narrowed back (VMOVNB/VMOVNT) in lane order.
 */
#include <stddef.h>

#include "dtmm_ops.h"

#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)

#include <arm_mve.h>

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
    if (p->filter_h > 256 || p->filter_w > 256 || p->filter_h * p->filter_w > 256 || p->act_min < -128 ||
        p->act_max > 127 || p->act_min > p->act_max) {
        return dtmm_avg_pool_s8_c(p, input, output); /* int16 sums could overflow, or an odd clamp */
    }
    const int32_t ch = p->channels;
    const int32_t full = ch & ~7;
    const size_t row = (size_t)p->in_w * (size_t)ch;
    const int16x8_t lo = vdupq_n_s16((int16_t)p->act_min);
    const int16x8_t hi = vdupq_n_s16((int16_t)p->act_max);
    const mve_pred16_t tail = vctp16q((uint32_t)(ch - full));
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
                const uint32_t m = count > 1 ? (uint32_t)((((uint64_t)1 << 32) + (uint64_t)count - 1u) / (uint64_t)count) : 0u;
                const uint32x4_t recip = vdupq_n_u32(m);
                const uint32_t half = (uint32_t)count / 2u;
                const int8_t *x0 = in + (size_t)(iy0 + fy_s) * row + (size_t)(ix0 + fx_s) * (size_t)ch;
                int8_t *y = out + ((size_t)oy * (size_t)p->out_w + (size_t)ox) * (size_t)ch;
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
                    int16x8_t acc = vdupq_n_s16(0);
                    const int8_t *xr = x0 + c;
                    for (int32_t r = 0; r < rows; ++r, xr += row) {
                        const int8_t *x = xr;
                        for (int32_t k = 0; k < cols; ++k, x += ch) {
                            acc = vaddq_s16(acc, vldrbq_z_s16(x, tail));
                        }
                    }
                    vstrbq_p_s16(y + c, vminq_s16(vmaxq_s16(average(acc, count, recip, half), lo), hi), tail);
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
