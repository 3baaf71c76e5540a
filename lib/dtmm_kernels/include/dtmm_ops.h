/*
 * dtmm_ops.h - int8 operator kernels besides the FWCS convolution.
 *
 * Each operator has one parameter struct and one function (one source file
 * each, src/dtmm_<op>.c).  Every quantization parameter in a struct is
 * precomputed on the host by tools/dtmm/lowering exactly as TensorFlow Lite
 * Micro's Prepare step computes it, so each kernel is bit-exact with the
 * tflite-micro reference interpreter; the kernels themselves only do integer
 * arithmetic (QUANTIZE/DEQUANTIZE use float32 because their tensors are
 * float32).  The generated model code (dtmm pack) declares the structs as
 * `static const` and calls the functions in a straight line.
 *
 * Conventions:
 *  - activations are int8 NHWC (or any row-major layout for the elementwise
 *    ops), `batches` images per call where a struct has that field;
 *  - `*_offset` fields follow TFLite: input_offset = -input_zero_point,
 *    output_offset = output_zero_point;
 *  - act_min/act_max are the int8 output clamp with any fused activation
 *    folded in;
 *  - multipliers/shifts are QuantizeMultiplier pairs (Q31 multiplier,
 *    shift > 0 meaning left) applied with TFLite's double-rounding
 *    MultiplyByQuantizedMultiplier;
 *  - functions return DTMM_OK, or DTMM_ERR_ARGUMENT for NULL pointers and
 *    impossible sizes.  Inputs and outputs must not overlap unless the
 *    function says so.  None uses the heap or libc beyond string.h.
 *
 * C99, no heap.
 */
#ifndef DTMM_OPS_H
#define DTMM_OPS_H

#include <stddef.h>
#include <stdint.h>

#include "dtmm_status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Largest tensor rank the generic (broadcast, pad, reduce) kernels handle. */
#define DTMM_OPS_MAX_DIMS 6

/* ---- FULLY_CONNECTED ------------------------------------------------------
 * out[b][o] = clamp(MBQM(sum_i w[o][i] * (in[b][i] + input_offset) + bias[o],
 *                        multiplier[o], shift[o]) + output_offset)
 * The lowering folds the input offset into the bias:
 * bias[o] = model_bias[o] + input_offset * sum_i w[o][i], so the inner loop is
 * a plain int8 dot product (exact: int32 sums are associative).
 */
typedef struct {
    const int8_t *weights;      /* [out_features][in_features] */
    const int32_t *bias;        /* [out_features], offset folded in (see above) */
    const int32_t *multiplier;  /* [out_features], or [1] when !per_channel */
    const int32_t *shift;       /* same length as multiplier */
    int32_t batches;
    int32_t in_features;
    int32_t out_features;
    int32_t per_channel;        /* 0: multiplier[0]/shift[0] for every output */
    int32_t output_offset;
    int32_t act_min;
    int32_t act_max;
} dtmm_fully_connected_s8_params;

dtmm_status dtmm_fully_connected_s8(const dtmm_fully_connected_s8_params *p, const int8_t *input, int8_t *output);

/*
 * The paths dtmm_fully_connected_s8() picks from at compile time (portable C,
 * Arm DSP, Helium MVE; src/fully_connected/dtmm_fully_connected_s8_dispatch.h).
 * They take checked arguments; _dsp and _mve forward to _c on cores without
 * the extension.  Tests and benchmarks may call them directly.
 */
dtmm_status dtmm_fully_connected_s8_c(const dtmm_fully_connected_s8_params *p, const int8_t *input, int8_t *output);
dtmm_status dtmm_fully_connected_s8_dsp(const dtmm_fully_connected_s8_params *p, const int8_t *input, int8_t *output);
dtmm_status dtmm_fully_connected_s8_mve(const dtmm_fully_connected_s8_params *p, const int8_t *input, int8_t *output);

/* ---- DEPTHWISE_CONV_2D ----------------------------------------------------
 * TFLite DepthwiseConvPerChannel: output channel oc = ic*depth_multiplier + m
 * reads input channel ic; taps outside the input contribute nothing.
 */
