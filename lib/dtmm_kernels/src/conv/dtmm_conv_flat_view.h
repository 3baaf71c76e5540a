/*
 * dtmm_conv_flat_view.h - one output row for 1x1 convs (internal; static inline).
 *
 * A 1x1, stride-1, unpadded conv reads and writes its H x W pixels in one
 * contiguous run, so it is the same conv over one row of H*W pixels.  The
 * DSP and Helium paths compute output rows in blocks of 4 pixels and pay a
 * whole block for a row's last 1..3 pixels: on a 25x5 map (keyword
 * spotting) 50 blocks instead of 32.  dtmm_conv_s8() and
 * dtmm_conv_s8_get_buffer_size() (and the packer's scratch probe) hand every
 * path the view from dtmm_conv_flat_view(), so a kernel and its scratch
 * always agree; the paths themselves take any view as it is.
 */
#ifndef DTMM_CONV_FLAT_VIEW_H
#define DTMM_CONV_FLAT_VIEW_H

#include <stdint.h>

#include "dtmm_fwcs.h"

/* Storage for a flattened view; lives in the caller's frame. */
typedef struct {
    dtmm_fwcs_header hdr;
    dtmm_fwcs_view view;
} dtmm_conv_flat;

/* v itself, or (1x1, stride 1, no padding, H > 1) the same layer as one row of H*W pixels in *f. */
static inline const dtmm_fwcs_view *dtmm_conv_flat_view(const dtmm_fwcs_view *v, dtmm_conv_flat *f)
{
    const dtmm_fwcs_header *h = v->hdr;
    const uint32_t pixels = (uint32_t)h->out_h * h->out_w;
    if (h->kh != 1u || h->kw != 1u || h->stride_h != 1u || h->stride_w != 1u || h->pad_top != 0u ||
        h->pad_left != 0u || h->in_h != h->out_h || h->in_w != h->out_w || h->out_h < 2u || pixels > 0xFFFFu) {
        return v;
    }
    f->hdr = *h;
    f->hdr.in_h = 1;
    f->hdr.out_h = 1;
    f->hdr.in_w = (uint16_t)pixels;
    f->hdr.out_w = (uint16_t)pixels;
    f->view = *v;
    f->view.hdr = &f->hdr;
    return &f->view;
}

#endif /* DTMM_CONV_FLAT_VIEW_H */
