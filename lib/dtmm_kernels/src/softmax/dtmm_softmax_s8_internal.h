/*
 * dtmm_softmax_s8_internal.h - the scalar fixed-point pieces of TFLite's
 * int8 softmax (internal; static inline, shared by the SOFTMAX paths).
 *
 * Fixed-point formats are named Qm (m integer bits, 31 - m fraction bits,
 * int32 raw values).  The row maximum is subtracted, each difference is
 * scaled into Q5 by input_multiplier << input_left_shift, exp() of it is
 * evaluated in Q0 by gemmlowp's method (a Taylor polynomial on [-1/4, 0)
 * times exact constants exp(-2^k) for the bits above), the exps are summed in
 * Q12, the sum's reciprocal is found by Newton-Raphson, and each output is
 * exp * reciprocal shifted down to 8 bits, minus 128.
 */
#ifndef DTMM_SOFTMAX_S8_INTERNAL_H
#define DTMM_SOFTMAX_S8_INTERNAL_H

#include <stdint.h>

#include "dtmm_ops.h"
#include "../common/dtmm_fixedpoint.h"

#define Q5_FRACTION_BITS 26
#define ACCUM_INTEGER_BITS 12

/* Saturating x * 2^exponent for exponent > 0 (gemmlowp SaturatingRoundingMultiplyByPOT). */
static inline int32_t sat_shl(int32_t x, int32_t exponent)
{
    const int32_t threshold = (int32_t)(((uint32_t)1 << (31 - exponent)) - 1u);
    if (x > threshold) {
        return INT32_MAX;
    }
    if (x < -threshold) {
        return INT32_MIN;
    }
    return (int32_t)((uint32_t)x << exponent);
}

/* (a + b) / 2 rounded half away from zero, in 64 bits (gemmlowp RoundingHalfSum). */
static inline int32_t rounding_half_sum(int32_t a, int32_t b)
{
    const int64_t sum = (int64_t)a + (int64_t)b;
    const int64_t sign = sum >= 0 ? 1 : -1;
    return (int32_t)((sum + sign) / 2);
}

static inline int32_t wrap_add(int32_t a, int32_t b)
{
    return (int32_t)((uint32_t)a + (uint32_t)b);
}

static inline int32_t wrap_sub(int32_t a, int32_t b)
{
    return (int32_t)((uint32_t)a - (uint32_t)b);
}

/* exp(a) for a in [-1/4, 0), a and the result in Q0. */
static inline int32_t exp_quarter_interval(int32_t a)
{
    const int32_t exp_minus_one_eighth = 1895147668; /* exp(-1/8) in Q0 */
    const int32_t one_third = 715827883;             /* 1/3 in Q0 */
    const int32_t x = wrap_add(a, 1 << 28);           /* a + 1/8 */
    const int32_t x2 = dtmm_fp_srdhm(x, x);
    const int32_t x3 = dtmm_fp_srdhm(x2, x);
    const int32_t x4 = dtmm_fp_srdhm(x2, x2);
    const int32_t x4_over_4 = dtmm_fp_rdbp(x4, 2);
    const int32_t poly = dtmm_fp_rdbp(wrap_add(dtmm_fp_srdhm(wrap_add(x4_over_4, x3), one_third), x2), 1);
    return wrap_add(exp_minus_one_eighth, dtmm_fp_srdhm(exp_minus_one_eighth, wrap_add(x, poly)));
}

/* exp(a) for a <= 0, a in Q5, result in Q0 (gemmlowp exp_on_negative_values). */
static inline int32_t exp_on_negative_values_q5(int32_t a)
{
    static const int32_t multipliers[7] = {
        1672461947, /* exp(-1/4) */
        1302514674, /* exp(-1/2) */
        790015084,  /* exp(-1) */
        290630308,  /* exp(-2) */
        39332535,   /* exp(-4) */
        720401,     /* exp(-8) */
        242,        /* exp(-16) */
    };
    const int32_t one_quarter = 1 << (Q5_FRACTION_BITS - 2);
    const int32_t mask = one_quarter - 1;
    const int32_t a_mod_quarter_minus_one_quarter = wrap_sub(a & mask, one_quarter);
    int32_t result = exp_quarter_interval(sat_shl(a_mod_quarter_minus_one_quarter, 5)); /* Q5 -> Q0 */
    const int32_t remainder = wrap_sub(a_mod_quarter_minus_one_quarter, a);
    for (int32_t k = 0; k < 7; ++k) {
        if (remainder & (int32_t)((uint32_t)1 << (Q5_FRACTION_BITS - 2 + k))) {
            result = dtmm_fp_srdhm(result, multipliers[k]);
        }
    }
    return a == 0 ? INT32_MAX : result;
}