typedef struct {
    const int8_t *weights;      /* [kh][kw][out_ch] (TFLite's 1 x kh x kw x out_ch) */
    const int32_t *bias;        /* [out_ch] (zeros when the model has none) */
    const int32_t *multiplier;  /* [out_ch] */
    const int32_t *shift;       /* [out_ch] */
    int32_t batches;
    int32_t in_h, in_w, in_ch;
    int32_t out_h, out_w, out_ch; /* out_ch = in_ch * depth_multiplier */
    int32_t depth_multiplier;
    int32_t kh, kw;
    int32_t stride_h, stride_w;
    int32_t dilation_h, dilation_w;
    int32_t pad_top, pad_left;
    int32_t input_offset;
    int32_t output_offset;
    int32_t act_min, act_max;
} dtmm_depthwise_conv_s8_params;

dtmm_status dtmm_depthwise_conv_s8(const dtmm_depthwise_conv_s8_params *p, const int8_t *input, int8_t *output);

/* Its paths, as for FULLY_CONNECTED (src/depthwise/dtmm_depthwise_conv_s8_dispatch.h). */
dtmm_status dtmm_depthwise_conv_s8_c(const dtmm_depthwise_conv_s8_params *p, const int8_t *input, int8_t *output);
dtmm_status dtmm_depthwise_conv_s8_dsp(const dtmm_depthwise_conv_s8_params *p, const int8_t *input, int8_t *output);
dtmm_status dtmm_depthwise_conv_s8_mve(const dtmm_depthwise_conv_s8_params *p, const int8_t *input, int8_t *output);

/* ---- AVERAGE_POOL_2D / MAX_POOL_2D ----------------------------------------
 * Windows are clipped to the input (padding is not counted).  Average:
 * int32 sum of the in-bounds values divided by their count, rounded half away
 * from zero; no rescaling (TFLite requires input and output quantization to
 * match).  Max: the largest in-bounds value.  Both then clamp.
 */
typedef struct {
    int32_t batches;
    int32_t in_h, in_w, channels;
    int32_t out_h, out_w;
    int32_t filter_h, filter_w;
    int32_t stride_h, stride_w;
    int32_t pad_top, pad_left;
    int32_t act_min, act_max;
} dtmm_pool_s8_params;

dtmm_status dtmm_avg_pool_s8(const dtmm_pool_s8_params *p, const int8_t *input, int8_t *output);
dtmm_status dtmm_max_pool_s8(const dtmm_pool_s8_params *p, const int8_t *input, int8_t *output);

/* The pooling paths, same contracts; the functions above call the best one
 * of the build (Helium on M55/M85, DSP on M4/M7/M33, else portable C;
 * -DDTMM_KERNELS_PORTABLE forces C).  Each exists on every target
 * (forwarding to _c where its extension is absent). */
dtmm_status dtmm_avg_pool_s8_c(const dtmm_pool_s8_params *p, const int8_t *input, int8_t *output);
dtmm_status dtmm_avg_pool_s8_dsp(const dtmm_pool_s8_params *p, const int8_t *input, int8_t *output);
dtmm_status dtmm_avg_pool_s8_mve(const dtmm_pool_s8_params *p, const int8_t *input, int8_t *output);
dtmm_status dtmm_max_pool_s8_c(const dtmm_pool_s8_params *p, const int8_t *input, int8_t *output);
dtmm_status dtmm_max_pool_s8_dsp(const dtmm_pool_s8_params *p, const int8_t *input, int8_t *output);
dtmm_status dtmm_max_pool_s8_mve(const dtmm_pool_s8_params *p, const int8_t *input, int8_t *output);

/* ---- ADD ------------------------------------------------------------------
 * TFLite int8 ADD: each input is offset, shifted left by left_shift (20) and
 * rescaled by its own multiplier, the sum is rescaled to the output, offset
 * and clamped.  Broadcasting: when ndims > 0, the output has shape
 * shape[0..ndims-1] (outermost first) and input k reads element
 * sum_d idx[d]*stride_k[d] (stride 0 along broadcast dimensions); ndims == 0
 * means both inputs have the output's shape (`size` elements).
 * The output may alias either input when ndims == 0.
 * table1/table2, when not NULL, hold each input's rescaled value for every
 * int8 x at [x + 128] (computed by the lowering with the same arithmetic):
 * the per-element work is then two loads, one add and the output rescale.
 */
