/*
 * dtmm_add_s8_internal.h - what the ADD paths share (internal, static inline):
 * the argument check, the exact per-element rule, and the odometer that
 * walks the broadcast dims and hands each innermost row to a path's row
 * function.  Only the row functions differ between the paths.
 */
#ifndef DTMM_ADD_S8_INTERNAL_H
#define DTMM_ADD_S8_INTERNAL_H

#include <stddef.h>

#include "dtmm_ops.h"
#include "../common/dtmm_broadcast_walk.h"
#include "../common/dtmm_fixedpoint.h"

static inline int dtmm_add_s8_args_ok(const dtmm_add_s8_params *p, const int8_t *input1, const int8_t *input2,
                                      const int8_t *output)
{
    if (p == NULL || input1 == NULL || input2 == NULL || output == NULL || p->ndims < 0 ||
        p->ndims > DTMM_OPS_MAX_DIMS || p->left_shift < 0 || p->left_shift > 30 || p->input1_shift > 0 ||
        p->input2_shift > 0 || p->output_shift > 0 || p->input1_shift < -31 || p->input2_shift < -31 ||
        p->output_shift < -31) {
        return 0;
    }
    return (p->table1 == NULL) == (p->table2 == NULL);
}

/* One input's contribution: (x + offset) << left_shift, rescaled (its shift is <= 0). */
static inline int32_t dtmm_add_scaled_input(int32_t x, int32_t offset, int32_t left_shift, int32_t multiplier,
                                            int32_t shift)
{
    const int32_t shifted = (int32_t)((uint32_t)(x + offset) << left_shift);
    return dtmm_fp_rdbp(dtmm_fp_srdhm(shifted, multiplier), -shift);
}

static inline int8_t dtmm_add_output(const dtmm_add_s8_params *p, int32_t sum)
{
    const int32_t out = dtmm_fp_rdbp(dtmm_fp_srdhm(sum, p->output_multiplier), -p->output_shift);
    return dtmm_fp_clamp_s8(dtmm_fp_add_wrap(out, p->output_offset), p->act_min, p->act_max);
}

static inline int32_t dtmm_add_in1(const dtmm_add_s8_params *p, int32_t x)
{
    return p->table1 != NULL ? p->table1[x + 128]
                             : dtmm_add_scaled_input(x, p->input1_offset, p->left_shift, p->input1_multiplier,
                                                     p->input1_shift);
}

static inline int32_t dtmm_add_in2(const dtmm_add_s8_params *p, int32_t x)
{
    return p->table2 != NULL ? p->table2[x + 128]
                             : dtmm_add_scaled_input(x, p->input2_offset, p->left_shift, p->input2_multiplier,
                                                     p->input2_shift);
}

/* The reference rule for one output element (what every path must equal). */
static inline int8_t dtmm_add_one(const dtmm_add_s8_params *p, int32_t x1, int32_t x2)
{
    return dtmm_add_output(p, dtmm_fp_add_wrap(dtmm_add_in1(p, x1), dtmm_add_in2(p, x2)));
}

/* out[i] = add(a[i*st1], b[i*st2]) for i < n; ctx is the path's own precomputed state. */
typedef dtmm_broadcast_row_fn dtmm_add_row_fn;

/*
 * The reference rule element by element (ctx: the params): the SIMD paths' row for what their
 * identities do not cover (any stride, negative multipliers, extreme shifts).  Exact like
 * dtmm_add_s8_c() and far smaller, so a SIMD path need not link the portable one; slow, but the
 * lowering never produces those calls.
 */
static inline void dtmm_add_scalar_row(const void *ctx, const int8_t *a, int32_t st1, const int8_t *b, int32_t st2,
                                       int8_t *y, int32_t n)
{
    const dtmm_add_s8_params *p = (const dtmm_add_s8_params *)ctx;
    for (int32_t i = 0; i < n; ++i) {
        y[i] = dtmm_add_one(p, a[(ptrdiff_t)i * st1], b[(ptrdiff_t)i * st2]);
    }
}

/* The broadcast odometer (common/dtmm_broadcast_walk.h) over ADD's layout. */
static inline void dtmm_add_s8_walk(const dtmm_add_s8_params *p, const int8_t *input1, const int8_t *input2,
                                    int8_t *output, dtmm_add_row_fn row, const void *ctx)
{
    dtmm_broadcast_walk(p->ndims, p->shape, p->stride1, p->stride2, p->size, input1, input2, output, row, ctx);
}

