/* dtmm_conv_s8.c - one packed int8 conv layer on the best path of this build. */
#include <stddef.h>

#include "dtmm_conv_flat_view.h"
#include "dtmm_conv_s8_dispatch.h"

dtmm_status dtmm_conv_s8(const uint8_t *blob, const int8_t *input, int8_t *output, void *scratch)
{
    dtmm_fwcs_view view;
    dtmm_status status = dtmm_fwcs_view_init(blob, &view);
    if (status != DTMM_OK) {
        return status;
    }
    if (input == NULL || output == NULL) {
        return DTMM_ERR_ARGUMENT;
    }
    dtmm_conv_flat flat;
    return DTMM_CONV_S8_IMPL(dtmm_conv_flat_view(&view, &flat), input, output, scratch);
}
