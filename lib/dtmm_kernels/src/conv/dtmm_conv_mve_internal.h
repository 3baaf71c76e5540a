/*
 * dtmm_conv_mve_internal.h - private to the Helium MVE conv path.
 *
 * The scratch layout of dtmm_conv_s8_mve(), computed from the header alone,
 * shared by the kernel and dtmm_conv_s8_mve_get_buffer_size() so that the
 * two can never disagree.  Plain C, compiles on every target.
 *
 * How the path works (details in dtmm_conv_s8_mve_with.c):
 *  - output pixels are processed in blocks of 4 horizontally adjacent
 *    pixels of one row; every block runs all filters;
 *  - a filter is one "record" in scratch (bias + input_offset * sum of its
 *    kept weights, four times, its weight pointer, its list of kept
 *    positions, its requantization) loaded with a single LDM; a kept
 *    position is a byte offset from the block's first pixel (the generic
 *    kernel: an index into a per-block table of 4 input pointers);
 *  - each kept filterlet is VLDRB (16 int8) + VMLADAVA (16 MACs) against the
 *    4 pixels' contiguous NHWC slices, the weight vector being loaded once
 *    for the 4 pixels;
 *  - padding: taps outside the input read the input zero point, so every
 *    tap adds w * (x + input_offset) uniformly and the offset term folds
 *    into the record's bias; a layer with padding reads a "window": the
 *    needed input rows, zero-point padded, consecutive in a scrolling
 *    buffer of 2 * dilated-kernel-height rows (compacted when full), so the
 *    offsets are the same for every block; layers without padding read the
 *    input directly; a window larger than DTMM_MVE_WINDOW_MAX bytes falls
 *    back to a padded copy of each block's receptive field ("edge patch");
 *  - small cin (< 16) with kh*kw*cin <= 64: each pixel's whole receptive
 *    field is gathered into a contiguous patch (im2col of 4 pixels) and the
 *    layer becomes a 1x1 conv over the patch ("patch mode");
 *    When every tap offset of a receptive field fits a byte and cout <= 64
 *    ("pgather"), the pg kernels read the fields straight from the rows
 *    instead, by byte gathers: a filter is chunks of 16 of its kept weights
 *    with their offsets, so pruned filterlets cost nothing and no patch is
 *    built;
 *  - other layers with cin 4 or 8 (kw*cin >= 16, dilation_w 1): "item
 *    mode" for the generic kernel: the kept filterlets of a kernel row that
 *    are adjacent, contiguous in the weights and in the NHWC input row,
 *    share 16-byte vectors ("items", weights expanded with zeros in scratch);
 *  - kh*kw > 32: the element-list kernel (dtmm_mve_elem_layout_compute()
 *    at the end of this file).
 */
#ifndef DTMM_CONV_MVE_INTERNAL_H
#define DTMM_CONV_MVE_INTERNAL_H

#include <stdint.h>

#include "../common/dtmm_cold.h"
#include "dtmm_conv_groups_internal.h"
#include "dtmm_conv_variant_internal.h"
#include "dtmm_fwcs.h"

/* Inner kernels.  The group kernels address the 4 pixels with immediate
 * offsets from one pointer per position (two for the 64-byte step) and run
 * filters in groups of 4 ("quad") or 2 ("pair"); the generic kernel loads 4
 * pointers per position and handles any cin, one filter at a time. */
#define DTMM_MVE_KIND_IMM16_S16 0u /* cin 16, pixel step 16 bytes */
#define DTMM_MVE_KIND_IMM16_S32 1u /* cin 16, pixel step 32 bytes */
#define DTMM_MVE_KIND_IMM32_S32 2u /* cin 32, pixel step 32 bytes */
#define DTMM_MVE_KIND_IMM32_S64 3u /* cin 32, pixel step 64 bytes */
#define DTMM_MVE_KIND_IMM64_S64 4u /* cin 64, pixel step 64 bytes */
#define DTMM_MVE_KIND_GENERIC 5u   /* any cin, any pixel step */

