/*
 * dtmm_fixedpoint_pre.h - dtmm_fp_requantize() with the per-channel work
 * done once (internal; plain C, static inline).
 *
 * For kernels that requantize many outputs of one channel: the shift is
 * split and the rounding mask and threshold are precomputed, so one output
 * costs a shift, SMULL, a 64-bit add, and the half-away-from-zero divide as
 * AND/ASR/compare.  Exact for every accumulator as long as multiplier !=
 * INT32_MIN (the only case where SaturatingRoundingDoublingHighMul
 * saturates); dtmm_fp_pre_ok() says whether a multiplier qualifies, callers
 * use dtmm_fp_requantize() otherwise.
 */
#ifndef DTMM_FIXEDPOINT_PRE_H
#define DTMM_FIXEDPOINT_PRE_H

#include <stdint.h>

typedef struct {
    int32_t mult;
    int32_t left;  /* 0..30 */
    int32_t right; /* 0..31 */
    int32_t mask;  /* 2^right - 1 */
    int32_t thr;   /* mask >> 1 */
} dtmm_fp_pre;

static inline int dtmm_fp_pre_ok(int32_t multiplier)
{
    return multiplier != INT32_MIN;
}

static inline dtmm_fp_pre dtmm_fp_pre_make(int32_t multiplier, int32_t shift)
{
    dtmm_fp_pre q;
    q.mult = multiplier;
    q.left = shift > 0 ? shift : 0;
    q.right = shift > 0 ? 0 : -shift;
    q.mask = (int32_t)(((uint32_t)1 << q.right) - 1u);
    q.thr = q.mask >> 1;
    return q;
}

/* == dtmm_fp_requantize(x, multiplier, shift) when dtmm_fp_pre_ok(multiplier). */
static inline int32_t dtmm_fp_pre_apply(int32_t x, const dtmm_fp_pre *q)
{
    const int32_t a = (int32_t)((uint32_t)x << q->left);
    /* SRDHM without its saturation case: (a*b + 2^30) >> 31 (see dtmm_fixedpoint.h) */
    const int32_t v = (int32_t)(((int64_t)a * (int64_t)q->mult + ((int64_t)1 << 30)) >> 31);
    const int32_t threshold = q->thr + (int32_t)((uint32_t)v >> 31);
    return (v >> q->right) + ((v & q->mask) > threshold ? 1 : 0);
}

#endif /* DTMM_FIXEDPOINT_PRE_H */
