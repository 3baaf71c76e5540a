/*
 * dtmm_tap_range.h - the kernel taps of one axis that fall inside the input
 * (internal; shared by the depthwise paths and the conv element lists).
 */
#ifndef DTMM_TAP_RANGE_H
#define DTMM_TAP_RANGE_H

#include <stdint.h>

/* Taps [*start, *end) of n taps dil apart, the first at input coordinate origin, that lie in
 * [0, limit).  No tap inside: *end == *start (which may exceed n when the window ends left of 0). */
static inline void dtmm_tap_range(int32_t origin, int32_t dil, int32_t n, int32_t limit, int32_t *start,
                                  int32_t *end)
{
    int32_t s = 0;
    if (origin < 0) {
        s = (-origin + dil - 1) / dil;
    }
    int32_t e = n;
    if (origin + (n - 1) * dil >= limit) {
        e = limit - origin <= 0 ? 0 : (limit - origin + dil - 1) / dil;
    }
    if (e < s) {
        e = s;
    }
    *start = s;
    *end = e;
}

#endif /* DTMM_TAP_RANGE_H */