/* 1 / (1 + x) for x in [0, 1), Q0 in and out (gemmlowp one_over_one_plus_x_for_x_in_0_1). */
static inline int32_t one_over_one_plus_x(int32_t a)
{
    const int32_t half_denominator = rounding_half_sum(a, INT32_MAX);
    const int32_t c48_over_17 = 1515870810;       /* Q2 */
    const int32_t c_neg_32_over_17 = -1010580540; /* Q2 */
    const int32_t one_q2 = 1 << 29;
    int32_t x = wrap_add(c48_over_17, dtmm_fp_srdhm(half_denominator, c_neg_32_over_17)); /* Q2 */
    for (int32_t i = 0; i < 3; ++i) {
        const int32_t half_denominator_times_x = dtmm_fp_srdhm(half_denominator, x);         /* Q2 */
        const int32_t one_minus = wrap_sub(one_q2, half_denominator_times_x);                 /* Q2 */
        x = wrap_add(x, sat_shl(dtmm_fp_srdhm(x, one_minus), 2));                           /* Q4 -> Q2 */
    }
    return sat_shl(x, 1); /* the Q2 raw value read as Q1 is x/2 exactly; then Q1 -> Q0 */
}

static inline int32_t count_leading_zeros(uint32_t x)
{
    if (x == 0u) {
        return 32;
    }
#if defined(__GNUC__)
    return (int32_t)__builtin_clz(x);
#else
    int32_t n = 0;
    while (!(x & 0x80000000u)) {
        x <<= 1;
        n++;
    }
    return n;
#endif
}

/* 1/sum_of_exps (sum in Q12, > 0) as TFLite's GetReciprocal(sum, 12): the Q0 scale and the
 * right shift of exp * scale down to 8 bits; 0, or -1 when the exponent is out of range. */
static inline int softmax_reciprocal(int32_t sum_of_exps, int32_t *shifted_scale, int32_t *exponent)
{
    if (sum_of_exps == 0) {
        return -1; /* cannot happen: the row maximum contributes exp(0) */
    }
    const int32_t headroom_plus_one = count_leading_zeros((uint32_t)sum_of_exps);
    const int32_t num_bits_over_unit = ACCUM_INTEGER_BITS - headroom_plus_one;
    const int32_t shifted_sum_minus_one =
        (int32_t)(((uint32_t)sum_of_exps << headroom_plus_one) - ((uint32_t)1 << 31));
    *shifted_scale = one_over_one_plus_x(shifted_sum_minus_one);
    *exponent = num_bits_over_unit + 31 - 8;
    return *exponent < 0 || *exponent > 31 ? -1 : 0; /* cannot happen for depth >= 1 (TFLite checks it too) */
}

/* One row given its maximum: the exp sum, its reciprocal, the outputs (DTMM_ERR_ARGUMENT when the
 * reciprocal's exponent is out of range, which TFLite rules out too). */
static inline dtmm_status softmax_row(const dtmm_softmax_s8_params *p, const int8_t *x, int8_t *y, int32_t max_in_row)
{
    const int32_t depth = p->depth, diff_min = p->diff_min, mult = p->input_multiplier;
    const int32_t lshift = p->input_left_shift;
    int32_t sum_of_exps = 0; /* Q12 */
    for (int32_t c = 0; c < depth; ++c) {
        const int32_t diff = (int32_t)x[c] - max_in_row;
        if (diff >= diff_min) {
            const int32_t scaled = dtmm_fp_srdhm((int32_t)((uint32_t)diff << lshift), mult); /* Q5 */
            sum_of_exps = wrap_add(sum_of_exps, dtmm_fp_rdbp(exp_on_negative_values_q5(scaled),
                                                              ACCUM_INTEGER_BITS)); /* Q0 -> Q12 */
        }
    }
    int32_t shifted_scale, exponent;
    if (softmax_reciprocal(sum_of_exps, &shifted_scale, &exponent) != 0) {
        return DTMM_ERR_ARGUMENT;
    }
    for (int32_t c = 0; c < depth; ++c) {
        const int32_t diff = (int32_t)x[c] - max_in_row;
        if (diff >= diff_min) {
            const int32_t scaled = dtmm_fp_srdhm((int32_t)((uint32_t)diff << lshift), mult);
            const int32_t e = exp_on_negative_values_q5(scaled);
            const int32_t unsat = dtmm_fp_rdbp(dtmm_fp_srdhm(shifted_scale, e), exponent);
            y[c] = dtmm_fp_clamp_s8(unsat - 128, -128, 127);
        } else {
            y[c] = -128;
        }
    }
    return DTMM_OK;
}

#endif /* DTMM_SOFTMAX_S8_INTERNAL_H */