/* ---- kernel variants (dtmm_ops.h, DTMM_ADD_VARIANTS) ---- */

/* Variant ids: the enumerators DTMM_ADD_V_<name>. */
#define DTMM_ADD_VARIANT_ENUM_(id, name) DTMM_ADD_V_##name = id,
enum { DTMM_ADD_VARIANTS(DTMM_ADD_VARIANT_ENUM_) DTMM_ADD_V_COUNT_ };
#undef DTMM_ADD_VARIANT_ENUM_

/* A variant: its path's runner, and the row kernel it hands the walk (NULL for whole-path variants). */
struct dtmm_add_variant {
    uint32_t id;
    dtmm_add_row_fn row;
    dtmm_status (*run)(const dtmm_add_variant *v, const dtmm_add_s8_params *p, const int8_t *input1,
                       const int8_t *input2, int8_t *output);
};

/* The entry of `list` with this id, or NULL (one look in id-ordered lists, else a scan). */
static inline const dtmm_add_variant *dtmm_add_variant_find(const dtmm_add_variant *const *list, uint32_t n,
                                                            uint32_t id)
{
    if (list == NULL) {
        return NULL;
    }
    if (id < n && list[id] != NULL && list[id]->id == id) {
        return list[id]; /* a path's all-variant list is in id order */
    }
    for (uint32_t k = 0; k < n; k++) {
        if (list[k] != NULL && list[k]->id == id) {
            return list[k];
        }
    }
    return NULL;
}

/*
 * The Helium path's rule (valid parameters): the row kernel of the innermost rows.  The
 * identities of dtmm_add_s8_mve_with.c need multipliers >= 0 (TFLite's always are) and rows
 * read with stride 1 or one input broadcast (stride 0); an output shift of 0 needs the masked
 * rounding of mve_any.  Pure integer code, so the packer's rule can be tested against it on the host.
 */
static inline uint32_t dtmm_add_mve_variant(const dtmm_add_s8_params *p)
{
    if (p->input1_multiplier < 0 || p->input2_multiplier < 0 || p->output_multiplier < 0) {
        return DTMM_ADD_V_mve_scalar;
    }
    const int32_t st1 = p->ndims > 0 ? p->stride1[p->ndims - 1] : 1;
    const int32_t st2 = p->ndims > 0 ? p->stride2[p->ndims - 1] : 1;
    if ((st1 != 0 && st1 != 1) || (st2 != 0 && st2 != 1) || (st1 | st2) == 0) {
        return DTMM_ADD_V_mve_scalar;
    }
    if (p->output_shift == 0) {
        return DTMM_ADD_V_mve_any;
    }
    const int z1 = p->input1_shift == 0, z2 = p->input2_shift == 0;
    if (st1 && st2) {
        return z1 ? (z2 ? DTMM_ADD_V_mve_vv_zz : DTMM_ADD_V_mve_vv_zn)
                  : (z2 ? DTMM_ADD_V_mve_vv_nz : DTMM_ADD_V_mve_vv_nn);
    }
    if (st1) {
        return z1 ? DTMM_ADD_V_mve_vb_z : DTMM_ADD_V_mve_vb_n;
    }
    return z2 ? DTMM_ADD_V_mve_bv_z : DTMM_ADD_V_mve_bv_n;
}

/* The paths' _with entries (valid parameters; dtmm_add_s8_with() checks them). */
dtmm_status dtmm_add_s8_c_with(const dtmm_add_s8_params *p, const int8_t *input1, const int8_t *input2,
                               int8_t *output, const dtmm_add_variant *const *variants, uint32_t n_variants);
dtmm_status dtmm_add_s8_dsp_with(const dtmm_add_s8_params *p, const int8_t *input1, const int8_t *input2,
                                 int8_t *output, const dtmm_add_variant *const *variants, uint32_t n_variants);
dtmm_status dtmm_add_s8_mve_with(const dtmm_add_s8_params *p, const int8_t *input1, const int8_t *input2,
                                 int8_t *output, const dtmm_add_variant *const *variants, uint32_t n_variants);

#endif /* DTMM_ADD_S8_INTERNAL_H */
