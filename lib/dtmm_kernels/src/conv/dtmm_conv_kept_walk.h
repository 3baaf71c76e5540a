/*
 * dtmm_conv_kept_walk.h - kept positions of each filter from any FWCS index,
 * for any number of kernel positions (internal; static inline).
 *
 * dtmm_fwcs_filter_masks() stops at 32 positions (one mask word per filter);
 * the "element list" paths of dtmm_conv_s8_dsp_with.c and dtmm_conv_s8_mve_with.c take
 * larger kernels (10x4, 7x7, ...) and walk the index itself: filters in
 * order, positions increasing, exactly the order of the packed weights.
 */
#ifndef DTMM_CONV_KEPT_WALK_H
#define DTMM_CONV_KEPT_WALK_H

#include <stdint.h>

#include "dtmm_fwcs.h"

typedef struct {
    const uint8_t *index; /* BITMAP: bit stream; LIST: next byte */
    uint32_t enc;
    uint32_t positions;
    uint32_t bit;  /* BITMAP: bit of the next candidate position */
    uint32_t p;    /* next candidate position of the current filter */
    uint32_t left; /* LIST: positions left in the current filter */
} dtmm_kept_walk;

static inline void dtmm_kept_walk_init(dtmm_kept_walk *w, const dtmm_fwcs_view *v)
{
    w->index = v->index;
    w->enc = v->hdr->encoding;
    w->positions = (uint32_t)v->hdr->kh * v->hdr->kw;
    w->bit = 0;
    w->p = w->positions; /* as if a previous filter had been walked to its end */
    w->left = 0;
}

/* Starts the next filter (filters are visited in order, each exactly once). */
static inline void dtmm_kept_walk_filter(dtmm_kept_walk *w)
{
    if (w->enc == DTMM_FWCS_ENC_BITMAP) {
        w->bit += w->positions - w->p; /* skip what the previous filter did not visit */
    } else if (w->enc == DTMM_FWCS_ENC_LIST) {
        w->index += w->left;
        w->left = *w->index++;
    }
    w->p = 0;
}

/* Next kept position of the current filter into *p; 0 when the filter has no more. */
static inline int dtmm_kept_walk_next(dtmm_kept_walk *w, uint32_t *p)
{
    if (w->enc == DTMM_FWCS_ENC_LIST) {
        if (w->left == 0u) return 0;
        w->left--;
        *p = *w->index++;
        return 1;
    }
    while (w->p < w->positions) {
        const uint32_t q = w->p++;
        if (w->enc == DTMM_FWCS_ENC_DENSE) {
            *p = q;
            return 1;
        }
        const uint32_t b = w->bit++;
        if ((w->index[b >> 3] >> (b & 7u)) & 1u) {
            *p = q;
            return 1;
        }
    }
    return 0;
}

/*
 * The next (up to) 32 candidate positions of the current filter as a mask:
 * bit i of *mask set = position *first + i kept.  Returns the number of
 * candidates covered, 0 when the filter is done.  A word at a time, so
 * sparse indexes cost a few instructions per 32 positions.
 */
static inline uint32_t dtmm_kept_walk_word(dtmm_kept_walk *w, uint32_t *mask, uint32_t *first)
{
    const uint32_t p0 = w->p, n = w->positions - p0 < 32u ? w->positions - p0 : 32u;
    if (n == 0u) return 0;
    const uint32_t all = n == 32u ? 0xFFFFFFFFu : (1u << n) - 1u;
    *first = p0;
    w->p = p0 + n;
    if (w->enc == DTMM_FWCS_ENC_DENSE) {
        *mask = all;
    } else if (w->enc == DTMM_FWCS_ENC_BITMAP) {
        const uint32_t b = w->bit, nb = (b & 7u) + n; /* bits to read from byte b/8 on */
        const uint8_t *q = w->index + (b >> 3);
        uint64_t bits = 0;
        for (uint32_t i = 0; i * 8u < nb; i++) bits |= (uint64_t)q[i] << (8u * i);
        *mask = (uint32_t)(bits >> (b & 7u)) & all;
        w->bit = b + n;
    } else {
        uint32_t m = 0;
        while (w->left != 0u && *w->index < p0 + n) {
            m |= 1u << (*w->index++ - p0);
            w->left--;
        }
        *mask = m;
    }
    return n;
}

/* Number of kept positions of the current filter, without consuming them. */
static inline uint32_t dtmm_kept_walk_count(const dtmm_kept_walk *w)
{
    if (w->enc == DTMM_FWCS_ENC_LIST) return w->left;
    if (w->enc == DTMM_FWCS_ENC_DENSE) return w->positions - w->p;
    dtmm_kept_walk t = *w;
    uint32_t n = 0, m, first;
    while (dtmm_kept_walk_word(&t, &m, &first)) n += (uint32_t)__builtin_popcount(m);
    return n;
}

#endif /* DTMM_CONV_KEPT_WALK_H */
