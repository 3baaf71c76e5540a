/*
 * dtmm_conv_flat_view.h - one output row for 1x1 convs (internal; static inline).
 *
 * A 1x1, stride-1, unpadded conv reads and writes its H x W pixels in one
 * contiguous run, so it is the same conv over one row of H*W pixels.  The
 * DSP and Helium paths compute output rows in blocks of 4 pixels and pay a
 * whole block for a row's last 1..3 pixels: on a 25x5 map (keyword
 * spotting) 50 blocks instead of 32.  Every entry that looks at a blob -
 * dtmm_conv_s8(), dtmm_conv_s8_with(), dtmm_conv_s8_get_buffer_size(),
 * dtmm_conv_s8_variant() and the packer's scratch/variant probe - passes
 * its view through dtmm_conv_flatten() first, so a kernel, its scratch and
 * its variant always agree; the paths themselves take any view as it is.
 */
#ifndef DTMM_CONV_FLAT_VIEW_H
#define DTMM_CONV_FLAT_VIEW_H

#include <stdint.h>

#include "dtmm_fwcs.h"

/* For a 1x1, stride-1, unpadded layer with H > 1 (and H*W within the header's 16 bits): *storage
 * becomes its header as one row of H*W pixels and v->hdr points to it.  Other views stay as they are. */
static inline void dtmm_conv_flatten(dtmm_fwcs_view *v, dtmm_fwcs_header *storage)
{
    const dtmm_fwcs_header *h = v->hdr;
    const uint32_t pixels = (uint32_t)h->out_h * h->out_w;
    if (h->kh != 1u || h->kw != 1u || h->stride_h != 1u || h->stride_w != 1u || h->pad_top != 0u ||
        h->pad_left != 0u || h->in_h != h->out_h || h->in_w != h->out_w || h->out_h < 2u || pixels > 0xFFFFu) {
        return;
    }
    *storage = *h;
    storage->in_h = 1;
    storage->out_h = 1;
    storage->in_w = (uint16_t)pixels;
    storage->out_w = (uint16_t)pixels;
    v->hdr = storage;
}

#endif /* DTMM_CONV_FLAT_VIEW_H */
