/*
 * dtmm_add_s8_mve_with.c - Helium (MVE) int8 ADD, Cortex-M55/M85: the row
 * kernels, one variant object each (DTMM_ADD_VARIANTS), and the entry that
 * runs the one the parameters select if the caller listed it.
 *
 * Four elements per step in int32 lanes (a tail-predicated last step, so
 * any length), each input and the sum rescaled exactly like TFLite:
 *   s = (x + offset) << left_shift      one VMLAS: x * 2^ls + (offset << ls)
 *   f = s >> 31                         -1 for negative s, else 0
 *   v = VQRDMLAH(f, s, m)               = SRDHM(s, m) - (s < 0)
 *   r = VRSHL(v, -right)                = RoundingDivideByPOT(SRDHM(s, m), right)
 * VRSHL rounds halves up where RoundingDivideByPOT rounds them away from
 * zero; taking 1 from negative values turns one rule into the other and
 * changes nothing else when right >= 1 (for m >= 0 SRDHM(s, m) has the sign
 * of s or is 0, and VRSHL(-1, -right) = 0).  A right shift of 0 gets no
 * correction: an input with shift 0 (the input with the larger scale
 * always has one) is just VQRDMULH,
 * and an output shift of 0 (practically never) takes a loop that masks f.
 * An input read with stride 0 (broadcast) contributes one precomputed vector.
 * The lookup tables are not used: they hold exactly these values.
 */
#include <stddef.h>

#include "dtmm_ops.h"

#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)

#include <arm_mve.h>

#include "dtmm_add_s8_internal.h"

typedef struct {
    const dtmm_add_s8_params *p;
    int32_t off1s, off2s; /* offset << left_shift (wrapping like the reference) */
    int32_t mul;          /* 1 << left_shift */
    int32_t m1, m2, mo;
    int32_t e1, e2, eo;   /* right shifts, >= 0 */
    int32_t out_off, lo, hi;
} mve_ctx;

/* How a rescale rounds: right shift known 0, known >= 1, or either (mask f). */
enum { RS_ZERO, RS_NUDGE, RS_ANY };

static inline __attribute__((always_inline)) int32x4_t rescale(int32x4_t s, int32_t m, int32_t neg_e, int32x4_t emask,
                                                               int mode)
{
    if (mode == RS_ZERO) {
        return vqrdmulhq_n_s32(s, m); /* SRDHM itself; RoundingDivideByPOT(., 0) is the identity */
    }
    int32x4_t f = vshrq_n_s32(s, 31);
    if (mode == RS_ANY) {
        f = vandq_s32(f, emask);
    }
    return vrshlq_n_s32(vqrdmlahq_n_s32(f, s, m), neg_e);
}

/* Locals only in the loop: the int8 stores could alias *c and force reloads. */
#define MVE_STEP(LOAD, STORE)                                                                                         \
    do {                                                                                                         \
        int32x4_t r1 = k1;                                                                                       \
        int32x4_t r2 = k2;                                                                                       \
        if (vec1) {                                                                                              \
            r1 = rescale(vmlasq_n_s32(LOAD(a), mulv, off1s), m1, ne1, em1, mode1);        \
        }                                                                                                        \
        if (vec2) {                                                                                              \
            r2 = rescale(vmlasq_n_s32(LOAD(b), mulv, off2s), m2, ne2, em2, mode2);        \
        }                                                                                                        \
        int32x4_t o = rescale(vaddq_s32(r1, r2), mo, neo, emo, modeo);                                       \
        o = vminq_s32(vmaxq_s32(vaddq_n_s32(o, out_off), lo), hi);                                               \
        STORE(y, o);     /* after this step's loads: in place is safe */                                    \
    } while (0)

static inline __attribute__((always_inline)) void body(const mve_ctx *c, const int8_t *a, const int8_t *b, int8_t *y,
                                                       int32_t n, int vec1, int vec2, int mode1, int mode2, int modeo)
{
    /* broadcast inputs contribute their final value */
    const int32x4_t k1 = vdupq_n_s32(vec1 ? 0 : dtmm_add_in1(c->p, *a));
    const int32x4_t k2 = vdupq_n_s32(vec2 ? 0 : dtmm_add_in2(c->p, *b));
    const int32x4_t lo = vdupq_n_s32(c->lo);
    const int32x4_t hi = vdupq_n_s32(c->hi);
    const int32x4_t mulv = vdupq_n_s32(c->mul);
    const int32x4_t em1 = vdupq_n_s32(c->e1 > 0 ? -1 : 0);
    const int32x4_t em2 = vdupq_n_s32(c->e2 > 0 ? -1 : 0);
    const int32x4_t emo = vdupq_n_s32(c->eo > 0 ? -1 : 0);
    const int32_t off1s = c->off1s, off2s = c->off2s, out_off = c->out_off;
    const int32_t m1 = c->m1, m2 = c->m2, mo = c->mo;
    const int32_t ne1 = -c->e1, ne2 = -c->e2, neo = -c->eo;
    for (int32_t k = n >> 2; k > 0; --k) {
#define FULL_LOAD(ptr) vldrbq_s32(ptr)
#define FULL_STORE(ptr, v) vstrbq_s32(ptr, v)
        MVE_STEP(FULL_LOAD, FULL_STORE);
        a += vec1 ? 4 : 0;
        b += vec2 ? 4 : 0;
        y += 4;
    }
    if ((n & 3) != 0) {
        const mve_pred16_t tail = vctp32q((uint32_t)(n & 3));
#define TAIL_LOAD(ptr) vldrbq_z_s32(ptr, tail)
#define TAIL_STORE(ptr, v) vstrbq_p_s32(ptr, v, tail)
        MVE_STEP(TAIL_LOAD, TAIL_STORE);
    }
#undef FULL_LOAD
#undef FULL_STORE
#undef TAIL_LOAD
#undef TAIL_STORE
}

