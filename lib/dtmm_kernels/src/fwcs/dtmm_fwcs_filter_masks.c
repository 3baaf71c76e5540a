/* dtmm_fwcs_filter_masks.c - per-filter kept-position masks from any FWCS index. */
#include <stddef.h>

#include "dtmm_fwcs.h"

dtmm_status dtmm_fwcs_filter_masks(const dtmm_fwcs_view *view, uint32_t *masks)
{
    if (view == NULL || masks == NULL) {
        return DTMM_ERR_ARGUMENT;
    }
    const dtmm_fwcs_header *hdr = view->hdr;
    const uint32_t positions = (uint32_t)hdr->kh * hdr->kw;
    const uint32_t cout = hdr->cout;
    if (positions > 32u) {
        return DTMM_ERR_UNSUPPORTED;
    }
    const uint32_t all = positions == 32u ? 0xFFFFFFFFu : ((1u << positions) - 1u);

    switch (hdr->encoding) {
    case DTMM_FWCS_ENC_DENSE:
        for (uint32_t o = 0; o < cout; o++) masks[o] = all;
        return DTMM_OK;
    case DTMM_FWCS_ENC_BITMAP: {
        /* bit b = o*positions + p, LSB first; gather positions bits per filter */
        uint32_t bit = 0;
        for (uint32_t o = 0; o < cout; o++) {
            uint32_t m = 0;
            uint32_t got = 0;
            while (got < positions) {
                uint32_t byte = view->index[bit >> 3];
                uint32_t offset = bit & 7u;
                uint32_t take = 8u - offset;
                if (take > positions - got) take = positions - got;
                uint32_t chunk = (byte >> offset) & ((1u << take) - 1u);
                m |= chunk << got;
                got += take;
                bit += take;
            }
            masks[o] = m;
        }
        return DTMM_OK;
    }
    case DTMM_FWCS_ENC_LIST: {
        /* per filter: u8 count, then count u8 positions */
        const uint8_t *p = view->index;
        for (uint32_t o = 0; o < cout; o++) {
            uint32_t count = *p++;
            uint32_t m = 0;
            for (uint32_t k = 0; k < count; k++) m |= 1u << *p++;
            masks[o] = m;
        }
        return DTMM_OK;
    }
    case DTMM_FWCS_ENC_GROUPS: {
        /* 1x1: a filter's one position is kept when its bit row has any bit set */
        const uint32_t row_bytes = ((uint32_t)hdr->cin / hdr->group + 7u) / 8u;
        const uint8_t *p = view->index;
        for (uint32_t o = 0; o < cout; o++) {
            uint32_t any = 0;
            for (uint32_t i = 0; i < row_bytes; i++) any |= *p++;
            masks[o] = any != 0u;
        }
        return DTMM_OK;
    }
    default:
        return DTMM_ERR_HEADER;
    }
}
