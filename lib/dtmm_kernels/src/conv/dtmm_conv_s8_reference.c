/*
 * dtmm_conv_s8_reference.c - the benchmark baseline: a plain int8 conv loop.
 *
 * Written the way TFLite's reference integer conv is structured (out_y,
 * out_x, out_c, filter_y, filter_x, in_c; one bounds check per tap; the
 * input offset added to every input byte; indices recomputed from scratch),
 * so the ratio "dense mode / reference" says what the filterlet kernels gain
 * on an unpruned layer.  DENSE blobs only: it reads the OHWI weights as a
 * plain tensor.
 */
#include <stddef.h>

#include "dtmm_kernels.h"

dtmm_status dtmm_conv_s8_reference(const dtmm_fwcs_view *v, const int8_t *input, int8_t *output)
{
    if (v == NULL || v->hdr == NULL || input == NULL || output == NULL) {
        return DTMM_ERR_ARGUMENT;
    }
    const dtmm_fwcs_header *h = v->hdr;
    if (h->encoding != DTMM_FWCS_ENC_DENSE) {
        return DTMM_ERR_UNSUPPORTED;
    }
    const int32_t in_h = h->in_h, in_w = h->in_w, cin = h->cin, cout = h->cout;
    const int32_t kh = h->kh, kw = h->kw, out_h = h->out_h, out_w = h->out_w;
    const int32_t input_offset = h->input_offset, output_offset = h->output_offset;

    for (int32_t out_y = 0; out_y < out_h; ++out_y) {
        const int32_t in_y_origin = out_y * h->stride_h - h->pad_top;
        for (int32_t out_x = 0; out_x < out_w; ++out_x) {
            const int32_t in_x_origin = out_x * h->stride_w - h->pad_left;
            for (int32_t out_c = 0; out_c < cout; ++out_c) {
                int32_t acc = 0;
                for (int32_t filter_y = 0; filter_y < kh; ++filter_y) {
                    const int32_t in_y = in_y_origin + h->dilation_h * filter_y;
                    for (int32_t filter_x = 0; filter_x < kw; ++filter_x) {
                        const int32_t in_x = in_x_origin + h->dilation_w * filter_x;
                        const int inside = in_x >= 0 && in_x < in_w && in_y >= 0 && in_y < in_h;
                        if (!inside) {
                            continue;
                        }
                        for (int32_t in_c = 0; in_c < cin; ++in_c) {
                            int32_t x = input[(in_y * in_w + in_x) * cin + in_c];
                            int32_t w = v->weights[((out_c * kh + filter_y) * kw + filter_x) * cin + in_c];
                            acc += w * (x + input_offset);
                        }
                    }
                }
                acc = (int32_t)((uint32_t)acc + (uint32_t)v->bias[out_c]); /* int32 wrap, no UB */
                acc = dtmm_requantize(acc, v->multiplier[out_c], v->shift[out_c]);
                /* clamp(acc + offset) computed as clamp(acc) + offset: no int32 overflow */
                acc = acc < h->act_min - output_offset ? h->act_min - output_offset : acc;
                acc = acc > h->act_max - output_offset ? h->act_max - output_offset : acc;
                output[(out_y * out_w + out_x) * cout + out_c] = (int8_t)(acc + output_offset);
            }
        }
    }
    return DTMM_OK;
}
