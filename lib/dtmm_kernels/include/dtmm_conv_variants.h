/*
 * dtmm_conv_variants.h - the kernel variants of the conv paths, so that a
 * firmware links only the ones its model uses (docs/kernels.md, "Variant
 * selection").  Included by dtmm_kernels.h.
 *
 * Each path picks, per layer, one variant (an inner kernel, or a
 * whole-layer routine) from the blob header alone.  dtmm_conv_s8() may
 * reach every variant of its path, so a firmware calling it links them
 * all.  dtmm_conv_s8_with() takes a caller's list of variant objects
 * instead and references nothing else: a variant not in the list is never
 * run, the call returns DTMM_ERR_UNSUPPORTED.  `dtmm pack` lists exactly
 * the variants its model's layers select (it asks the same C selection
 * code on the host), so with -ffunction-sections -fdata-sections and
 * --gc-sections the others are not linked.
 */
#ifndef DTMM_CONV_VARIANTS_H
#define DTMM_CONV_VARIANTS_H

#include <stdint.h>

#include "dtmm_fwcs.h"
#include "dtmm_status.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * The conv path this build compiles in: the one place that decides it
 * (src/conv/dtmm_conv_s8_dispatch.h maps it to functions).  Best first:
 * -DDTMM_KERNELS_PORTABLE forces C; integer Helium MVE; the DSP extension;
 * else C.  The DSP path needs GCC-style inline assembly on Thumb-2.
 */
#define DTMM_CONV_PATH_C 0
#define DTMM_CONV_PATH_DSP 1
#define DTMM_CONV_PATH_MVE 2
#if defined(DTMM_KERNELS_PORTABLE)
#define DTMM_CONV_PATH DTMM_CONV_PATH_C
#elif defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)
#define DTMM_CONV_PATH DTMM_CONV_PATH_MVE
#elif defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
#define DTMM_CONV_PATH DTMM_CONV_PATH_DSP
#else
#define DTMM_CONV_PATH DTMM_CONV_PATH_C
#endif

/* One kernel variant of a conv path (opaque; the objects below are the only instances). */
typedef struct dtmm_conv_variant dtmm_conv_variant;

/*
 * Every variant: X(id, name) names the object dtmm_conv_<name>.  MVE
 * (dtmm_conv_s8_mve.c): the group kernels quad<cin>_s<step>_{clamp,full}
 * (4 filters at a time; full = no activation clamp) for layers whose live
 * filters are a multiple of 4 (DENSE, cout % 4 == 0), the same with _l for
 * the others (leftover live filters run one at a time), pair<cin>_s<step>,
 * the generic kernels gen_n<chunks>[_t] (chunks of 16 input bytes, _t: a
 * tail) and gen_loop (cin >= 128), pg_{clamp,full} (small-cin layers of
 * patch mode read by byte gathers, only kept weights: quad groups), the element-list routine (kernels of
 * more than 32 positions) and groups (GROUPS blobs, dtmm_conv_groups_s8_mve()).  DSP
 * (dtmm_conv_s8_dsp.c): the band kernel, the element-list routine and groups
 * (dtmm_conv_groups_s8_dsp()).  portable: dtmm_conv_s8_c(), which every path
 * uses for the layers its kernels decline.
 */
