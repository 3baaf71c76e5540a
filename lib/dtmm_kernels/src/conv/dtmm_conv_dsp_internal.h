/*
 * dtmm_conv_dsp_internal.h - the scratch plan of the Arm DSP conv path
 * (internal; shared by dtmm_conv_s8_dsp_with.c and its get_buffer_size so the
 * kernel and its scratch size can never disagree).
 *
 * How the DSP path works (details in dtmm_conv_s8_dsp_with.c):
 *  - output pixels are computed in blocks of 4 horizontally adjacent pixels;
 *  - every input row is expanded once (per column tile) to int16 with the
 *    input offset added, into a "band" row:
 *        band[group g][phase][column j][8 bytes]
 *    (8 bytes = the even-lane and the odd-lane word of 4 channels), where
 *    phase = padded column mod stride_w and j = padded column / stride_w, so
 *    the 4 pixels of a block read 32 contiguous bytes for every tap and
 *    every group (two LDMs), whatever the stride; taps outside the input are
 *    zero words, so borders need no special code;
 *  - a ring of row slots makes every input row expanded once per tile;
 *  - output columns are split into tiles so that the band stays within
 *    DTMM_DSP_BAND_BUDGET bytes (at least one block per tile);
 *  - per-filter records (mask, weight pointer, 4x bias, multiplier, shift)
 *    let the assembly core load everything of a filter with two LDMs;
 *  - when cin % 4 != 0, filterlets are repacked to a multiple of 4 bytes
 *    (zero padded) in chunks of at most DTMM_DSP_REPACK_BUDGET bytes.
 *
 * Scratch layout (every part 16-byte aligned), G = ceil(cin/4):
 *   records  32 * cout
 *   band     slots * G * group_bytes,
 *            group_bytes = phases * align4(4*tile_blocks + hq) * 8
 *            (slots = (kh-1)*dilation_h + 1, or kh when that exceeds 2*kh;
 *             phases = distinct kw_i*dilation_w mod stride_w;
 *             hq = max kw_i*dilation_w div stride_w)
 *   repack   min(n_kept * 4G, max(REPACK_BUDGET, kh*kw * 4G))   (cin % 4 != 0 only)
 *   dump     align16(cout)       (stores of the pixels past out_w of a partial block)
 *   pad      align16(cin)        (cin % 4 == 0 only: a pixel of -input_offset, expands to zeros)
 * Layers with cin = 1 or more than 32 kernel positions run the element-list
 * kernel instead (dtmm_dsp_choose_elem(), layout at dtmm_dsp_make_elem_plan());
 * other shapes whose band plan exceeds DTMM_DSP_SCRATCH_MAX or with more than
 * 4*DTMM_DSP_GMAX input channels, and element lists above
 * DTMM_DSP_ELEM_SCRATCH_MAX, run on the portable path (dtmm_conv_s8_c) with
 * its scratch size.
 */
#ifndef DTMM_CONV_DSP_INTERNAL_H
#define DTMM_CONV_DSP_INTERNAL_H

#include <stdint.h>

#include "dtmm_conv_groups_internal.h"
#include "dtmm_conv_variant_internal.h"
#include "dtmm_fwcs.h"

/* Longest filterlet the unrolled assembly handles, in groups of 4 channels. */
#define DTMM_DSP_GMAX 64u

#ifndef DTMM_DSP_BAND_BUDGET
#define DTMM_DSP_BAND_BUDGET 4096u
#endif
#ifndef DTMM_DSP_REPACK_BUDGET
#define DTMM_DSP_REPACK_BUDGET 2048u
#endif
#ifndef DTMM_DSP_SCRATCH_MAX
#define DTMM_DSP_SCRATCH_MAX 12288u
#endif

#define DTMM_DSP_RECORD_WORDS 8u

typedef struct {
    uint32_t use_c;       /* 1: this shape runs on the portable path */
    uint32_t positions;   /* kh*kw */
    uint32_t groups;      /* G = ceil(cin/4) */
    uint32_t cin4;        /* 4*G */
    uint32_t phases;      /* band phases in use */
    uint32_t hq;          /* largest column shift of a tap inside its phase */
    uint32_t ring;        /* 1: slot = iy mod slots; 0: slot = kh_i */
    uint32_t slots;       /* row slots */
    uint32_t blocks;      /* ceil(out_w/4) */
    uint32_t tile_blocks; /* blocks per column tile */
    uint32_t cols;        /* band columns per phase: align4(4*tile_blocks + hq) */
    uint32_t group_bytes; /* phases*cols*8: stride between groups in a band row */
    uint32_t slot_bytes;  /* G*group_bytes */
    uint32_t repack;      /* cin % 4 != 0 */
    uint32_t repack_bytes;
    uint32_t records_off, band_off, repack_off, dump_off, pad_off, total;
    uint8_t phase_of[32]; /* band phase index of tap column kw_i */
    uint8_t q[32];        /* column shift of tap column kw_i: kw_i*dilation_w div stride_w */
    uint8_t phase_val[32];/* stride phase (0..stride_w-1) of each band phase index */
} dtmm_dsp_plan;