#define DTMM_MVE_MAX_POSITIONS 32u
#define DTMM_MVE_PATCH_MAX 64u     /* patch mode when cin < 16 and kh*kw*cin <= this */
#define DTMM_MVE_REC_WORDS_MAX 11u /* words per filter record (the quad kernels use 9) */
#define DTMM_MVE_RUN_MAX 8u        /* blocks per call of the generic kernel / in patch mode (tables) */
/* Patch-mode layers read by byte gathers (pg kernels) when they can; 0 turns it off (comparisons, tests). */
#ifndef DTMM_MVE_PGATHER
#define DTMM_MVE_PGATHER 1
#endif
/* Item mode (below) when it pays; 0 turns it off (comparisons, tests). */
#ifndef DTMM_MVE_ITEMS
#define DTMM_MVE_ITEMS 1
#endif
/* Largest row window (bytes) before falling back to per-block edge patches. */
#ifndef DTMM_MVE_WINDOW_MAX
#define DTMM_MVE_WINDOW_MAX 12288u
#endif

/* Where the kernels read input rows. */
#define DTMM_MVE_ROWS_DIRECT 0u /* no tap ever leaves the input: straight from it */
#define DTMM_MVE_ROWS_WINDOW 1u /* zero-point padded copies of consecutive rows in a scrolling buffer */
#define DTMM_MVE_ROWS_EDGE 2u   /* per block, a padded copy of its receptive field */

typedef struct {
    uint32_t positions; /* kh*kw */
    uint32_t patch;     /* 1: patch mode */
    uint32_t items;     /* generic kernel only: 1 for item mode (16-byte items of adjacent filterlets) */
    uint32_t cin_eff;   /* bytes per filterlet the inner kernel sees (patch: row pitch of the patch) */
    uint32_t pos_eff;   /* positions the inner kernel sees (patch: 1) */
    uint32_t step;      /* bytes between the 4 pixels of a block in what the kernel reads */
    uint32_t kind;
    uint32_t pair;      /* group kernel (quad or pair): u16 offset lists; else generic: u8 positions */
    uint32_t quad_ok;   /* four filters at a time possible: byte scatter offsets 4*cout-1 fit */
    uint32_t n_blocks;  /* blocks per output row: ceil(out_w / 4) */
    uint32_t run_max;   /* blocks per kernel call */
    /* input rows */
    uint32_t rows;      /* DTMM_MVE_ROWS_* */
    uint32_t hpad;      /* some tap leaves the input on the left or right */
    uint32_t vpad;      /* some tap leaves the input above or below */
    uint32_t ring_w;    /* columns a padded row needs: (read_w-1)*stride_w + (kw-1)*dilation_w + 1, read_w =
                         * out_w for the generic kernels (row tail kernel), else 4*n_blocks */
    uint32_t edge_w;    /* columns of an edge patch: 3*stride_w + (kw-1)*dilation_w + 1 */
    uint32_t pitch;     /* bytes between consecutive rows of what the kernels read */
    uint32_t row_step;  /* bytes between kernel rows: pitch*dilation_h (edge patches: pitch) */
    uint32_t win_rows;  /* window rows: 2*((kh-1)*dilation_h + 1) */
    /* byte offsets in scratch, each a multiple of 16 */
    uint32_t off_rec, off_tab, off_zero, off_list, off_qoff, off_wexp, off_win;
    uint32_t off_work;  /* edge patch / im2col patches / temporary output; masks during setup */
    uint32_t off_edge, off_impatch, off_tmp, off_masks;
    uint32_t total;
    uint32_t pgather;   /* patch mode: every tap offset of a field fits a byte and cout <= 64, so the pg
                         * kernels may gather the fields from the rows (chunks of kept weights + offsets) */
    uint32_t last_edge; /* rows read directly, but a row's partial last block would read past the row
                         * (kh = 1, e.g. a 1x1 layer flattened to H*W pixels, H*W % 4 != 0): that block
                         * reads an edge patch of its own instead */
} dtmm_mve_layout;

