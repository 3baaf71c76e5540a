/* dtmm_fwcs_view_init.c - typed section pointers of a trusted FWCS blob. */
#include <stddef.h>

#include "dtmm_fwcs.h"

dtmm_status dtmm_fwcs_view_init(const uint8_t *blob, dtmm_fwcs_view *view)
{
    if (blob == NULL || view == NULL || ((uintptr_t)blob & 15u) != 0) {
        return DTMM_ERR_ARGUMENT;
    }
    const dtmm_fwcs_header *hdr = (const dtmm_fwcs_header *)(const void *)blob;
    if (hdr->magic[0] != DTMM_FWCS_MAGIC_0 || hdr->magic[1] != DTMM_FWCS_MAGIC_1 ||
        hdr->magic[2] != DTMM_FWCS_MAGIC_2 || hdr->magic[3] != DTMM_FWCS_MAGIC_3) {
        return DTMM_ERR_MAGIC;
    }
    if (hdr->version != DTMM_FWCS_VERSION) {
        return DTMM_ERR_VERSION;
    }
    view->hdr = hdr;
    view->index = hdr->encoding == DTMM_FWCS_ENC_DENSE ? NULL : blob + hdr->index_off;
    view->weights = (const int8_t *)(blob + hdr->weights_off);
    view->bias = (const int32_t *)(const void *)(blob + hdr->bias_off);
    view->multiplier = (const int32_t *)(const void *)(blob + hdr->multiplier_off);
    view->shift = (const int32_t *)(const void *)(blob + hdr->shift_off);
    return DTMM_OK;
}
