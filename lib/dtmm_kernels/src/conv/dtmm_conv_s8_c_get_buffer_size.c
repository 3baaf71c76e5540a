/* dtmm_conv_s8_c_get_buffer_size.c - scratch bytes of the portable conv path. */
#include <stddef.h>

#include "dtmm_conv_groups_internal.h"
#include "dtmm_kernels.h"

/*
 * Layout used by dtmm_conv_s8_c() when kh*kw <= 32:
 *   int32  init[cout]          bias + input_offset * (sum of the filter's stored weights)
 * and for BITMAP/LIST blobs also
 *   uint32 masks[cout]         kept positions of each filter
 *   uint32 run_first[cout + 1] start of each filter's runs
 *   uint8  runs[2 * n_kept]    (first position, filterlets) of each run, rounded up to 4 bytes
 * Larger kernels walk the index directly and need nothing.  GROUPS blobs:
 * dtmm_conv_groups_internal.h.
 */
int32_t dtmm_conv_s8_c_get_buffer_size(const dtmm_fwcs_view *v)
{
    if (v == NULL || v->hdr == NULL) {
        return -(int32_t)DTMM_ERR_ARGUMENT;
    }
    const dtmm_fwcs_header *h = v->hdr;
    if (h->encoding == DTMM_FWCS_ENC_GROUPS) {
        return (int32_t)dtmm_groups_c_scratch_bytes(h);
    }
    if ((uint32_t)h->kh * h->kw > 32u) {
        return 0;
    }
    const uint32_t cout = h->cout;
    if (h->encoding == DTMM_FWCS_ENC_DENSE) {
        return (int32_t)(4u * cout);
    }
    /* n_kept <= cout*kh*kw <= 65535*32 for a valid blob: no overflow */
    return (int32_t)(12u * cout + 4u + ((2u * h->n_kept + 3u) & ~3u));
}
