/* dtmm_conv_s8_mve_get_buffer_size.c - scratch bytes of the Helium MVE conv path. */
#include <stddef.h>

#include "dtmm_conv_mve_internal.h"
#include "dtmm_kernels.h"

/*
 * GROUPS blobs: dtmm_conv_groups_internal.h.  Others: layout in dtmm_conv_mve_internal.h (each part
 * rounded up to 16 bytes):
 *   records    52*(cout+3) + 120
 *   lists      2*(kh*kw+1) DENSE, 2*(n_kept+1) packed (u16; 1 byte each for the generic kernel,
 *              which also needs a pointer table of 16*kh*kw*min(8, ceil(out_w/4)) bytes)
 *   zeros      max(32, align16(cin)), plus 16 bytes of output offsets
 *   rows       padded layers: window of 2*((kh-1)*dilation_h+1) rows of
 *              ((4*ceil(out_w/4)-1)*stride_w + (kw-1)*dilation_w + 1)*cin bytes, or, when that
 *              exceeds DTMM_MVE_WINDOW_MAX (12 KiB), kh*(3*stride_w+(kw-1)*dilation_w+1)*cin;
 *              unpadded kh = 1 rows read directly whose partial last block would read past the
 *              row (a flattened 1x1 layer of H*W % 4 != 0 pixels): that one edge patch
 *   patch mode (cin < 16, kh*kw*cin <= 64): cout*K + 4*K*min(8, ceil(out_w/4)), K = align16(kh*kw*cin)
 *   item mode (cin 4 or 8 beyond patch mode, when it pays): lists of up to one byte per item + 33,
 *              then 16 bytes per item (items: cout*kh*windows of a row, at most n_kept if packed)
 *   temporary output 4*cout
 * e.g. ResNet-8: 2.9 KiB (1x1 16->32) .. 8.3 KiB (3x3 64->64).  Kernels with
 * kh*kw > 32 (or offsets beyond 16 bits) run the element-list kernel
 * (dtmm_mve_elem_layout_compute(): records + 4*kh*kw*cin, e.g. 8.2 KiB for a
 * DS-CNN 10x4 first conv), or when that does not fit DTMM_MVE_ELEM_SCRATCH_MAX
 * the portable path, and need what they need.  Off MVE targets this file only mirrors the portable path,
 * like dtmm_conv_s8_mve() itself.
 */
int32_t dtmm_conv_s8_mve_get_buffer_size(const dtmm_fwcs_view *v)
{
    if (v == NULL || v->hdr == NULL) {
        return -(int32_t)DTMM_ERR_ARGUMENT;
    }
#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)
    if (v->hdr->encoding == DTMM_FWCS_ENC_GROUPS) {
        return (int32_t)dtmm_groups_mve_scratch_bytes(v->hdr);
    }
    dtmm_mve_layout layout;
    if (dtmm_conv_mve_layout(v->hdr, &layout) == 0) {
        return (int32_t)layout.total;
    }
    dtmm_mve_elem_layout elem;
    if (dtmm_conv_mve_elem_layout(v->hdr, &elem) == 0) {
        return (int32_t)elem.total;
    }
#endif
    return dtmm_conv_s8_c_get_buffer_size(v);
}
