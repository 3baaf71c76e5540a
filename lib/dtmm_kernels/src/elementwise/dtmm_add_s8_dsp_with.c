/*
 * dtmm_add_s8_dsp_with.c - int8 ADD for cores with the Arm DSP extension
 * (Cortex-M4/M7/M33): the path's one variant object (its cases are chosen
 * per call in here) and the entry that runs it if the caller listed it.
 *
 * Scalar per element, but each SaturatingRoundingDoublingHighMul is one
 * SMMULR instead of SMULL plus a 64-bit add and shift:
 *   SRDHM(a, m) = (2*a*m + 2^31) >> 32 = SMMULR(2*a, m)   when |a| < 2^30
 * and RoundingDivideByPOT(v, e >= 1) = (v + (v >> 31) + 2^(e-1)) >> e
 * (the -1 for negative v makes a half round away from zero; an input shift
 * of 0 - the input with the larger scale always has it - masks it off).
 * The |a| < 2^30 conditions are checked once per call from the extreme
 * inputs (a rescaled input is monotonic in x as long as (x + offset) <<
 * left_shift cannot wrap, also checked, so -128 and 127 bound it); a call
 * that fails them, or has an output shift of 0, runs the reference rule
 * element by element (dtmm_add_scalar_row(): exact, small, slow).
 * Inputs use the lowering's lookup tables when present (two loads), else
 * x * 2^(ls+1) + (offset << (ls+1)) (one MLA) then SMMULR.  A broadcast
 * input (stride 0) is rescaled once per row.
 */
#include <stddef.h>

#include "dtmm_ops.h"

#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP && defined(__thumb2__) && defined(__GNUC__)

#include "dtmm_add_s8_internal.h"

typedef struct {
    const dtmm_add_s8_params *p;
    const int32_t *t1, *t2; /* tables at [0] for x = 0, or NULL */
    int32_t off1s, off2s;   /* offset << (left_shift + 1) */
    int32_t mul;            /* 1 << (left_shift + 1) */
    int32_t m1, m2, mo;
    int32_t e1, e2, eo;     /* right shifts, inputs' >= 0, output's >= 1 */
    int32_t out_off, lo, hi;
} dsp_ctx;

static inline __attribute__((always_inline)) int32_t smmulr(int32_t a, int32_t b)
{
    int32_t r;
    __asm__("smmulr %0, %1, %2" : "=r"(r) : "r"(a), "r"(b));
    return r;
}

/* RoundingDivideByPOT for e >= 1 and |v| < 2^30. */
static inline __attribute__((always_inline)) int32_t rdbp1(int32_t v, int32_t e)
{
    return (v + (v >> 31) + (int32_t)((uint32_t)1 << (e - 1))) >> e;
}

/* The same for e >= 0: neg = e ? -1 : 0, half = e ? 2^(e-1) : 0 (inputs: equal scales give e = 0). */
static inline __attribute__((always_inline)) int32_t rdbp0(int32_t v, int32_t e, int32_t neg, int32_t half)
{
    return (v + ((v >> 31) & neg) + half) >> e;
}

static inline __attribute__((always_inline)) void body(const dsp_ctx *c, const int8_t *a, const int8_t *b, int8_t *y,
                                                       int32_t n, int vec1, int vec2, int tables)
{
    const int32_t k1 = vec1 ? 0 : dtmm_add_in1(c->p, *a);
    const int32_t k2 = vec2 ? 0 : dtmm_add_in2(c->p, *b);
    const int32_t *t1 = c->t1;
    const int32_t *t2 = c->t2;
    const int32_t mul = c->mul, off1s = c->off1s, off2s = c->off2s;
    const int32_t m1 = c->m1, m2 = c->m2, mo = c->mo, e1 = c->e1, e2 = c->e2, eo = c->eo;
    const int32_t neg1 = e1 ? -1 : 0, neg2 = e2 ? -1 : 0;
    const int32_t half1 = e1 ? (int32_t)((uint32_t)1 << (e1 - 1)) : 0;
    const int32_t half2 = e2 ? (int32_t)((uint32_t)1 << (e2 - 1)) : 0;
    const int32_t lo = c->lo - c->out_off, hi = c->hi - c->out_off, off = c->out_off;
    for (int32_t i = 0; i < n; ++i) {
        int32_t r1 = k1;
        int32_t r2 = k2;
        if (vec1) {
            r1 = tables ? t1[a[i]] : rdbp0(smmulr(a[i] * mul + off1s, m1), e1, neg1, half1);
        }
        if (vec2) {
            r2 = tables ? t2[b[i]] : rdbp0(smmulr(b[i] * mul + off2s, m2), e2, neg2, half2);
        }
        int32_t v = rdbp1(smmulr((r1 + r2) * 2, mo), eo);
        v = v < lo ? lo : (v > hi ? hi : v); /* |v| < 2^30: clamping before the offset is the same */
        y[i] = (int8_t)(v + off);
    }
}

