/*
 * dtmm_conv_groups_internal.h - what the GROUPS kernels share (internal; static inline).
 *
 * A GROUPS blob (docs/fwcs.md 5.5) is a 1x1 layer whose filters store only
 * some groups of `group` consecutive input channels, flagged in one
 * byte-padded bit row per filter.  Kernels walk those rows directly (no
 * per-call lists), so their scratch stays small:
 *   portable:          int32 init[cout] (bias + input_offset * sum of the filter's stored
 *                      weights: inner loops then multiply raw int8 inputs)
 *   Helium:            init[cout], the rows as uint32 masks[cout][ceil(groups/32)], a block
 *                      buffer of 4*cin bytes (four pixels' inputs, group-major) and, for its
 *                      assembly kernels (groups of 16, 32, 64), 4 words per filter
 *   DSP:               the band kernel's filter records (8 words per filter), one band block
 *                      of 8*cin bytes and cout bytes where the last block's missing pixels go
 * The paths' get_buffer_size functions and the packer's host probe read the sizes here.
 */
#ifndef DTMM_CONV_GROUPS_INTERNAL_H
#define DTMM_CONV_GROUPS_INTERNAL_H

#include <stdint.h>

#include "dtmm_fwcs.h"

/* The argument checks of the GROUPS kernels: DTMM_OK, DTMM_ERR_ARGUMENT or DTMM_ERR_UNSUPPORTED. */
static inline dtmm_status dtmm_groups_check(const dtmm_fwcs_view *v, const void *input, const void *output,
                                            const void *scratch)
{
    if (v == 0 || v->hdr == 0 || input == 0 || output == 0 || scratch == 0 || ((uintptr_t)scratch & 3u) != 0) {
        return DTMM_ERR_ARGUMENT;
    }
    return v->hdr->encoding == DTMM_FWCS_ENC_GROUPS ? DTMM_OK : DTMM_ERR_UNSUPPORTED;
}

static inline uint32_t dtmm_groups_init_bytes(const dtmm_fwcs_header *h)
{
    return (4u * h->cout + 15u) & ~15u;
}

/* 32-bit mask words per filter row. */
static inline uint32_t dtmm_groups_mask_words(const dtmm_fwcs_header *h)
{
    return ((uint32_t)h->cin / h->group + 31u) / 32u;
}

static inline uint32_t dtmm_groups_c_scratch_bytes(const dtmm_fwcs_header *h)
{
    return dtmm_groups_init_bytes(h);
}

static inline uint32_t dtmm_groups_mve_masks_bytes(const dtmm_fwcs_header *h)
{
    return (4u * h->cout * dtmm_groups_mask_words(h) + 15u) & ~15u;
}

/* Helium's assembly kernels: groups of 16, 32 or 64 channels, at most 32 of them (one mask word). */
static inline int dtmm_groups_mve_asm(const dtmm_fwcs_header *h)
{
    return (h->group == 16u || h->group == 32u || h->group == 64u) && h->cin / h->group <= 32u;
}

/* Helium: init, masks, the block buffer, and for the assembly kernel 4 words per filter. */
static inline uint32_t dtmm_groups_mve_scratch_bytes(const dtmm_fwcs_header *h)
{
    return dtmm_groups_init_bytes(h) + dtmm_groups_mve_masks_bytes(h) + 4u * h->cin +
           (dtmm_groups_mve_asm(h) ? 16u * h->cout : 0u);
}

/* The DSP path runs GROUPS on its band kernel, which needs whole words of 4 channels per group and at
 * most 32 groups per filter (32-bit masks). */
static inline int dtmm_groups_dsp_ok(const dtmm_fwcs_header *h)
{
    return h->encoding == DTMM_FWCS_ENC_GROUPS && h->group % 4u == 0u && h->cin / h->group <= 32u;
}

static inline uint32_t dtmm_groups_dsp_scratch_bytes(const dtmm_fwcs_header *h)
{
    return 32u * h->cout + 8u * h->cin + ((h->cout + 15u) & ~15u);
}

/* Bits [32k, 32k+32) of filter o's row (row_bytes bytes; bytes past the row read as 0). */
static inline uint32_t dtmm_groups_row_word(const uint8_t *row, uint32_t row_bytes, uint32_t k)
{
    uint32_t m = 0;
    for (uint32_t i = 4u * k, s = 0; i < row_bytes && s < 32u; i++, s += 8u) m |= (uint32_t)row[i] << s;
    return m;
}

/* init[o] = bias + input_offset * (sum of filter o's stored weights), wrapping like int32. */
static inline void dtmm_groups_init(const dtmm_fwcs_view *v, int32_t *init)
{
    const dtmm_fwcs_header *h = v->hdr;
    const uint32_t g = h->group, row_bytes = ((uint32_t)h->cin / g + 7u) / 8u;
    const uint8_t *row = v->index;
    const int8_t *w = v->weights;
    if (h->input_offset == 0) { /* e.g. dtmm pack folds it into the bias: no pass over the weights */
        for (uint32_t o = 0; o < h->cout; o++) init[o] = v->bias[o];
        return;
    }
    for (uint32_t o = 0; o < h->cout; o++, row += row_bytes) {
        uint32_t kept = 0;
        for (uint32_t i = 0; i < row_bytes; i++) {
            for (uint32_t b = row[i]; b != 0u; b &= b - 1u) kept++;
        }
        int32_t sum = 0;
        for (uint32_t n = kept * g; n != 0u; n--) sum += *w++;
        init[o] = (int32_t)((uint32_t)v->bias[o] + (uint32_t)h->input_offset * (uint32_t)sum);
    }
}

/* Input of output pixel q (row-major over out_h x out_w) of a 1x1 layer. */
static inline const int8_t *dtmm_groups_pixel(const dtmm_fwcs_header *h, const int8_t *input, uint32_t q)
{
    const uint32_t y = q / h->out_w, x = q - y * h->out_w;
    return input + ((y * h->stride_h) * (uint32_t)h->in_w + x * h->stride_w) * (uint32_t)h->cin;
}

#endif /* DTMM_CONV_GROUPS_INTERNAL_H */