/* Scratch plan of the element-list kernel (a separate struct: the band driver's frame stays as it was). */
typedef struct {
    uint32_t elem;  /* 1: the layer runs on the element-list kernel */
    uint32_t K;     /* kh*kw*cin: elements of one pixel's receptive field */
    uint32_t pairs; /* 1: the pair kernels (pair-major columns), DTMM_DSP_ELEM_PAIRS_KMAX */
    uint32_t plane; /* pairs from a padded int16 copy of the input (plane_h x plane_w pixels) */
    uint32_t plane_h, plane_w, plane_off;
    uint32_t rec_bytes, col_off, dump_off, total;
} dtmm_dsp_elem_plan;

static inline uint32_t dtmm_dsp_align16(uint32_t n)
{
    return (n + 15u) & ~15u;
}

#if defined(__GNUC__)
#define DTMM_DSP_ALWAYS_INLINE __attribute__((always_inline))
#else
#define DTMM_DSP_ALWAYS_INLINE
#endif

/* Tiles of tb blocks and the scratch offsets that follow from them; clears use_c when it all fits. */
static inline DTMM_DSP_ALWAYS_INLINE void dtmm_dsp_plan_tiles(const dtmm_fwcs_header *h, dtmm_dsp_plan *pl, uint32_t tb)
{
    const uint32_t cin = h->cin, cout = h->cout;
    const uint32_t tiles = (pl->blocks + tb - 1u) / tb;
    pl->tile_blocks = (pl->blocks + tiles - 1u) / tiles; /* balanced tiles */
    pl->cols = (4u * pl->tile_blocks + pl->hq + 3u) & ~3u;
    pl->group_bytes = pl->phases * pl->cols * 8u;
    pl->slot_bytes = pl->groups * pl->group_bytes;

    pl->repack = (cin & 3u) != 0u;
    pl->repack_bytes = 0;
    if (pl->repack) {
        const uint32_t all = h->n_kept * pl->cin4;
        uint32_t budget = DTMM_DSP_REPACK_BUDGET;
        if (budget < pl->positions * pl->cin4) budget = pl->positions * pl->cin4;
        pl->repack_bytes = all < budget ? all : budget;
    }

    pl->records_off = 0;
    pl->band_off = dtmm_dsp_align16(DTMM_DSP_RECORD_WORDS * 4u * cout);
    pl->repack_off = pl->band_off + pl->slots * pl->slot_bytes;
    pl->dump_off = pl->repack_off + dtmm_dsp_align16(pl->repack_bytes);
    pl->pad_off = pl->dump_off + dtmm_dsp_align16(cout);
    pl->total = pl->pad_off + (pl->repack ? 0u : dtmm_dsp_align16(cin));
    if (pl->total <= DTMM_DSP_SCRATCH_MAX) {
        pl->use_c = 0;
    }
}

/* The band plan; pl->use_c tells whether the band kernel can take the layer.  Always inlined:
 * the band driver's per-row code is only as good as before with the plan computed in its own
 * frame (GCC stops inlining it once the variant rule calls it too). */
static inline DTMM_DSP_ALWAYS_INLINE void dtmm_dsp_make_band_plan(const dtmm_fwcs_header *h, dtmm_dsp_plan *pl)
{
    const uint32_t kh = h->kh, kw = h->kw, cin = h->cin;
    const uint32_t sw = h->stride_w, dw = h->dilation_w, dh = h->dilation_h;
    pl->use_c = 1u;
    pl->positions = kh * kw;
    pl->groups = (cin + 3u) / 4u;
    if (pl->positions > 32u || pl->groups > DTMM_DSP_GMAX) {
        return;
    }
    pl->cin4 = pl->groups * 4u;

    uint32_t np = 0, hq = 0;
    for (uint32_t j = 0; j < kw; j++) {
        const uint32_t a = j * dw, ph = a % sw, q = a / sw;
        uint32_t k = 0;
        while (k < np && pl->phase_val[k] != ph) k++;
        if (k == np) {
            pl->phase_val[np++] = (uint8_t)ph;
        }
        pl->phase_of[j] = (uint8_t)k;
        if (q > 255u) {
            return; /* absurd dilation: portable path */
        }
        pl->q[j] = (uint8_t)q;
        if (q > hq) hq = q;
    }
    pl->phases = np;
    pl->hq = hq;

    const uint32_t span = (kh - 1u) * dh + 1u;
    pl->ring = span <= 2u * kh && span <= 32u;
    pl->slots = pl->ring ? span : kh;

    pl->blocks = (h->out_w + 3u) / 4u;
    const uint32_t row_unit = pl->slots * pl->groups * np * 8u; /* band bytes per column */
    uint32_t tb = pl->blocks;
    while (tb > 1u && row_unit * ((4u * tb + hq + 3u) & ~3u) > DTMM_DSP_BAND_BUDGET) tb--;
    dtmm_dsp_plan_tiles(h, pl, tb);
    /* wide rows of many channels: narrower tiles until the whole plan fits DTMM_DSP_SCRATCH_MAX */
    while (pl->use_c && tb > 1u) dtmm_dsp_plan_tiles(h, pl, --tb);
}