typedef struct {
    int32_t input1_offset, input1_multiplier, input1_shift;
    int32_t input2_offset, input2_multiplier, input2_shift;
    int32_t output_offset, output_multiplier, output_shift;
    int32_t left_shift;
    int32_t act_min, act_max;
    int32_t size;               /* output elements */
    int32_t ndims;              /* 0: no broadcasting */
    int32_t shape[DTMM_OPS_MAX_DIMS];
    int32_t stride1[DTMM_OPS_MAX_DIMS];
    int32_t stride2[DTMM_OPS_MAX_DIMS];
    const int32_t *table1;      /* [256] or NULL */
    const int32_t *table2;      /* [256] or NULL (both or neither) */
} dtmm_add_s8_params;

dtmm_status dtmm_add_s8(const dtmm_add_s8_params *p, const int8_t *input1, const int8_t *input2, int8_t *output);

/* ADD's paths, same contract; dtmm_add_s8() calls the best one of the build
 * (DSP on Cortex-M4/M7/M33, Helium on M55; -DDTMM_KERNELS_PORTABLE forces C).
 * Each exists on every target (forwarding to _c where its extension is absent). */
dtmm_status dtmm_add_s8_c(const dtmm_add_s8_params *p, const int8_t *input1, const int8_t *input2, int8_t *output);
dtmm_status dtmm_add_s8_dsp(const dtmm_add_s8_params *p, const int8_t *input1, const int8_t *input2, int8_t *output);
dtmm_status dtmm_add_s8_mve(const dtmm_add_s8_params *p, const int8_t *input1, const int8_t *input2, int8_t *output);

/*
 * ADD kernel variants, so that a firmware links only the ones its model uses
 * (docs/kernels.md, "Variant selection"; the conv's scheme).  Helium: one
 * row kernel per case the parameters select - both inputs read element by
 * element (vv) or one broadcast (vb: input 2 constant along the row, bv:
 * input 1), and per vector input, in input order, whether its right shift
 * is 0 (z: one VQRDMULH) or not (n) - with the output shift >= 1; mve_any for an output
 * shift of 0; mve_scalar (the reference rule element by element) for
 * negative multipliers or other innermost strides.  The DSP and portable
 * paths are one variant each.  dtmm_add_s8() reaches every variant of its
 * path; dtmm_add_s8_with() only those in the caller's list.
 */
typedef struct dtmm_add_variant dtmm_add_variant;
#define DTMM_ADD_VARIANTS(X)                                                                        \
    X(0, mve_vv_zz)                                                                                 \
    X(1, mve_vv_zn)                                                                                 \
    X(2, mve_vv_nz)                                                                                 \
    X(3, mve_vv_nn)                                                                                 \
    X(4, mve_vb_z)                                                                                  \
    X(5, mve_vb_n)                                                                                  \
    X(6, mve_bv_z)                                                                                  \
    X(7, mve_bv_n)                                                                                  \
    X(8, mve_any)                                                                                   \
    X(9, mve_scalar)                                                                                \
    X(10, dsp)                                                                                      \
    X(11, portable)
#define DTMM_ADD_VARIANT_COUNT 12u

#define DTMM_ADD_VARIANT_DECLARE_(id, name) extern const dtmm_add_variant dtmm_add_##name;
DTMM_ADD_VARIANTS(DTMM_ADD_VARIANT_DECLARE_)
#undef DTMM_ADD_VARIANT_DECLARE_

/*
 * dtmm_add_s8() (same contract) running only the listed variants of this
 * build's path: the variant the parameters select must be in `variants`
 * (n entries, any order), else DTMM_ERR_UNSUPPORTED and nothing is
 * written.  The MVE and DSP objects exist only in builds of their path.
 */
dtmm_status dtmm_add_s8_with(const dtmm_add_s8_params *p, const int8_t *input1, const int8_t *input2,
                             int8_t *output, const dtmm_add_variant *const *variants, uint32_t n_variants);

