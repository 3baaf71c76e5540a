/* dtmm_pattern_conv_s8_c.c - pattern conv, portable C (any number of taps), pixel by pixel
 * (dtmm_pattern_pixel_c).  See dtmm_ops.h. */
#include "dtmm_pattern_conv_internal.h"

dtmm_status dtmm_pattern_conv_s8_c(const dtmm_pattern_conv_s8_params *p, const int8_t *input, int8_t *output,
                                   int32_t *acc)
{
    int32_t pos_off[DTMM_PATTERN_WINDOW_MAX];
    if (p->kh * p->kw <= DTMM_PATTERN_WINDOW_MAX) {
        dtmm_pattern_position_offsets(p, pos_off);
    }
    int8_t *out = output;
    for (int32_t oy = 0; oy < p->out_h; ++oy) {
        for (int32_t ox = 0; ox < p->out_w; ++ox) {
            dtmm_pattern_pixel_c(p, input, oy * p->stride_h - p->pad_top, ox * p->stride_w - p->pad_left, pos_off,
                                 acc, out);
            out += p->cout;
        }
    }
    return DTMM_OK;
}