#define DTMM_CONV_VARIANTS(X) DTMM_CONV_MVE_VARIANTS(X) DTMM_CONV_DSP_VARIANTS(X) X(34, portable)
#define DTMM_CONV_MVE_VARIANTS(X)                                                                  \
    X(0, mve_quad16_s16_clamp)                                                                     \
    X(1, mve_quad16_s16_full)                                                                      \
    X(2, mve_quad16_s32_clamp)                                                                     \
    X(3, mve_quad16_s32_full)                                                                      \
    X(4, mve_quad32_s32_clamp)                                                                     \
    X(5, mve_quad32_s32_full)                                                                      \
    X(6, mve_quad32_s64_clamp)                                                                     \
    X(7, mve_quad32_s64_full)                                                                      \
    X(8, mve_quad64_s64_clamp)                                                                     \
    X(9, mve_quad64_s64_full)                                                                      \
    X(10, mve_pair16_s16)                                                                          \
    X(11, mve_pair16_s32)                                                                          \
    X(12, mve_pair32_s32)                                                                          \
    X(13, mve_pair32_s64)                                                                          \
    X(14, mve_pair64_s64)                                                                          \
    X(15, mve_gen_n0_t)                                                                            \
    X(16, mve_gen_n1)                                                                              \
    X(17, mve_gen_n1_t)                                                                            \
    X(18, mve_gen_n2)                                                                              \
    X(19, mve_gen_n2_t)                                                                            \
    X(20, mve_gen_n3)                                                                              \
    X(21, mve_gen_n3_t)                                                                            \
    X(22, mve_gen_n4)                                                                              \
    X(23, mve_gen_n4_t)                                                                            \
    X(24, mve_gen_n5)                                                                              \
    X(25, mve_gen_n5_t)                                                                            \
    X(26, mve_gen_n6)                                                                              \
    X(27, mve_gen_n6_t)                                                                            \
    X(28, mve_gen_n7)                                                                              \
    X(29, mve_gen_n7_t)                                                                            \
    X(30, mve_gen_loop)                                                                            \
    X(31, mve_elem)                                                                                \
    X(35, mve_items)                                                                               \
    X(36, mve_quad16_s16_clamp_l)                                                                  \
    X(37, mve_quad16_s16_full_l)                                                                   \
    X(38, mve_quad16_s32_clamp_l)                                                                  \
    X(39, mve_quad16_s32_full_l)                                                                   \
    X(40, mve_quad32_s32_clamp_l)                                                                  \
    X(41, mve_quad32_s32_full_l)                                                                   \
    X(42, mve_quad32_s64_clamp_l)                                                                  \
    X(43, mve_quad32_s64_full_l)                                                                   \
    X(44, mve_quad64_s64_clamp_l)                                                                  \
    X(45, mve_quad64_s64_full_l)                                                                   \
    X(46, mve_pg_clamp)                                                                            \
    X(47, mve_pg_full)                                                                             \
    X(49, mve_groups)
#define DTMM_CONV_DSP_VARIANTS(X) X(32, dsp_band) X(33, dsp_elem) X(48, dsp_groups)
#define DTMM_CONV_VARIANT_COUNT 50u

#define DTMM_CONV_VARIANT_DECLARE_(id, name) extern const dtmm_conv_variant dtmm_conv_##name;
DTMM_CONV_VARIANTS(DTMM_CONV_VARIANT_DECLARE_)
#undef DTMM_CONV_VARIANT_DECLARE_

/*
 * dtmm_conv_s8() (same contract) running only the listed variants of this
 * build's path: the variant the layer selects must be in `variants` (n
 * entries, any order), else DTMM_ERR_UNSUPPORTED and nothing is written.
 * The MVE and DSP objects exist only in builds of their path (an MVE object
 * in an M4 build is a link error, not a silent fallback).
 */
dtmm_status dtmm_conv_s8_with(const uint8_t *blob, const int8_t *input, int8_t *output, void *scratch,
                              const dtmm_conv_variant *const *variants, uint32_t n_variants);

/* The id (X above) of the variant dtmm_conv_s8() runs for this blob in this build, or -(dtmm_status). */
int32_t dtmm_conv_s8_variant(const uint8_t *blob);

/* The paths with a variant list (dtmm_conv_s8_with() calls the one of this build). */
dtmm_status dtmm_conv_s8_c_with(const dtmm_fwcs_view *v, const int8_t *input, int8_t *output, void *scratch,
                                const dtmm_conv_variant *const *variants, uint32_t n_variants);
dtmm_status dtmm_conv_s8_dsp_with(const dtmm_fwcs_view *v, const int8_t *input, int8_t *output, void *scratch,
                                  const dtmm_conv_variant *const *variants, uint32_t n_variants);
dtmm_status dtmm_conv_s8_mve_with(const dtmm_fwcs_view *v, const int8_t *input, int8_t *output, void *scratch,
                                  const dtmm_conv_variant *const *variants, uint32_t n_variants);

#ifdef __cplusplus
}
#endif

#endif /* DTMM_CONV_VARIANTS_H */