/* The id (X above) of the variant path `path` (0 portable, 1 DSP, 2 MVE: the DTMM_CONV_PATH_*
 * values) runs for these parameters, on any target (the packer's rule, tested against it). */
int32_t dtmm_add_s8_variant(const dtmm_add_s8_params *p, int32_t path);

/* ---- SUB ------------------------------------------------------------------
 * TFLite int8 SUB: ADD's rule with the second input's rescaled value
 * subtracted instead of added.  TFLite computes SUB's parameters exactly as
 * ADD's, so SUB takes dtmm_add_s8_params (tables included) and the same
 * broadcasting; the output may alias either input when ndims == 0.  One
 * portable path (SUB is rare in TinyML models).
 */
dtmm_status dtmm_sub_s8(const dtmm_add_s8_params *p, const int8_t *input1, const int8_t *input2, int8_t *output);

/* ---- MUL ------------------------------------------------------------------
 * TFLite int8 MUL:
 *   out = clamp(MBQM((in1 + input1_offset) * (in2 + input2_offset),
 *                    output_multiplier, output_shift) + output_offset)
 * with ADD's broadcasting fields (ndims == 0: both inputs have `size`
 * elements; the output may then alias either input).
 */
typedef struct {
    int32_t input1_offset, input2_offset;
    int32_t output_offset, output_multiplier, output_shift;  /* shift in [-31, 30] */
    int32_t act_min, act_max;
    int32_t size;               /* output elements */
    int32_t ndims;              /* 0: no broadcasting */
    int32_t shape[DTMM_OPS_MAX_DIMS];
    int32_t stride1[DTMM_OPS_MAX_DIMS];
    int32_t stride2[DTMM_OPS_MAX_DIMS];
} dtmm_mul_s8_params;

dtmm_status dtmm_mul_s8(const dtmm_mul_s8_params *p, const int8_t *input1, const int8_t *input2, int8_t *output);

/* ---- RELU / RELU6 / LEAKY_RELU / LOGISTIC / TANH / HARD_SWISH -------------
 * Every int8 -> int8 elementwise function is a 256-entry table: the lowering
 * evaluates TFLite Micro's integer rule for each input value x and stores the
 * result at table[x + 128]; the kernel is one load per element.  The output
 * may alias the input.
 */
typedef struct {
    int32_t size;               /* elements */
    const int8_t *table;        /* [256]: output for input x at [x + 128] */
} dtmm_lookup_s8_params;

dtmm_status dtmm_lookup_s8(const dtmm_lookup_s8_params *p, const int8_t *input, int8_t *output);

/* ---- MEAN -----------------------------------------------------------------
 * TFLite int8 MEAN (QuantizedMeanOrSum): int32 sum over the reduced axes,
 * minus input_zero_point * count, MultiplyByQuantizedMultiplier with the
 * input/output multiplier already divided by count the way TFLite does it at
 * Eval (multiplier << s / count, shift - s), plus output zero point, clamp.
 * The input is viewed as kept dims interleaved with reduced dims; output
 * element (k0,k1,k2,k3) sums input elements
 *   sum_j k_j*kept_stride[j] + sum_j r_j*red_stride[j]
 * over all (r0..r3) < red_dims; unused dims have size 1.
 */
typedef struct {
    int32_t kept_dims[4];       /* output shape, outermost first (row-major output) */
    int32_t kept_stride[4];     /* input element strides of those dims */
    int32_t red_dims[4];        /* reduced dims */
    int32_t red_stride[4];
    int32_t count;              /* elements summed per output */
    int32_t input_zero_point;
    int32_t output_zero_point;
    int32_t multiplier;         /* adjusted for count, may be < 2^30 */
    int32_t shift;              /* adjusted for count, >= -31 */
} dtmm_mean_s8_params;

dtmm_status dtmm_mean_s8(const dtmm_mean_s8_params *p, const int8_t *input, int8_t *output);

/* MEAN's paths (as for pooling above). */
dtmm_status dtmm_mean_s8_c(const dtmm_mean_s8_params *p, const int8_t *input, int8_t *output);
dtmm_status dtmm_mean_s8_dsp(const dtmm_mean_s8_params *p, const int8_t *input, int8_t *output);
dtmm_status dtmm_mean_s8_mve(const dtmm_mean_s8_params *p, const int8_t *input, int8_t *output);

