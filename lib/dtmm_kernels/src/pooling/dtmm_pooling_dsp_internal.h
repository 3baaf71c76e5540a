/*
 * dtmm_pooling_dsp_internal.h - what the Arm DSP pooling paths share
 * (internal, static inline; only included where __ARM_FEATURE_DSP).
 *
 * Four channels per 32-bit word: sums go in two registers of int16 pairs
 * (SXTAB16 of the word and of the word rotated by 8: channels 0,2 and 1,3,
 * exact while at most 256 values are summed), maxima bytewise with
 * SSUB8 + SEL.
 */
#ifndef DTMM_POOLING_DSP_INTERNAL_H
#define DTMM_POOLING_DSP_INTERNAL_H

#include <stdint.h>
#include <string.h>

static inline __attribute__((always_inline)) uint32_t dsp_load4(const int8_t *p)
{
    uint32_t w;
    memcpy(&w, p, 4); /* one LDR: unaligned word loads are fine on v7-M/v8-M mainline */
    return w;
}

static inline __attribute__((always_inline)) void dsp_store4(int8_t *p, uint32_t w)
{
    memcpy(p, &w, 4);
}

/* even += channels 0,2 of w; odd += channels 1,3 (int16 lanes, no carry between them). */
static inline __attribute__((always_inline)) void dsp_acc4(uint32_t *even, uint32_t *odd, uint32_t w)
{
    uint32_t e = *even, o = *odd;
    __asm__("sxtab16 %0, %0, %2\n\tsxtab16 %1, %1, %2, ror #8" : "+r"(e), "+r"(o) : "r"(w));
    *even = e;
    *odd = o;
}

/* Bytewise signed max / min (SSUB8 sets GE per byte, SEL picks by it). */
static inline __attribute__((always_inline)) uint32_t dsp_max8(uint32_t a, uint32_t b)
{
    uint32_t r;
    __asm__("ssub8 %0, %1, %2\n\tsel %0, %1, %2" : "=&r"(r) : "r"(a), "r"(b) : "cc");
    return r;
}

static inline __attribute__((always_inline)) uint32_t dsp_min8(uint32_t a, uint32_t b)
{
    uint32_t r;
    __asm__("ssub8 %0, %1, %2\n\tsel %0, %2, %1" : "=&r"(r) : "r"(a), "r"(b) : "cc");
    return r;
}

/* The four sums of a channel quad, channel order. */
static inline __attribute__((always_inline)) void dsp_sums(uint32_t even, uint32_t odd, int32_t s[4])
{
    s[0] = (int16_t)(even & 0xffffu);
    s[1] = (int16_t)(odd & 0xffffu);
    s[2] = (int16_t)(even >> 16);
    s[3] = (int16_t)(odd >> 16);
}

#endif /* DTMM_POOLING_DSP_INTERNAL_H */