#undef MVE_STEP

/* One row kernel per case of dtmm_add_mve_variant(); each is `body` specialised. */
#define MVE_ROW(NAME, VEC1, VEC2, MODE1, MODE2, MODEO)                                                              \
    static void NAME(const void *vctx, const int8_t *a, int32_t st1, const int8_t *b, int32_t st2, int8_t *y,       \
                     int32_t n)                                                                                     \
    {                                                                                                               \
        (void)st1;                                                                                                  \
        (void)st2;                                                                                                  \
        body((const mve_ctx *)vctx, a, b, y, n, VEC1, VEC2, MODE1, MODE2, MODEO);                                   \
    }
MVE_ROW(row_vv_zz, 1, 1, RS_ZERO, RS_ZERO, RS_NUDGE)
MVE_ROW(row_vv_zn, 1, 1, RS_ZERO, RS_NUDGE, RS_NUDGE)
MVE_ROW(row_vv_nz, 1, 1, RS_NUDGE, RS_ZERO, RS_NUDGE)
MVE_ROW(row_vv_nn, 1, 1, RS_NUDGE, RS_NUDGE, RS_NUDGE)
MVE_ROW(row_vb_z, 1, 0, RS_ZERO, RS_ZERO, RS_NUDGE)
MVE_ROW(row_vb_n, 1, 0, RS_NUDGE, RS_ZERO, RS_NUDGE)
MVE_ROW(row_bv_z, 0, 1, RS_ZERO, RS_ZERO, RS_NUDGE)
MVE_ROW(row_bv_n, 0, 1, RS_ZERO, RS_NUDGE, RS_NUDGE)
#undef MVE_ROW

/* Output shift 0 (hardly ever: output scale below the inputs' / 2^20): masked rounding everywhere. */
static void row_any(const void *vctx, const int8_t *a, int32_t st1, const int8_t *b, int32_t st2, int8_t *y,
                    int32_t n)
{
    body((const mve_ctx *)vctx, a, b, y, n, st1, st2, RS_ANY, RS_ANY, RS_ANY);
}

/* Negative multipliers or other strides (not produced by the lowering): the reference rule, exact. */
static void row_scalar(const void *vctx, const int8_t *a, int32_t st1, const int8_t *b, int32_t st2, int8_t *y,
                       int32_t n)
{
    dtmm_add_scalar_row(((const mve_ctx *)vctx)->p, a, st1, b, st2, y, n);
}

/* Every variant: the rescale constants once, then the walk hands each row to the variant's kernel. */
static dtmm_status mve_run(const dtmm_add_variant *v, const dtmm_add_s8_params *p, const int8_t *input1,
                           const int8_t *input2, int8_t *output)
{
    mve_ctx c;
    c.p = p;
    c.off1s = (int32_t)((uint32_t)p->input1_offset << p->left_shift);
    c.off2s = (int32_t)((uint32_t)p->input2_offset << p->left_shift);
    c.mul = (int32_t)((uint32_t)1 << p->left_shift);
    c.m1 = p->input1_multiplier;
    c.m2 = p->input2_multiplier;
    c.mo = p->output_multiplier;
    c.e1 = -p->input1_shift;
    c.e2 = -p->input2_shift;
    c.eo = -p->output_shift;
    c.out_off = p->output_offset;
    c.lo = p->act_min;
    c.hi = p->act_max;
    dtmm_add_s8_walk(p, input1, input2, output, v->row, &c);
    return DTMM_OK;
}

#define MVE_VARIANT(NAME)                                                                                           \
    const dtmm_add_variant dtmm_add_mve_##NAME = {DTMM_ADD_V_mve_##NAME, row_##NAME, mve_run};
MVE_VARIANT(vv_zz)
MVE_VARIANT(vv_zn)
MVE_VARIANT(vv_nz)
MVE_VARIANT(vv_nn)
MVE_VARIANT(vb_z)
MVE_VARIANT(vb_n)
MVE_VARIANT(bv_z)
MVE_VARIANT(bv_n)
MVE_VARIANT(any)
MVE_VARIANT(scalar)
#undef MVE_VARIANT

dtmm_status dtmm_add_s8_mve_with(const dtmm_add_s8_params *p, const int8_t *input1, const int8_t *input2,
                                 int8_t *output, const dtmm_add_variant *const *variants, uint32_t n_variants)
{
    const dtmm_add_variant *v = dtmm_add_variant_find(variants, n_variants, dtmm_add_mve_variant(p));
    return v == NULL ? DTMM_ERR_UNSUPPORTED : v->run(v, p, input1, input2, output);
}

#else /* no integer MVE: keep the symbol (its variants exist only in MVE builds) */

dtmm_status dtmm_add_s8_mve_with(const dtmm_add_s8_params *p, const int8_t *input1, const int8_t *input2,
                                 int8_t *output, const dtmm_add_variant *const *variants, uint32_t n_variants)
{
    (void)variants;
    (void)n_variants;
    return dtmm_add_s8_c(p, input1, input2, output);
}

#endif