/* ---- SOFTMAX --------------------------------------------------------------
 * TFLite int8 -> int8 softmax over the last dimension (output scale 1/256,
 * zero point -128), with gemmlowp fixed-point exp and reciprocal;
 * input_multiplier/input_left_shift/diff_min come from
 * PreprocessSoftmaxScaling(beta, input_scale, 5) and CalculateInputRadius.
 */
typedef struct {
    int32_t outer;              /* rows */
    int32_t depth;              /* elements per row (last dimension) */
    int32_t input_multiplier;
    int32_t input_left_shift;
    int32_t diff_min;
} dtmm_softmax_s8_params;

dtmm_status dtmm_softmax_s8(const dtmm_softmax_s8_params *p, const int8_t *input, int8_t *output);

/* Its paths (src/softmax/dtmm_softmax_s8_dispatch.h), as for the ops above. */
dtmm_status dtmm_softmax_s8_c(const dtmm_softmax_s8_params *p, const int8_t *input, int8_t *output);
dtmm_status dtmm_softmax_s8_dsp(const dtmm_softmax_s8_params *p, const int8_t *input, int8_t *output);
dtmm_status dtmm_softmax_s8_mve(const dtmm_softmax_s8_params *p, const int8_t *input, int8_t *output);

/* ---- CONCATENATION --------------------------------------------------------
 * outer slices; in each, input k contributes `size` contiguous elements
 * (its extent along the axis times the inner size).  An input whose
 * quantization differs from the output's is requantized like TFLite's int8
 * QUANTIZE: clamp(MBQM(x + input_offset, multiplier, shift) + output_offset).
 * (TFLite and TFLite Micro refuse such models; the converter never makes
 * them.)
 */
typedef struct {
    int32_t size;               /* elements per outer slice */
    int32_t requantize;         /* 0: byte copy */
    int32_t input_offset;
    int32_t multiplier;
    int32_t shift;
    int32_t output_offset;
} dtmm_concatenation_input;

typedef struct {
    int32_t n_inputs;
    int32_t outer;
    const dtmm_concatenation_input *inputs; /* [n_inputs] */
} dtmm_concatenation_s8_params;

dtmm_status dtmm_concatenation_s8(const dtmm_concatenation_s8_params *p, const int8_t *const *inputs, int8_t *output);

/* ---- PAD / PADV2 ----------------------------------------------------------
 * Output dim d = pad_before[d] + in_shape[d] + pad_after[d]; padding takes
 * pad_value (the output zero point for PAD).  Dimensions are right-aligned:
 * ndims <= DTMM_OPS_MAX_DIMS; the lowering merges the innermost unpadded
 * dimensions so the last dimension is one contiguous copy per row.
 */
typedef struct {
    int32_t ndims;
    int32_t in_shape[DTMM_OPS_MAX_DIMS];
    int32_t pad_before[DTMM_OPS_MAX_DIMS];
    int32_t pad_after[DTMM_OPS_MAX_DIMS];
    int32_t pad_value;
} dtmm_pad_s8_params;

dtmm_status dtmm_pad_s8(const dtmm_pad_s8_params *p, const int8_t *input, int8_t *output);

/* ---- TRANSPOSE / STRIDED_SLICE --------------------------------------------
 * A strided gather of int8 bytes (no rescaling: the lowering requires equal
 * input and output quantization).  Output element (i0, ..., i{ndims-1}),
 * row-major over shape[], is input[offset + sum_d i_d * stride[d]]; strides
 * are in input elements and may be zero or negative.  A run along the last
 * dimension with stride 1 is one memcpy.  The lowering drops size-1
 * dimensions and merges contiguous ones.  Every element read must lie in
 * [0, in_size), else DTMM_ERR_ARGUMENT and nothing is written.
 */
typedef struct {
    int32_t ndims;                      /* 1..DTMM_OPS_MAX_DIMS */
    int32_t shape[DTMM_OPS_MAX_DIMS];   /* output shape, outermost first */
    int32_t stride[DTMM_OPS_MAX_DIMS];  /* input element step per output index */
    int32_t offset;                     /* input element of output element 0 */
    int32_t in_size;                    /* input elements */
} dtmm_strided_copy_s8_params;