static inline uint32_t dtmm_mve_align16(uint32_t n)
{
    return (n + 15u) & ~15u;
}

/*
 * Item mode: the 16-byte windows covering a kernel row of R = kw*cin >= 16 bytes (cin <= 8).  A
 * window counts the row's bytes [b, off + 16), b where the previous one stopped (0 first) and off
 * the start of the filterlet holding b, or R - 16 when that is smaller (the row's last window).
 */
static inline DTMM_COLD uint32_t dtmm_mve_item_windows(uint32_t cin, uint32_t kw)
{
    const uint32_t R = kw * cin, last = R - 16u;
    uint32_t n = 0;
    for (uint32_t b = 0; b < R; n++) {
        const uint32_t off = b / cin * cin;
        b = (off < last ? off : last) + 16u;
    }
    return n;
}

/* Item mode: items per call at most - per kernel row and filter its windows, and at most one per
 * kept filterlet (cin 4 or 8: windows start at filterlets, a filterlet lies in one window). */
static inline DTMM_COLD uint32_t dtmm_mve_items_max(const dtmm_fwcs_header *h)
{
    const uint32_t n = (uint32_t)h->cout * h->kh * dtmm_mve_item_windows(h->cin, h->kw);
    return h->encoding != DTMM_FWCS_ENC_DENSE && h->n_kept < n ? h->n_kept : n;
}

/* Item mode: u8 list entries - the dummy entry, the list shared by fully kept filters (at most one
 * entry per position), then every item; the expanded weights follow at the next 16 bytes. */
static inline DTMM_COLD uint32_t dtmm_mve_item_list_entries(const dtmm_fwcs_header *h)
{
    return dtmm_mve_items_max(h) + 1u + DTMM_MVE_MAX_POSITIONS;
}

/*
 * Fills *L for a layer with kh*kw <= 32; returns 0, or -1 when the layer
 * is beyond this path (more positions than fit a 32-bit mask, or offsets
 * beyond 16 bits in every row arrangement): those run the element-list
 * kernel (dtmm_mve_elem_layout_compute()) or the portable path.
 */