/* Element-list path: a filter is a list of (weight pair, element offset pair)
 * words over its kept filterlets; see dtmm_conv_s8_dsp_with.c. */
#ifndef DTMM_DSP_ELEM_BUDGET
#define DTMM_DSP_ELEM_BUDGET 6144u
#endif
#ifndef DTMM_DSP_ELEM_SCRATCH_MAX
#define DTMM_DSP_ELEM_SCRATCH_MAX 16384u
#endif
#define DTMM_DSP_ELEM_HDR_WORDS 4u
/* The band kernel spends a whole group of 4 lanes per tap: with cin = 1
 * three of them multiply padding, and the element list (8 MACs per 13
 * instructions) wins; from cin = 2 on the band kernel's cheaper input
 * expansion (per input pixel, not per receptive-field element) wins. */
#define DTMM_DSP_ELEM_CIN_MAX 1u

/* Layers with receptive fields of at most this many elements (one field of int16 on the stack
 * while the columns are built) and at least 3/8 of their filterlets kept run the pair kernel, on
 * whole pairs of field elements with pruned weights as zeros (below 3/8 the element list of the
 * kept weights is cheaper). */
#define DTMM_DSP_ELEM_PAIRS_KMAX 512u
/* The pair kernels' columns come from a zero-padded int16 copy of the input, built once per call,
 * when every kernel row is an even number of contiguous elements (dilation_w 1, kw*cin even) and
 * the copy takes at most this many bytes: a pair of a field is then one word of the copy. */
#ifndef DTMM_DSP_ELEM_PLANE_MAX
#define DTMM_DSP_ELEM_PLANE_MAX 4096u
#endif

/* Weight (and column) words of a dense pair record: K elements as int16 pairs, an even count. */
static inline uint32_t dtmm_dsp_elem_pair_words(uint32_t K)
{
    return ((K + 1u) / 2u + 1u) & ~1u;
}

/* Scratch of the element-list path, 0 when it cannot take the layer:
 *   records  min(all filters, max(one dense filter, DTMM_DSP_ELEM_BUDGET)),
 *            a filter = 16-byte header + 16 bytes per 4 kept weights (rounded up)
 *            (dense pair records, 16 bytes + 4 per weight pair, are smaller)
 *   columns  8*K: int16 receptive fields of 4 pixels, element-major; dense
 *            pairs: 16 bytes per weight pair word (pair-major)
 *   dump     align16(cout): stores of the pixels past the end of the last block */
