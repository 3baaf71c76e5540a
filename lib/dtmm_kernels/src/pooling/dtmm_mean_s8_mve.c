/*
 * dtmm_mean_s8_mve.c - Helium (MVE) int8 MEAN, Cortex-M55/M85.
 *
 * Vectorised along the innermost kept dim when its input stride is 1 (the
 * channels of a mean over H,W: global average pooling); other layouts take
 * the portable path.  8 outputs per step in int16 lanes (VLDRB.S16 + VADD
 * per reduced element, the last chunk tail-predicated), exact while at most
 * 256 values are summed; int32 lanes (4 outputs per step) above that.  The
 * requantization is TFLite's MultiplyByQuantizedMultiplier on int32 lanes:
 *   x = (sum - zp * count) << left
 *   v = VQRDMLAH(x >> 31, x, m) = SRDHM(x, m) - (x < 0)      (right >= 1)
 *   r = VRSHL(v, -right)       = RoundingDivideByPOT(SRDHM(x, m), right)
 * (VRSHL rounds halves up, the -1 for negative x turns that into away
 * from zero; right = 0 is a plain VQRDMULH).  Needs multiplier >= 0.
 */
#include <stddef.h>

#include "dtmm_ops.h"

#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)

#include <arm_mve.h>

typedef struct {
    int32_t zp_total; /* input_zero_point * count, truncated to int32 like TFLite */
    int32_t left, neg_right, multiplier, out_zp;
} mean_q;

static inline __attribute__((always_inline)) int32x4_t requant(int32x4_t sum, const mean_q *q)
{
    int32x4_t x = vsubq_s32(sum, vdupq_n_s32(q->zp_total));
    x = vshlq_r_s32(x, q->left); /* wraps like the reference's uint32 shift */
    int32x4_t v;
    if (q->neg_right != 0) {
        v = vrshlq_n_s32(vqrdmlahq_n_s32(vshrq_n_s32(x, 31), x, q->multiplier), q->neg_right);
    } else {
        v = vqrdmulhq_n_s32(x, q->multiplier);
    }
    return vaddq_n_s32(v, q->out_zp);
}

dtmm_status dtmm_mean_s8_mve(const dtmm_mean_s8_params *p, const int8_t *input, int8_t *output)
{
    if (p == NULL || input == NULL || output == NULL || p->count < 1 || p->shift < -31 || p->shift > 30) {
        return DTMM_ERR_ARGUMENT;
    }
    int64_t summed = 1;
    for (int32_t j = 0; j < 4; ++j) {
        if (p->kept_dims[j] < 1 || p->red_dims[j] < 1) {
            return DTMM_ERR_ARGUMENT;
        }
        summed *= p->red_dims[j];
    }
    if (p->kept_stride[3] != 1 || p->multiplier < 0 || summed > 65536) {
        return dtmm_mean_s8_c(p, input, output);
    }
    mean_q q;
    q.zp_total = (int32_t)(uint32_t)(uint64_t)((int64_t)p->input_zero_point * (int64_t)p->count);
    q.left = p->shift > 0 ? p->shift : 0;
    q.neg_right = p->shift > 0 ? 0 : p->shift;
    q.multiplier = p->multiplier;
    q.out_zp = p->output_zero_point;
    const int32_t *kd = p->kept_dims;
    const int32_t *ks = p->kept_stride;
    const int32_t *rd = p->red_dims;
    const int32_t *rs = p->red_stride;
    const int32_t n = kd[3];
    const int wide = summed > 256;
    const int32_t step = wide ? 4 : 8;
    int8_t *y = output;
    for (int32_t k0 = 0; k0 < kd[0]; ++k0) {
        for (int32_t k1 = 0; k1 < kd[1]; ++k1) {
            for (int32_t k2 = 0; k2 < kd[2]; ++k2) {
                const int8_t *base = input + (ptrdiff_t)k0 * ks[0] + (ptrdiff_t)k1 * ks[1] + (ptrdiff_t)k2 * ks[2];
                for (int32_t c = 0; c < n; c += step) {
                    const int32_t left = n - c;
                    if (!wide) {
                        const mve_pred16_t pr = vctp16q((uint32_t)left);
                        int16x8_t acc = vdupq_n_s16(0);
                        for (int32_t r0 = 0; r0 < rd[0]; ++r0) {
                            for (int32_t r1 = 0; r1 < rd[1]; ++r1) {
                                for (int32_t r2 = 0; r2 < rd[2]; ++r2) {
                                    const int8_t *x = base + c + (ptrdiff_t)r0 * rs[0] + (ptrdiff_t)r1 * rs[1] +
                                                      (ptrdiff_t)r2 * rs[2];
                                    const ptrdiff_t st = rs[3];
                                    if (left >= 8) {
                                        for (int32_t r3 = 0; r3 < rd[3]; ++r3, x += st) {
                                            acc = vaddq_s16(acc, vldrbq_s16(x));
                                        }
                                    } else {
                                        for (int32_t r3 = 0; r3 < rd[3]; ++r3, x += st) {
                                            acc = vaddq_s16(acc, vldrbq_z_s16(x, pr));
                                        }
                                    }
                                }
                            }
                        }
                        const int32x4_t even = requant(vmovlbq_s16(acc), &q);
                        const int32x4_t odd = requant(vmovltq_s16(acc), &q);
                        /* clamp to int8 in int32 (the requantized values may be far out), then narrow */
                        const int32x4_t lo = vdupq_n_s32(-128);
                        const int32x4_t hi = vdupq_n_s32(127);
                        int16x8_t r = vmovnbq_s32(acc, vminq_s32(vmaxq_s32(even, lo), hi));
                        r = vmovntq_s32(r, vminq_s32(vmaxq_s32(odd, lo), hi));
                        vstrbq_p_s16(y + c, r, pr);
                    } else {
                        const mve_pred16_t pr = vctp32q((uint32_t)left);
                        int32x4_t acc = vdupq_n_s32(0);
                        for (int32_t r0 = 0; r0 < rd[0]; ++r0) {
                            for (int32_t r1 = 0; r1 < rd[1]; ++r1) {
                                for (int32_t r2 = 0; r2 < rd[2]; ++r2) {
                                    const int8_t *x = base + c + (ptrdiff_t)r0 * rs[0] + (ptrdiff_t)r1 * rs[1] +
                                                      (ptrdiff_t)r2 * rs[2];
                                    const ptrdiff_t st = rs[3];
                                    for (int32_t r3 = 0; r3 < rd[3]; ++r3, x += st) {
                                        acc = vaddq_s32(acc, vldrbq_z_s32(x, pr));
                                    }
                                }
                            }
                        }
                        const int32x4_t v = vminq_s32(vmaxq_s32(requant(acc, &q), vdupq_n_s32(-128)), vdupq_n_s32(127));
                        vstrbq_p_s32(y + c, v, pr);
                    }
                }
                y += n;
            }
        }
    }
    return DTMM_OK;
}

#else /* no integer MVE: keep the symbol, forward to the portable path */

dtmm_status dtmm_mean_s8_mve(const dtmm_mean_s8_params *p, const int8_t *input, int8_t *output)
{
    return dtmm_mean_s8_c(p, input, output);
}

#endif