dtmm_status dtmm_strided_copy_s8(const dtmm_strided_copy_s8_params *p, const int8_t *input, int8_t *output);

/* ---- RESIZE_NEAREST_NEIGHBOR ----------------------------------------------
 * NHWC: output pixel (b, y, x) is the `channels` bytes of input pixel
 * (b, row_index[y], col_index[x]) (no rescaling, as above).  The tables are
 * computed by the lowering with TFLite's float32 nearest-neighbour rule
 * (align_corners, half_pixel_centers); the kernel checks every entry is
 * inside the input.
 */
typedef struct {
    int32_t batches;
    int32_t in_h, in_w, channels;
    int32_t out_h, out_w;
    const int16_t *row_index;   /* [out_h] source row of each output row */
    const int16_t *col_index;   /* [out_w] source column of each output column */
} dtmm_resize_nearest_s8_params;

dtmm_status dtmm_resize_nearest_s8(const dtmm_resize_nearest_s8_params *p, const int8_t *input, int8_t *output);

/* ---- QUANTIZE / DEQUANTIZE ------------------------------------------------
 * float32 -> int8: q = round_half_away(x / scale) + zero_point (float32
 *   division, as TFLite's AffineQuantize), clamped to int8; NaN gives the
 *   zero point.
 * int8 -> int8: clamp(MBQM(x + input_offset, multiplier, shift) + output_offset)
 *   (TFLite's Requantize).  Output may alias input.
 * int8 -> float32: (x - zero_point) * scale, one float32 rounding (equal to
 *   TFLite's double computation for int8 inputs).
 */
typedef struct {
    int32_t size;
    float scale;
    int32_t zero_point;
} dtmm_quantize_f32_s8_params;

dtmm_status dtmm_quantize_f32_s8(const dtmm_quantize_f32_s8_params *p, const float *input, int8_t *output);

typedef struct {
    int32_t size;
    int32_t input_offset;
    int32_t multiplier;
    int32_t shift;
    int32_t output_offset;
} dtmm_quantize_s8_s8_params;

dtmm_status dtmm_quantize_s8_s8(const dtmm_quantize_s8_s8_params *p, const int8_t *input, int8_t *output);

typedef struct {
    int32_t size;
    float scale;
    int32_t zero_point;
} dtmm_dequantize_s8_f32_params;

dtmm_status dtmm_dequantize_s8_f32(const dtmm_dequantize_s8_f32_params *p, const int8_t *input, float *output);

/* ---- CONV_2D of the pruning baselines (docs/baselines.md) ------------------
 * The storage and kernels `dtmm compare` measures DTMM against: weights
 * pruned one by one (`unstructured`, bitmap or CSR) and PatDNN-style kernel
 * patterns (`pattern`).  Both compute TFLite's int8 CONV_2D exactly:
 * out[y][x][o] = clamp(MBQM(bias[o] + sum w * (in + input_offset)) +
 * output_offset), taps outside the input contributing nothing.  `bias` has
 * the input offset folded in (model bias + input_offset * sum of the
 * filter's weights), so in-bounds taps need only w * in; out-of-bounds taps
 * then add w * (-input_offset).  One image per call (the lowering loops
 * batches); NHWC input [in_h][in_w][cin], output [out_h][out_w][cout].
 */
typedef struct {
    const int8_t *weights;     /* kept weights, row by row; a row is (o, ky), ordered by column */
    const uint8_t *bitmap;     /* bitmap storage: [cout*kh][ceil(kw*cin/8)], bit c of a row (LSB first)
                                  set when column c = kx*cin + ci is kept; NULL for CSR */
    const uint16_t *counts;    /* CSR: kept weights per row [cout*kh]; NULL for bitmap */
    const uint8_t *cols8;      /* CSR with kw*cin <= 256: the column of each kept weight (increasing
                                  within a row); else NULL */
    const uint16_t *cols16;    /* CSR with kw*cin > 256; else NULL */
    const int32_t *bias;       /* [cout], input offset folded in (see above) */
    const int32_t *multiplier; /* [cout] */
    const int32_t *shift;      /* [cout] */
    int32_t in_h, in_w, cin;
    int32_t out_h, out_w, cout;
    int32_t kh, kw;
    int32_t stride_h, stride_w;
    int32_t dilation_h, dilation_w;
    int32_t pad_top, pad_left;
    int32_t input_offset;
    int32_t output_offset;
    int32_t act_min, act_max;
} dtmm_sparse_conv_s8_params;

