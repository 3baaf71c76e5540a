/* dtmm_pattern_conv_s8_c.c - pattern conv, portable C (any number of taps).  Kernels of up to
 * DTMM_PATTERN_WINDOW_MAX positions gather a pixel's window once per input channel and each
 * pattern picks its taps from it; larger kernels gather each pattern's taps.  See dtmm_ops.h. */
#include <string.h>

#include "dtmm_pattern_conv_internal.h"

dtmm_status dtmm_pattern_conv_s8_c(const dtmm_pattern_conv_s8_params *p, const int8_t *input, int8_t *output,
                                   int32_t *acc)
{
    const int32_t n_taps = p->n_taps;
    const int32_t n_patterns = p->n_patterns;
    const int whole_window = p->kh * p->kw <= DTMM_PATTERN_WINDOW_MAX;
    int32_t pos_off[DTMM_PATTERN_WINDOW_MAX];
    int32_t win[DTMM_PATTERN_WINDOW_MAX];
    int32_t taps[DTMM_PATTERN_MAX_TAPS];
    if (whole_window) {
        dtmm_pattern_position_offsets(p, pos_off);
    }
    int8_t *out = output;
    for (int32_t oy = 0; oy < p->out_h; ++oy) {
        const int32_t y0 = oy * p->stride_h - p->pad_top;
        for (int32_t ox = 0; ox < p->out_w; ++ox) {
            const int32_t x0 = ox * p->stride_w - p->pad_left;
            const int8_t *window = dtmm_pattern_window(p, input, y0, x0);
            const int8_t *w = p->weights;
            int32_t k = 0;
            int32_t g = 0;
            memset(acc, 0, (size_t)p->cout * sizeof(int32_t));
            for (int32_t ci = 0; ci < p->cin; ++ci) {
                if (whole_window) {
                    dtmm_pattern_window_taps(p, input, window, pos_off, y0, x0, ci, win);
                }
                for (int32_t pid = 0; pid < n_patterns; ++pid, ++g) {
                    const int32_t n = dtmm_pattern_count(p, g);
                    if (n == 0) {
                        continue;
                    }
                    if (whole_window) {
                        const uint8_t *pos = p->positions + pid * n_taps;
                        for (int32_t t = 0; t < n_taps; ++t) {
                            taps[t] = win[pos[t]];
                        }
                    } else {
                        dtmm_pattern_gather(p, input, window, y0, x0, ci, pid, taps);
                    }
                    for (int32_t m = 0; m < n; ++m, ++k) {
                        int32_t sum = 0;
                        for (int32_t t = 0; t < n_taps; ++t) {
                            sum += (int32_t)w[t] * taps[t];
                        }
                        acc[dtmm_pattern_filter(p, k)] += sum;
                        w += n_taps;
                    }
                }
            }
            dtmm_pattern_store(p, acc, out);
            out += p->cout;
        }
    }
    return DTMM_OK;
}