static void dsp_row(const void *vctx, const int8_t *a, int32_t st1, const int8_t *b, int32_t st2, int8_t *y,
                    int32_t n)
{
    const dsp_ctx *c = (const dsp_ctx *)vctx;
    if ((st1 != 0 && st1 != 1) || (st2 != 0 && st2 != 1) || (st1 | st2) == 0) {
        dtmm_add_scalar_row(c->p, a, st1, b, st2, y, n); /* not produced by the lowering; kept exact anyway */
        return;
    }
    if (c->t1 != NULL) {
        if (st1 && st2) {
            body(c, a, b, y, n, 1, 1, 1);
        } else if (st1) {
            body(c, a, b, y, n, 1, 0, 1);
        } else {
            body(c, a, b, y, n, 0, 1, 1);
        }
    } else {
        if (st1 && st2) {
            body(c, a, b, y, n, 1, 1, 0);
        } else if (st1) {
            body(c, a, b, y, n, 1, 0, 0);
        } else {
            body(c, a, b, y, n, 0, 1, 0);
        }
    }
}

static int64_t bound(int32_t lo_val, int32_t hi_val)
{
    const int64_t a = lo_val < 0 ? -(int64_t)lo_val : lo_val;
    const int64_t b = hi_val < 0 ? -(int64_t)hi_val : hi_val;
    return a > b ? a : b;
}

/* Could (x + offset) << shift leave int32 for some int8 x? */
static int too_wide(int32_t offset, int32_t shift)
{
    const int64_t a = offset < 0 ? 128 - (int64_t)offset : 127 + (int64_t)offset;
    return (a << shift) >= ((int64_t)1 << 31);
}

static dtmm_status dsp_run(const dtmm_add_variant *v, const dtmm_add_s8_params *p, const int8_t *input1,
                           const int8_t *input2, int8_t *output)
{
    (void)v;
    /* the identities above: right shifts >= 1, |SMMULR operands| < 2^31, no saturating SRDHM */
    const int64_t sum_bound = bound(dtmm_add_in1(p, -128), dtmm_add_in1(p, 127)) +
                              bound(dtmm_add_in2(p, -128), dtmm_add_in2(p, 127));
    /* no table: SMMULR takes 2 * (x + offset) << left_shift; and only without wrap-around is the
     * rescaled input monotonic in x (TFLite: left_shift 20, never near either limit) */
    const int32_t ls = p->left_shift + (p->table1 == NULL ? 1 : 0);
    const int scalar = p->output_shift > -1 || sum_bound >= ((int64_t)1 << 30) || too_wide(p->input1_offset, ls) ||
                       too_wide(p->input2_offset, ls); /* then element by element, exact */
    dsp_ctx c;
    c.p = p;
    c.t1 = p->table1 != NULL ? p->table1 + 128 : NULL;
    c.t2 = p->table2 != NULL ? p->table2 + 128 : NULL;
    c.off1s = (int32_t)((uint32_t)p->input1_offset << (p->left_shift + 1));
    c.off2s = (int32_t)((uint32_t)p->input2_offset << (p->left_shift + 1));
    c.mul = (int32_t)((uint32_t)1 << (p->left_shift + 1));
    c.m1 = p->input1_multiplier;
    c.m2 = p->input2_multiplier;
    c.mo = p->output_multiplier;
    c.e1 = -p->input1_shift;
    c.e2 = -p->input2_shift;
    c.eo = -p->output_shift;
    c.out_off = p->output_offset;
    c.lo = p->act_min;
    c.hi = p->act_max;
    dtmm_add_s8_walk(p, input1, input2, output, scalar ? dtmm_add_scalar_row : dsp_row,
                     scalar ? (const void *)p : (const void *)&c); /* one walk: it is inlined */
    return DTMM_OK;
}

const dtmm_add_variant dtmm_add_dsp = {DTMM_ADD_V_dsp, NULL, dsp_run};

dtmm_status dtmm_add_s8_dsp_with(const dtmm_add_s8_params *p, const int8_t *input1, const int8_t *input2,
                                 int8_t *output, const dtmm_add_variant *const *variants, uint32_t n_variants)
{
    const dtmm_add_variant *v = dtmm_add_variant_find(variants, n_variants, DTMM_ADD_V_dsp);
    return v == NULL ? DTMM_ERR_UNSUPPORTED : v->run(v, p, input1, input2, output);
}

#else /* no DSP extension: keep the symbol (its variant exists only in DSP builds) */

dtmm_status dtmm_add_s8_dsp_with(const dtmm_add_s8_params *p, const int8_t *input1, const int8_t *input2,
                                 int8_t *output, const dtmm_add_variant *const *variants, uint32_t n_variants)
{
    (void)variants;
    (void)n_variants;
    return dtmm_add_s8_c(p, input1, input2, output);
}

#endif