/* Unstructured sparse conv: visits only the kept weights (best path of this build). */
dtmm_status dtmm_sparse_conv_s8(const dtmm_sparse_conv_s8_params *p, const int8_t *input, int8_t *output);

/* Its paths: portable C (two pixels per weight walk; also what DSP cores run) and Helium MVE (four pixels
 * per gather; forwards to _c without MVE), called with checked arguments. */
dtmm_status dtmm_sparse_conv_s8_c(const dtmm_sparse_conv_s8_params *p, const int8_t *input, int8_t *output);
dtmm_status dtmm_sparse_conv_s8_mve(const dtmm_sparse_conv_s8_params *p, const int8_t *input, int8_t *output);

typedef struct {
    const int8_t *weights;        /* n_taps weights per kept kernel; kernels grouped by input channel, then
                                     pattern, then output channel (increasing) */
    const uint8_t *counts8;       /* [cin][n_patterns] kept kernels per group when cout <= 255; else NULL */
    const uint16_t *counts16;     /* the same when cout > 255; else NULL */
    const uint8_t *filters8;      /* output channel of each kept kernel when cout <= 256; else NULL */
    const uint16_t *filters16;    /* the same when cout > 256; else NULL */
    const uint8_t *positions;     /* [n_patterns][n_taps]: ky*kw + kx of each tap, increasing */
    const int32_t *tap_offsets;   /* [n_patterns][n_taps]: (ky*dilation_h*in_w + kx*dilation_w)*cin */
    const int32_t *bias;          /* [cout], input offset folded in (see above) */
    const int32_t *multiplier;    /* [cout] */
    const int32_t *shift;         /* [cout] */
    int32_t n_patterns, n_taps;   /* 1..16 patterns of 1..16 taps (kh*kw <= 256) */
    int32_t in_h, in_w, cin;
    int32_t out_h, out_w, cout;
    int32_t kh, kw;
    int32_t stride_h, stride_w;
    int32_t dilation_h, dilation_w;
    int32_t pad_top, pad_left;
    int32_t input_offset;
    int32_t output_offset;
    int32_t act_min, act_max;
} dtmm_pattern_conv_s8_params;

/*
 * Pattern conv (best path of this build).  Per output pixel and input
 * channel, each pattern's taps are gathered once and reused by every filter
 * whose kernel at that channel has that pattern (PatDNN's load-redundancy
 * elimination); the accumulators live in `scratch`, int32-aligned, of
 * dtmm_pattern_conv_s8_get_buffer_size() = 16 * cout bytes (the Helium path
 * accumulates four pixels at a time).
 */
dtmm_status dtmm_pattern_conv_s8(const dtmm_pattern_conv_s8_params *p, const int8_t *input, int8_t *output,
                                 void *scratch);
int32_t dtmm_pattern_conv_s8_get_buffer_size(const dtmm_pattern_conv_s8_params *p);

/* Its paths (portable C; Arm DSP and Helium MVE for 4-tap patterns, which forward to _c otherwise or
 * without the extension), called with checked arguments. */
dtmm_status dtmm_pattern_conv_s8_c(const dtmm_pattern_conv_s8_params *p, const int8_t *input, int8_t *output,
                                   int32_t *acc);
dtmm_status dtmm_pattern_conv_s8_dsp(const dtmm_pattern_conv_s8_params *p, const int8_t *input, int8_t *output,
                                     int32_t *acc);
dtmm_status dtmm_pattern_conv_s8_mve(const dtmm_pattern_conv_s8_params *p, const int8_t *input, int8_t *output,
                                     int32_t *acc);

#ifdef __cplusplus
}
#endif

#endif /* DTMM_OPS_H */