static inline DTMM_COLD int dtmm_mve_layout_compute(const dtmm_fwcs_header *h, dtmm_mve_layout *L)
{
    const uint32_t cin = h->cin, cout = h->cout, kh = h->kh, kw = h->kw;
    const uint32_t sw = h->stride_w, dh = h->dilation_h, dw = h->dilation_w;
    const uint32_t P = kh * kw;
    if (P > DTMM_MVE_MAX_POSITIONS) {
        return -1;
    }
    L->positions = P;
    L->patch = cin < 16u && P * cin <= DTMM_MVE_PATCH_MAX;
    if (L->patch) {
        L->cin_eff = dtmm_mve_align16(P * cin);
        L->pos_eff = 1u;
        L->step = L->cin_eff;
    } else {
        L->cin_eff = cin;
        L->pos_eff = P;
        L->step = sw * cin;
    }
    uint32_t list_entries = L->patch ? 1u : (h->encoding == DTMM_FWCS_ENC_DENSE ? P : h->n_kept) + 1u;
    if (L->cin_eff == 16u && L->step == 16u) {
        L->kind = DTMM_MVE_KIND_IMM16_S16;
    } else if (L->cin_eff == 16u && L->step == 32u) {
        L->kind = DTMM_MVE_KIND_IMM16_S32;
    } else if (L->cin_eff == 32u && L->step == 32u) {
        L->kind = DTMM_MVE_KIND_IMM32_S32;
    } else if (L->cin_eff == 32u && L->step == 64u) {
        L->kind = DTMM_MVE_KIND_IMM32_S64;
    } else if (L->cin_eff == 64u && L->step == 64u) {
        L->kind = DTMM_MVE_KIND_IMM64_S64;
    } else {
        L->kind = DTMM_MVE_KIND_GENERIC;
        /* item mode (cin 4 or 8 beyond patch mode): a kernel row's kw*cin bytes in 16-byte windows
         * ("items", dtmm_conv_s8_mve_with.c); the lists, then the expanded weights */
        L->items = 0; /* (set for the generic kernel only) */
        if (((cin - 4u) & ~4u) == 0u && !L->patch && DTMM_MVE_ITEMS && dw == 1u && kw * cin >= 16u) {
            /* ... when it pays for itself: per block it saves about 15 instructions per kept
             * filterlet and costs 13 per item (estimated: at most the windows of the rows, at most
             * the kept filterlets); per call it costs about 10 per window of a dense row and,
             * generously (small sparse layers measured), 150 per row of a sparse blob */
            const int dense = h->encoding == DTMM_FWCS_ENC_DENSE;
            const uint64_t rows = (uint64_t)cout * kh, nwin = dtmm_mve_item_windows(cin, kw);
            const uint64_t kept = dense ? (uint64_t)cout * P : h->n_kept;
            const uint64_t win = kept < rows * nwin ? kept : rows * nwin;
            const uint64_t blocks = (uint64_t)h->out_h * ((h->out_w + 3u) / 4u);
            if (15u * kept > 13u * win && blocks * (15u * kept - 13u * win) >= rows * (dense ? 10u * nwin : 150u)) {
                L->items = 1;
                L->cin_eff = 16u; /* the generic kernel sees one 16-byte chunk per item */
                list_entries = dtmm_mve_align16(dtmm_mve_item_list_entries(h)) + 16u * dtmm_mve_items_max(h);
            }
        }
    }
    if (L->kind != DTMM_MVE_KIND_GENERIC && !L->patch && (h->out_w % 4u == 1u || h->out_w % 4u == 2u) &&
        h->out_w < 12u) {
        /* short rows ending in 1 or 2 pixels (a 1x1 conv over a 3x3 map: one row of 9): the generic
         * family's row tail (gen_tail) and its records cost less than a whole last block of the group
         * kernels and their record setup, for at most 2 whole blocks per row (conv_1x1_map3x3_c64 on
         * qemu-m55: 16,837 -> 15,436 instructions) */
        L->kind = DTMM_MVE_KIND_GENERIC;
        L->items = 0;
    }
    if (cout > 16384u) { /* group kernels store 16-bit output offsets, up to 4*cout - 1 */
        L->kind = DTMM_MVE_KIND_GENERIC;
        L->items = 0;
    }
    L->pair = L->kind != DTMM_MVE_KIND_GENERIC;
    L->quad_ok = L->pair && cout <= 64u;
    L->n_blocks = (h->out_w + 3u) / 4u;
    L->run_max = L->n_blocks < DTMM_MVE_RUN_MAX ? L->n_blocks : DTMM_MVE_RUN_MAX;

    /* rows: columns -pad_left .. ring_w-1-pad_left of input rows -pad_top .. */
    const uint32_t eff_h = (kh - 1u) * dh + 1u;
    const uint32_t span_w = (kw - 1u) * dw * cin; /* bytes from tap column 0 to the last tap column */
    /* the generic kernels' row tail (gen_tail, 1 or 2 last pixels) reads only the row's own pixels */
    const uint32_t read_w = !L->pair && !L->patch && h->out_w % 4u != 3u ? (uint32_t)h->out_w : 4u * L->n_blocks;
    L->ring_w = (read_w - 1u) * sw + (kw - 1u) * dw + 1u;
    L->edge_w = 3u * sw + (kw - 1u) * dw + 1u;
    L->hpad = h->pad_left > 0u || L->ring_w > h->in_w;
    L->vpad = h->pad_top > 0u || ((uint32_t)h->out_h - 1u) * h->stride_h + eff_h > h->in_h;
    /* a single kernel row whose whole blocks stay inside the input row: only the partial last block
     * would read past it, and it reads an edge patch of its own instead, so the rows are read directly
     * (a 1x1 layer flattened to H*W pixels, H*W % 4 != 0; the offsets do not depend on the row pitch
     * when kh = 1) */
    L->last_edge = 0;
    if (kh == 1u && L->hpad && !L->vpad && h->pad_left == 0u && h->out_w >= 4u &&
        (4u * (h->out_w / 4u) - 1u) * sw + (kw - 1u) * dw + 1u <= h->in_w) {
        L->last_edge = 1;
        L->hpad = 0;
    }
    L->win_rows = 2u * eff_h;
    const uint32_t win_pitch = dtmm_mve_align16(L->ring_w * cin);
    /* group kernels read u16 offsets: the farthest tap must stay below 64 KiB */
    const uint32_t max_off = 65535u;
    if (!L->hpad && !L->vpad && (!L->pair || (uint64_t)(kh - 1u) * dh * h->in_w * cin + span_w <= max_off)) {
        L->rows = DTMM_MVE_ROWS_DIRECT;
        L->pitch = (uint32_t)h->in_w * cin;
        L->row_step = L->pitch * dh;
    } else if ((uint64_t)L->win_rows * win_pitch <= DTMM_MVE_WINDOW_MAX &&
               (!L->pair || (uint64_t)(kh - 1u) * dh * win_pitch + span_w <= max_off)) {
        L->last_edge = 0; /* (the row window and edge patches pad every block already) */
        L->rows = DTMM_MVE_ROWS_WINDOW;
        L->pitch = win_pitch;
        L->row_step = L->pitch * dh;
    } else {
        L->last_edge = 0;
        L->rows = DTMM_MVE_ROWS_EDGE;
        L->pitch = L->edge_w * cin;
        L->row_step = L->pitch;
        if ((uint64_t)kh * L->edge_w * cin > 0x7FFFFFFFu ||
            (L->pair && (uint64_t)(kh - 1u) * L->pitch + span_w > max_off)) {
            return -1;
        }
    }

    /* pg kernels: offsets (p / kw) * row_step + (p % kw) * dilation_w * cin + c, one byte each */
    L->pgather = L->patch && DTMM_MVE_PGATHER && cout <= 64u && L->row_step <= 255u &&
                 (kh - 1u) * L->row_step + (kw - 1u) * dw * cin + cin - 1u <= 255u; /* (no overflow: kh, kw <= 32) */

    uint32_t zero = dtmm_mve_align16(L->cin_eff);
    if (zero < 32u) zero = 32u;
    const uint32_t blocks_per_call = L->rows == DTMM_MVE_ROWS_EDGE ? 1u : L->run_max;

    /* record stream: per filter at most 52 bytes (a 44-byte record and its share of a pair's 16-byte
     * offset vector, or a quad leftover's 36-byte record + 16 bytes; a constant output costs 16), 3
     * more for completing a group, two end records, a constant group's rounding */
    uint32_t off = 0;
    L->off_rec = off;
    off += dtmm_mve_align16((cout + 3u) * 52u + 2u * DTMM_MVE_REC_WORDS_MAX * 4u + 32u);
    L->off_tab = off; /* generic kernel: 4 pointers per position per block */
    if (!L->pair) {
        off += dtmm_mve_align16(blocks_per_call * L->pos_eff * 16u);
    }
    L->off_zero = off;
    off += zero;
    L->off_qoff = off;
    off += 16u;
    L->off_list = off;
    off += dtmm_mve_align16(list_entries * (L->pair ? 2u : 1u));
    L->off_wexp = off;
    if (L->patch) { /* expanded weight rows; pg kernels: chunks of 16 weights + 16 offsets, at most cin_eff/16 */
        off += dtmm_mve_align16(cout * L->cin_eff * (L->pgather ? 2u : 1u));
    }
    L->off_win = off;
    if (L->rows == DTMM_MVE_ROWS_WINDOW) {
        off += L->win_rows * win_pitch;
    }
    /* work area: edge patch + im2col patches + temporary output block, or the masks during setup */
    L->off_work = off;
    uint32_t w = 0;
    L->off_edge = off + w;
    if (L->rows == DTMM_MVE_ROWS_EDGE || L->last_edge) {
        w += dtmm_mve_align16(kh * L->edge_w * cin);
    }
    L->off_impatch = off + w;
    if (L->patch) {
        w += blocks_per_call * 4u * L->cin_eff;
    }
    L->off_tmp = off + w;
    w += dtmm_mve_align16(4u * cout);
    L->off_masks = off;
    if (w < dtmm_mve_align16(4u * cout)) {
        w = dtmm_mve_align16(4u * cout);
    }
    off += w;
    L->total = off;
    return 0;
}

