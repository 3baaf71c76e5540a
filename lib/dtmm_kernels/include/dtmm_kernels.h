/*
 * dtmm_kernels.h - public API of the DTMM int8 kernel library.
 *
 * C99, no heap, no libc in hot loops.  Every function is bit-exact with the
 * TensorFlow Lite (Micro) reference kernels on the same inputs.
 * docs/kernels.md describes the convolution API, its paths and its tests.
 */
#ifndef DTMM_KERNELS_H
#define DTMM_KERNELS_H

#include <stdint.h>

#include "dtmm_conv_variants.h"
#include "dtmm_fwcs.h"
#include "dtmm_status.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Requantizes an int32 accumulator with a Q31 multiplier and a power-of-two
 * shift (left when shift > 0), exactly like TFLite's
 * MultiplyByQuantizedMultiplier: saturating rounding doubling high multiply,
 * then rounding (half away from zero) arithmetic right shift.
 */
int32_t dtmm_requantize(int32_t acc, int32_t multiplier, int32_t shift);

/* ---- filterlet int8 convolution (FWCS blobs, docs/fwcs.md) ---------------
 *
 * One image, NHWC int8: input [in_h][in_w][cin], output [out_h][out_w][cout],
 * all dimensions and quantization from the blob header.  The blob must be
 * 16-byte aligned and trusted (compiled in, or accepted by
 * dtmm_fwcs_validate()).  `scratch` is caller memory of
 * dtmm_conv_s8_get_buffer_size() bytes, 4-byte (better 16-byte) aligned; it
 * may be NULL when that size is 0.  Input and output may have any
 * alignment (they are int8 arrays); input, output and scratch must not
 * overlap.  Any encoding works, DENSE included ("dense mode": the same
 * kernels on an unpruned layer, without per-filterlet index work).
 */

/*
 * Runs one packed conv layer with the fastest path compiled in: Helium MVE
 * when __ARM_FEATURE_MVE has integer MVE, else the Arm DSP extension when
 * __ARM_FEATURE_DSP, else portable C; -DDTMM_KERNELS_PORTABLE forces the
 * portable path.  Returns DTMM_OK, DTMM_ERR_ARGUMENT (NULL or misaligned
 * pointers, missing scratch), DTMM_ERR_MAGIC / DTMM_ERR_VERSION, or
 * DTMM_ERR_UNSUPPORTED.
 */
dtmm_status dtmm_conv_s8(const uint8_t *blob, const int8_t *input, int8_t *output, void *scratch);

/*
 * dtmm_conv_s8() links every kernel variant of its path; generated models
 * call dtmm_conv_s8_with() with the variants their layers use
 * (dtmm_conv_variants.h).
 */

/* Scratch bytes dtmm_conv_s8() needs for this blob (>= 0), or -(dtmm_status) on a bad blob. */
int32_t dtmm_conv_s8_get_buffer_size(const uint8_t *blob);

/*
 * The tensors a host runtime hands one conv node (NHWC int8, N images).
 * dtmm_conv_s8_check_tensors() checks an untrusted blob of `size` bytes
 * against them: 16-byte alignment, dtmm_fwcs_validate(), the input and
 * output shapes and the output zero point the blob was made for, and that
 * this build's kernels run it.  On DTMM_OK *scratch_bytes is what
 * dtmm_conv_s8() needs (per call; images run one after another); otherwise
 * *problem (when not NULL) names the mismatch in one phrase.  The TFLM
 * adapter's Prepare calls it (lib/dtmm_kernels/tflm/, docs/tflm.md).
 */
typedef struct {
    int32_t batches;
    int32_t in_h, in_w, in_c;
    int32_t out_h, out_w, out_c;
    int32_t output_zero_point;
} dtmm_conv_tensors;

dtmm_status dtmm_conv_s8_check_tensors(const uint8_t *blob, uint32_t size, const dtmm_conv_tensors *tensors,
                                       int32_t *scratch_bytes, const char **problem);

/* The path dtmm_conv_s8() dispatches to in this build: "c", "dsp" or "mve". */
const char *dtmm_conv_s8_path(void);

/*
 * The paths themselves, all with the same contract (the view comes from
 * dtmm_fwcs_view_init()).  dtmm_conv_s8() calls exactly one of them; tests
 * and benchmarks may call one directly.  _c exists everywhere; _dsp is only
 * guaranteed where __ARM_FEATURE_DSP is defined and _mve where integer MVE
 * is (their source files are in sources.txt and compile on every target).
 */
dtmm_status dtmm_conv_s8_c(const dtmm_fwcs_view *v, const int8_t *input, int8_t *output, void *scratch);
int32_t dtmm_conv_s8_c_get_buffer_size(const dtmm_fwcs_view *v);
dtmm_status dtmm_conv_s8_dsp(const dtmm_fwcs_view *v, const int8_t *input, int8_t *output, void *scratch);
int32_t dtmm_conv_s8_dsp_get_buffer_size(const dtmm_fwcs_view *v);
dtmm_status dtmm_conv_s8_mve(const dtmm_fwcs_view *v, const int8_t *input, int8_t *output, void *scratch);
int32_t dtmm_conv_s8_mve_get_buffer_size(const dtmm_fwcs_view *v);

/*
 * GROUPS blobs (1x1 convs and fully connected layers pruned by channel
 * groups, docs/fwcs.md 5.5): the portable kernel, as dtmm_conv_s8_c() runs
 * it (scratch: dtmm_conv_s8_c_get_buffer_size()), and the Helium kernel,
 * as the MVE path runs it (variant dtmm_conv_mve_groups; scratch:
 * dtmm_conv_s8_mve_get_buffer_size(); the portable kernel off MVE).  The
 * DSP path's is its variant dtmm_conv_dsp_groups (band kernel).
 */
dtmm_status dtmm_conv_groups_s8_c(const dtmm_fwcs_view *v, const int8_t *input, int8_t *output, void *scratch);
dtmm_status dtmm_conv_groups_s8_mve(const dtmm_fwcs_view *v, const int8_t *input, int8_t *output, void *scratch);

/*
 * The comparison baseline of the benchmarks: a plain loop in the style of
 * TFLite's reference conv (out_y, out_x, out_c, ky, kx, in_c, one bounds
 * check per tap, acc += w * (x + input_offset)).  DENSE blobs only, else
 * DTMM_ERR_UNSUPPORTED; needs no scratch.
 */
dtmm_status dtmm_conv_s8_reference(const dtmm_fwcs_view *v, const int8_t *input, int8_t *output);

#ifdef __cplusplus
}
#endif

#endif /* DTMM_KERNELS_H */
