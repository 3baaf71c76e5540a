/*
 * dtmm_conv_groups_s8_c.c - a GROUPS layer (1x1 conv or fully connected
 * layer pruned by channel groups, docs/fwcs.md 5.5) in portable C: the
 * Cortex-M0/M3 path and every path's fallback.  Byte loads only (ARMv6-M
 * faults on unaligned words).
 */
#include <stddef.h>

#include "../common/dtmm_fixedpoint.h"
#include "dtmm_conv_groups_internal.h"
#include "dtmm_kernels.h"

dtmm_status dtmm_conv_groups_s8_c(const dtmm_fwcs_view *v, const int8_t *input, int8_t *output, void *scratch)
{
    const dtmm_status status = dtmm_groups_check(v, input, output, scratch);
    if (status != DTMM_OK) {
        return status;
    }
    const dtmm_fwcs_header *h = v->hdr;
    int32_t *init = (int32_t *)scratch;
    dtmm_groups_init(v, init);

    const uint32_t g = h->group, cout = h->cout, pixels = (uint32_t)h->out_h * h->out_w;
    const uint32_t row_bytes = ((uint32_t)h->cin / g + 7u) / 8u;
    /* clamp before adding the output offset: the requantized value may be near INT32_MAX */
    const int32_t out_off = h->output_offset, lo = h->act_min - out_off, hi = h->act_max - out_off;
    int8_t *out = output;
    for (uint32_t q = 0; q < pixels; q++) {
        const int8_t *px = dtmm_groups_pixel(h, input, q);
        const int8_t *w = v->weights;
        const uint8_t *row = v->index;
        for (uint32_t o = 0; o < cout; o++, row += row_bytes) {
            int32_t dot = 0; /* |dot| <= cin * 2^14: no overflow; init may be near the int32 limits */
            for (uint32_t i = 0; i < row_bytes; i++) {
                for (uint32_t bits = row[i]; bits != 0u; bits &= bits - 1u) {
                    uint32_t j = 0;
                    while (!((bits >> j) & 1u)) j++;
                    const int8_t *x = px + (8u * i + j) * g;
                    for (uint32_t c = 0; c < g; c++) dot += (int32_t)w[c] * x[c];
                    w += g;
                }
            }
            const int32_t acc = dtmm_fp_requantize(dtmm_fp_add_wrap(init[o], dot), v->multiplier[o], v->shift[o]);
            *out++ = (int8_t)((acc < lo ? lo : (acc > hi ? hi : acc)) + out_off);
        }
    }
    return DTMM_OK;
}