/*
 * Element-list path (dtmm_conv_s8_mve_with.c, "elem"), for the kernels the
 * layout above rejects (more than 32 positions): every filter is a list of
 * chunks of up to 16 of its kept weights with the byte offsets of their
 * elements (e = p*cin + c) in a pixel's int8 receptive field; 4 fields
 * (pixels) at a time, one VLDRB gather + VMLADAVA per pixel and chunk.
 *   records  min(all filters, max(one dense filter, DTMM_MVE_ELEM_BUDGET)):
 *            a filter = 20-byte header + 36 bytes per chunk
 *            (chunks <= ceil(kept elements / 16) + ceil(K / 256))
 *   patches  4*K bytes, K = kh*kw*cin
 */
#ifndef DTMM_MVE_ELEM_BUDGET
#define DTMM_MVE_ELEM_BUDGET 8192u
#endif
#ifndef DTMM_MVE_ELEM_SCRATCH_MAX
#define DTMM_MVE_ELEM_SCRATCH_MAX 16384u
#endif
#define DTMM_MVE_ELEM_HDR_BYTES 20u
#define DTMM_MVE_ELEM_CHUNK_BYTES 36u

typedef struct {
    uint32_t K;
    uint32_t rec_bytes; /* record area (a multiple of 4) */
    uint32_t off_patch;
    uint32_t total;
} dtmm_mve_elem_layout;

