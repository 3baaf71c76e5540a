/*
 * dtmm_depthwise_plane.h - DEPTHWISE_CONV_2D seen one channel plane at a
 * time (internal; shared by the DSP and Helium paths).
 *
 * Those paths copy one input channel into a zero-padded plane and run its
 * output rows along the plane's rows; rows along the output's longer side
 * mean fewer, longer rows (a 25 x 5 map runs transposed, as 5 rows of 25).
 * dtmm_dw_plane_orient() gives the op in that orientation: sizes, strides
 * of input and output in memory, and where each tap's weights are.
 */
#ifndef DTMM_DEPTHWISE_PLANE_H
#define DTMM_DEPTHWISE_PLANE_H

#include "dtmm_ops.h"

typedef struct {
    int32_t in_h, in_w, out_h, out_w, kh, kw, sh, sw, dh, dw, pt, pl;
    int32_t in_px, in_rs;   /* input bytes between plane-row neighbours, between plane rows */
    int32_t out_px, out_rs; /* output bytes likewise */
    int32_t tap_ky, tap_kx; /* weight index step (taps of [kh][kw][out_ch]) of a plane kernel row, column */
} dtmm_dw_plane;

static inline void dtmm_dw_plane_orient(const dtmm_depthwise_conv_s8_params *p, dtmm_dw_plane *g)
{
    const int t = p->out_w < p->out_h; /* transposed */
    const int32_t c = p->in_ch;
    g->in_h = t ? p->in_w : p->in_h, g->in_w = t ? p->in_h : p->in_w;
    g->out_h = t ? p->out_w : p->out_h, g->out_w = t ? p->out_h : p->out_w;
    g->kh = t ? p->kw : p->kh, g->kw = t ? p->kh : p->kw;
    g->sh = t ? p->stride_w : p->stride_h, g->sw = t ? p->stride_h : p->stride_w;
    g->dh = t ? p->dilation_w : p->dilation_h, g->dw = t ? p->dilation_h : p->dilation_w;
    g->pt = t ? p->pad_left : p->pad_top, g->pl = t ? p->pad_top : p->pad_left;
    g->in_px = t ? p->in_w * c : c, g->in_rs = t ? c : p->in_w * c;
    g->out_px = t ? p->out_w * p->out_ch : p->out_ch, g->out_rs = t ? p->out_ch : p->out_w * p->out_ch;
    g->tap_ky = t ? 1 : p->kw, g->tap_kx = t ? p->kw : 1;
}

#endif /* DTMM_DEPTHWISE_PLANE_H */
