/*
 * dtmm_conv_s8_check_tensors.c - does an untrusted blob fit the tensors a host runtime gives it?
 *
 * What the TFLM adapter's Prepare (lib/dtmm_kernels/tflm/) asks before it
 * trusts a DTMM_CONV_2D node: kept free of TFLM types so every build (and
 * the host tests) compiles and checks it.
 */
#include "dtmm_kernels.h"

static dtmm_status refuse(const char **problem, const char *why, dtmm_status status)
{
    if (problem != 0) {
        *problem = why;
    }
    return status;
}

dtmm_status dtmm_conv_s8_check_tensors(const uint8_t *blob, uint32_t size, const dtmm_conv_tensors *tensors,
                                       int32_t *scratch_bytes, const char **problem)
{
    if (problem != 0) {
        *problem = "";
    }
    if (blob == 0 || tensors == 0 || scratch_bytes == 0) {
        return refuse(problem, "NULL argument", DTMM_ERR_ARGUMENT);
    }
    if (((uintptr_t)blob & 15u) != 0u) {
        return refuse(problem, "the blob is not 16-byte aligned (align the model array to 16 bytes)",
                      DTMM_ERR_ARGUMENT);
    }
    dtmm_status status = dtmm_fwcs_validate(blob, size);
    if (status != DTMM_OK) {
        return refuse(problem, "the blob is not a valid FWCS blob", status);
    }
    const dtmm_fwcs_header *h = (const dtmm_fwcs_header *)(const void *)blob;
    const dtmm_conv_tensors *t = tensors;
    if (t->batches < 1) {
        return refuse(problem, "the input has no image (batch < 1)", DTMM_ERR_ARGUMENT);
    }
    if (t->in_h != (int32_t)h->in_h || t->in_w != (int32_t)h->in_w || t->in_c != (int32_t)h->cin) {
        return refuse(problem, "the input shape differs from the blob's (in_h, in_w, cin)", DTMM_ERR_ARGUMENT);
    }
    if (t->out_h != (int32_t)h->out_h || t->out_w != (int32_t)h->out_w || t->out_c != (int32_t)h->cout) {
        return refuse(problem, "the output shape differs from the blob's (out_h, out_w, cout)", DTMM_ERR_ARGUMENT);
    }
    if (t->output_zero_point != h->output_offset) {
        return refuse(problem, "the output zero point differs from the blob's output offset", DTMM_ERR_ARGUMENT);
    }
    int32_t need = dtmm_conv_s8_get_buffer_size(blob);
    if (need < 0) {
        return refuse(problem, "this build's kernels cannot run the blob", (dtmm_status)(-need));
    }
    *scratch_bytes = need;
    return DTMM_OK;
}