/* Chunks a filter with n kept elements may need (a chunk closes at 16 elements or 256 bytes of span). */
static inline uint32_t dtmm_mve_elem_chunks(uint32_t n, uint32_t K)
{
    return (n + 15u) / 16u + (K + 255u) / 256u;
}

/* Returns 0 and fills *E when the element-list path takes the layer, else -1. */
static inline DTMM_COLD int dtmm_mve_elem_layout_compute(const dtmm_fwcs_header *h, dtmm_mve_elem_layout *E)
{
    const uint32_t P = (uint32_t)h->kh * h->kw;
    if ((uint64_t)P * h->cin > 65535u) { /* chunk bases are u16 */
        return -1;
    }
    const uint32_t K = P * h->cin;
    const uint32_t frec = DTMM_MVE_ELEM_HDR_BYTES + DTMM_MVE_ELEM_CHUNK_BYTES * dtmm_mve_elem_chunks(K, K);
    const uint64_t all_dense = (uint64_t)h->cout * frec;
    const uint64_t all_kept = (uint64_t)h->cout * (DTMM_MVE_ELEM_HDR_BYTES + DTMM_MVE_ELEM_CHUNK_BYTES *
                                                   (1u + (K + 255u) / 256u)) +
                              (uint64_t)DTMM_MVE_ELEM_CHUNK_BYTES * ((uint64_t)h->n_kept * h->cin / 16u);
    uint64_t rec = all_dense < all_kept ? all_dense : all_kept;
    const uint32_t budget = frec > DTMM_MVE_ELEM_BUDGET ? frec : DTMM_MVE_ELEM_BUDGET;
    if (rec > budget) rec = budget;
    E->K = K;
    E->rec_bytes = (uint32_t)rec;
    E->off_patch = dtmm_mve_align16((uint32_t)rec);
    E->total = E->off_patch + dtmm_mve_align16(4u * K);
    return E->total <= DTMM_MVE_ELEM_SCRATCH_MAX ? 0 : -1;
}

