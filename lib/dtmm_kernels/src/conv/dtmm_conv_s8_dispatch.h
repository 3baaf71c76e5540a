/*
 * dtmm_conv_s8_dispatch.h - maps the conv path of this build to its functions (internal).
 *
 * DTMM_CONV_PATH (dtmm_conv_variants.h) is the one decision; dtmm_conv_s8(),
 * dtmm_conv_s8_with(), dtmm_conv_s8_get_buffer_size(), dtmm_conv_s8_variant()
 * and dtmm_conv_s8_path() include this header, so a kernel, its scratch size
 * and its variant can never come from different paths.
 */
#ifndef DTMM_CONV_S8_DISPATCH_H
#define DTMM_CONV_S8_DISPATCH_H

#include "dtmm_conv_flat_view.h"
#include "dtmm_kernels.h"

#if DTMM_CONV_PATH == DTMM_CONV_PATH_MVE
#define DTMM_CONV_S8_IMPL dtmm_conv_s8_mve
#define DTMM_CONV_S8_IMPL_WITH dtmm_conv_s8_mve_with
#define DTMM_CONV_S8_IMPL_BUFFER_SIZE dtmm_conv_s8_mve_get_buffer_size
#define DTMM_CONV_S8_IMPL_NAME "mve"
#elif DTMM_CONV_PATH == DTMM_CONV_PATH_DSP
#define DTMM_CONV_S8_IMPL dtmm_conv_s8_dsp
#define DTMM_CONV_S8_IMPL_WITH dtmm_conv_s8_dsp_with
#define DTMM_CONV_S8_IMPL_BUFFER_SIZE dtmm_conv_s8_dsp_get_buffer_size
#define DTMM_CONV_S8_IMPL_NAME "dsp"
#else
#define DTMM_CONV_S8_IMPL dtmm_conv_s8_c
#define DTMM_CONV_S8_IMPL_WITH dtmm_conv_s8_c_with
#define DTMM_CONV_S8_IMPL_BUFFER_SIZE dtmm_conv_s8_c_get_buffer_size
#define DTMM_CONV_S8_IMPL_NAME "c"
#endif

/* The view of a conv call's blob (1x1 layers flattened into *flat, dtmm_conv_flat_view.h), and the
 * checks every entry makes before running a path. */
static inline dtmm_status dtmm_conv_s8_begin(const uint8_t *blob, const int8_t *input, const int8_t *output,
                                             dtmm_fwcs_view *view, dtmm_fwcs_header *flat)
{
    const dtmm_status status = dtmm_fwcs_view_init(blob, view);
    if (status != DTMM_OK) {
        return status;
    }
    dtmm_conv_flatten(view, flat);
    return input == 0 || output == 0 ? DTMM_ERR_ARGUMENT : DTMM_OK;
}

#endif /* DTMM_CONV_S8_DISPATCH_H */