static inline uint32_t dtmm_dsp_make_elem_plan(const dtmm_fwcs_header *h, dtmm_dsp_elem_plan *pl)
{
    const uint32_t P = (uint32_t)h->kh * h->kw;
    if (P > 8191u || h->cin > 8191u || P * h->cin > 8191u) {
        return 0; /* element offsets are 16-bit: 8*K must fit */
    }
    const uint32_t K = P * h->cin;
    const uint32_t frec = 4u * DTMM_DSP_ELEM_HDR_WORDS + 16u * ((K + 3u) / 4u);
    const uint64_t all_dense = (uint64_t)h->cout * frec;
    const uint64_t all_kept = (uint64_t)h->cout * (4u * DTMM_DSP_ELEM_HDR_WORDS + 16u) + 4ull * h->n_kept * h->cin;
    uint64_t rec = all_dense < all_kept ? all_dense : all_kept;
    const uint32_t budget = frec > DTMM_DSP_ELEM_BUDGET ? frec : DTMM_DSP_ELEM_BUDGET;
    if (rec > budget) rec = budget;
    pl->K = K;
    pl->pairs = K <= DTMM_DSP_ELEM_PAIRS_KMAX && h->n_kept >= (3u * h->cout * P + 7u) / 8u; /* < 2^31 */
    pl->rec_bytes = (uint32_t)rec;
    pl->col_off = dtmm_dsp_align16((uint32_t)rec);
    const uint32_t col = pl->pairs ? 16u * dtmm_dsp_elem_pair_words(K) : 8u * K;
    pl->dump_off = pl->col_off + dtmm_dsp_align16(col);
    pl->total = pl->dump_off + dtmm_dsp_align16(h->cout);
    /* the plane spans every input row and column a receptive field reaches, padding included
     * (32-bit: spans below 2^25; the product is only formed once each factor is small) */
    const uint32_t ph = (uint32_t)(h->out_h - 1u) * h->stride_h + (uint32_t)(h->kh - 1u) * h->dilation_h + 1u;
    const uint32_t pwc = (uint32_t)(h->out_w - 1u) * h->stride_w + (uint32_t)(h->kw - 1u) + 1u;
    const uint32_t cap = DTMM_DSP_ELEM_PLANE_MAX / 2u; /* int16 elements */
    const uint32_t plane_bytes = ph <= cap && pwc <= cap && h->cin <= cap && ph * pwc <= cap && ph * pwc * h->cin <= cap
                                     ? 2u * ph * pwc * h->cin
                                     : 0xFFFFFFFFu;
    pl->plane = pl->pairs && h->dilation_w == 1u && ((uint32_t)h->kw * h->cin) % 2u == 0u &&
                plane_bytes <= DTMM_DSP_ELEM_PLANE_MAX;
    pl->plane_h = pl->plane ? ph : 0u;
    pl->plane_w = pl->plane ? pwc : 0u;
    pl->plane_off = pl->total;
    if (pl->plane) pl->total += dtmm_dsp_align16(plane_bytes);
    return pl->total <= DTMM_DSP_ELEM_SCRATCH_MAX;
}

/* Whether the element-list kernel takes the layer (then *ep is its plan): cin = 1, where the
 * band kernel would multiply 3 padding lanes per tap, or more than 32 positions, which the band
 * kernel cannot take.  Other shapes the band kernel rejects (cin > 256, huge bands) stay on the
 * portable path, cheaper there than re-expanding long receptive fields per chunk of filters. */
/* dtmm_dsp_make_elem_plan() out of line (dtmm_conv_dsp_elem_plan.c): one copy serves the variant
 * rule, the scratch size and the kernel. */
uint32_t dtmm_conv_dsp_elem_plan(const dtmm_fwcs_header *h, dtmm_dsp_elem_plan *pl);

static inline uint32_t dtmm_dsp_choose_elem(const dtmm_fwcs_header *h, dtmm_dsp_elem_plan *ep)
{
    ep->elem = 0;
    if (h->cin <= DTMM_DSP_ELEM_CIN_MAX || (uint32_t)h->kh * h->kw > 32u) {
        ep->elem = dtmm_conv_dsp_elem_plan(h, ep);
    }
    return ep->elem;
}

/* dtmm_dsp_make_band_plan() out of line (dtmm_conv_dsp_band_plan.c) for the variant rule and the
 * scratch size: one shared copy besides the band driver's inlined one. */
void dtmm_conv_dsp_band_plan(const dtmm_fwcs_header *h, dtmm_dsp_plan *pl);

/*
 * The variant (DTMM_CONV_V_*) dtmm_conv_s8_dsp() runs for a layer - the one
 * rule, also compiled into the host probe of `dtmm pack`: the element-list
 * routine, else the band kernel, else (and on builds without the inline
 * assembly) the portable path.
 */
static inline uint32_t dtmm_dsp_variant(const dtmm_fwcs_header *h)
{
#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP && defined(__thumb2__) && defined(__GNUC__)
    if (h->encoding == DTMM_FWCS_ENC_GROUPS) {
        return dtmm_groups_dsp_ok(h) ? DTMM_CONV_V_dsp_groups : DTMM_CONV_V_portable;
    }
    dtmm_dsp_elem_plan ep;
    if (dtmm_dsp_choose_elem(h, &ep)) {
        return DTMM_CONV_V_dsp_elem;
    }
    dtmm_dsp_plan pl;
    dtmm_conv_dsp_band_plan(h, &pl);
    if (!pl.use_c) {
        return DTMM_CONV_V_dsp_band;
    }
#else
    (void)h;
#endif
    return DTMM_CONV_V_portable;
}

#endif /* DTMM_CONV_DSP_INTERNAL_H */