/* dtmm_mve_layout_compute() out of line (dtmm_conv_mve_layout.c): the kernel and the scratch
 * size both need it, one copy of the code serves both. */
int dtmm_conv_mve_layout(const dtmm_fwcs_header *h, dtmm_mve_layout *L);
/* dtmm_mve_elem_layout_compute() out of line (dtmm_conv_mve_elem_layout.c), likewise. */
int dtmm_conv_mve_elem_layout(const dtmm_fwcs_header *h, dtmm_mve_elem_layout *E);

/*
 * The variant (DTMM_CONV_V_*, dtmm_conv_variants.h) dtmm_conv_s8_mve() runs
 * for a layer - the one rule, also compiled into the host probe of
 * `dtmm pack`, which lists a model's variants from it.  Fills *L when the
 * layout above takes the layer.
 *  - layout rejected: the element-list routine, else the portable path;
 *  - patch mode with pgather and every shift <= -1: pg (quad groups of
 *    gathered chunks of kept weights), `full` as for quad;
 *  - group kernels (cin 16/32/64, pixel steps 16/32/64): quad (4 filters)
 *    when every shift <= -1 and cout <= 64, `full` when the clamp is
 *    [-128, 127], `_l` (with the code for 1..3 leftover live filters)
 *    unless the blob is DENSE with cout % 4 == 0; else pair (2 filters,
 *    any shift and clamp);
 *  - the generic kernel for its count of 16-byte chunks and a tail, or its
 *    looping form from 8 chunks (cin >= 128); also for the group kernels'
 *    layers with rows of 1, 2, 5, 6, 9 or 10 pixels (the layout: the generic
 *    row tail beats a whole last block there).
 */
static inline uint32_t dtmm_mve_variant(const dtmm_fwcs_view *v, dtmm_mve_layout *L)
{
    const dtmm_fwcs_header *h = v->hdr;
    if (h->encoding == DTMM_FWCS_ENC_GROUPS) {
        return DTMM_CONV_V_mve_groups; /* any group size (narrow ones predicated) */
    }
    if (dtmm_conv_mve_layout(h, L) != 0) {
        dtmm_mve_elem_layout E;
        return dtmm_conv_mve_elem_layout(h, &E) == 0 ? DTMM_CONV_V_mve_elem : DTMM_CONV_V_portable;
    }
    if (L->pair || L->pgather) {
        const uint32_t cout = h->cout;
        const int32_t *shift = v->shift;
        int fast = 1;
        for (uint32_t o = 0; o < cout; o++) fast &= shift[o] <= -1; /* no early exit: vectorizes */
        if (fast && L->pgather) {
            return DTMM_CONV_V_mve_pg_clamp + (h->act_min == -128 && h->act_max == 127);
        }
        fast &= L->quad_ok != 0u;
        if (fast) {
            const uint32_t full = h->act_min == -128 && h->act_max == 127;
            /* live filters beyond a multiple of 4 (possible unless DENSE with cout % 4 == 0): _l */
            const uint32_t left = h->encoding != DTMM_FWCS_ENC_DENSE || cout % 4u != 0u;
            return (left ? DTMM_CONV_V_mve_quad16_s16_clamp_l : DTMM_CONV_V_mve_quad16_s16_clamp) + 2u * L->kind + full;
        }
        if (L->pair) {
            return DTMM_CONV_V_mve_pair16_s16 + L->kind;
        }
    }
    if (L->items) {
        return DTMM_CONV_V_mve_items; /* the generic kernel of one chunk, on item records */
    }
    const uint32_t chunks = L->cin_eff / 16u, tail = L->cin_eff % 16u != 0u;
    if (chunks >= 8u) {
        return DTMM_CONV_V_mve_gen_loop;
    }
    return DTMM_CONV_V_mve_gen_n0_t - 1u + 2u * chunks + tail; /* n0_t, n1, n1_t, .. n7_t */
}

#endif /* DTMM_CONV_MVE_INTERNAL_H */
