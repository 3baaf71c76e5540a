/*
 * dtmm_fully_connected_s8_dsp.c - int8 FULLY_CONNECTED with the Arm DSP
 * extension (Cortex-M4/M7/M33).
 *
 * The input offset is folded into the bias (dtmm_ops.h): an output is a
 * plain int8 dot product.  Four bytes are loaded as one word (unaligned LDR
 * is fine on these cores) and split by SXTB16 into the even bytes and, with
 * its ROR #8 form, the odd bytes, each as two int16 lanes.  Splitting input
 * and weights the same way pairs x[0]w[0]+x[2]w[2] and x[1]w[1]+x[3]w[3],
 * so two SMLADs give the 4-term dot product with no repacking.  Four rows
 * share each split input word: per 4 inputs 3 + 4 * 5 instructions for 16
 * MACs (the four-row core is assembly).  Requantization is the scalar TFLite-exact form
 * with per-tensor parameters precomputed (dtmm_fixedpoint_pre.h).
 */
#include <stddef.h>
#include <string.h>

#include "dtmm_ops.h"

#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP && defined(__thumb2__) && defined(__GNUC__)

#include <arm_acle.h>

#include "../common/dtmm_fixedpoint.h"
#include "../common/dtmm_fixedpoint_pre.h"

static inline uint32_t load_u32(const int8_t *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* SXTB16 of the word rotated right by 8: the odd bytes (GCC folds the rotation into SXTB16). */
static inline int16x2_t sxtb16_odd(uint32_t v)
{
    return __sxtb16((v >> 8) | (v << 24));
}

static inline int32_t mac4(int32_t acc, uint32_t w, int16x2_t xe, int16x2_t xo)
{
    acc = __smlad(__sxtb16(w), xe, acc);
    return __smlad(sxtb16_odd(w), xo, acc);
}

/* Arguments of dot4_rows(); sum[] receives the four dot products. */
typedef struct {
    const int8_t *x;
    const int8_t *w;  /* row 0; rows 1..3 follow at stride */
    int32_t stride;   /* in_features */
    int32_t quads;    /* in_features / 4, >= 1 */
    int32_t sum[4];
} dot4_args;

/*
 * Four rows against one input, in_features rounded down to a multiple of 4.
 * Assembly so that all 13 live values stay in registers (C spills here):
 * per 4 inputs LDR + 2 SXTB16 for the input, LDR + 2 SXTB16 + 2 SMLAD per
 * row, SUBS + BNE: 25 instructions for 16 MACs.  Rows 1 and 3 are read
 * with a register offset from rows 0 and 2.
 */
__attribute__((naked, noinline)) static void dot4_rows(__attribute__((unused)) dot4_args *a)
{
    __asm__ volatile("push {r4-r11, lr}\n\t"
                     "ldm r0, {r1, r2, r3, lr}\n\t" /* x, w0, stride, quads */
                     "add r4, r2, r3, lsl #1\n\t"    /* w2 */
                     "movs r5, #0\n\t"
                     "movs r6, #0\n\t"
                     "movs r7, #0\n\t"
                     "movs r8, #0\n\t"
                     "1:\n\t"
                     "ldr r11, [r1], #4\n\t"
                     "sxtb16 r9, r11\n\t"
                     "sxtb16 r10, r11, ror #8\n\t"
                     "ldr r12, [r2, r3]\n\t"
                     "sxtb16 r11, r12\n\t"
                     "sxtb16 r12, r12, ror #8\n\t"
                     "smlad r6, r11, r9, r6\n\t"
                     "smlad r6, r12, r10, r6\n\t"
                     "ldr r12, [r2], #4\n\t"
                     "sxtb16 r11, r12\n\t"
                     "sxtb16 r12, r12, ror #8\n\t"
                     "smlad r5, r11, r9, r5\n\t"
                     "smlad r5, r12, r10, r5\n\t"
                     "ldr r12, [r4, r3]\n\t"
                     "sxtb16 r11, r12\n\t"
                     "sxtb16 r12, r12, ror #8\n\t"
                     "smlad r8, r11, r9, r8\n\t"
                     "smlad r8, r12, r10, r8\n\t"
                     "ldr r12, [r4], #4\n\t"
                     "sxtb16 r11, r12\n\t"
                     "sxtb16 r12, r12, ror #8\n\t"
                     "smlad r7, r11, r9, r7\n\t"
                     "smlad r7, r12, r10, r7\n\t"
                     "subs lr, lr, #1\n\t"
                     "bne 1b\n\t"
                     "add r0, r0, #16\n\t"
                     "stm r0, {r5-r8}\n\t"
                     "pop {r4-r11, pc}\n\t");
}

/* Two rows (the leftovers of out_features % 4): sum[0..1], 15 instructions per 4 inputs. */
__attribute__((naked, noinline)) static void dot2_rows(__attribute__((unused)) dot4_args *a)
{
    __asm__ volatile("push {r4-r11, lr}\n\t"
                     "ldm r0, {r1, r2, r3, lr}\n\t" /* x, w0, stride, quads */
                     "movs r5, #0\n\t"
                     "movs r6, #0\n\t"
                     "1:\n\t"
                     "ldr r11, [r1], #4\n\t"
                     "sxtb16 r9, r11\n\t"
                     "sxtb16 r10, r11, ror #8\n\t"
                     "ldr r12, [r2, r3]\n\t"
                     "sxtb16 r11, r12\n\t"
                     "sxtb16 r12, r12, ror #8\n\t"
                     "smlad r6, r11, r9, r6\n\t"
                     "smlad r6, r12, r10, r6\n\t"
                     "ldr r12, [r2], #4\n\t"
                     "sxtb16 r11, r12\n\t"
                     "sxtb16 r12, r12, ror #8\n\t"
                     "smlad r5, r11, r9, r5\n\t"
                     "smlad r5, r12, r10, r5\n\t"
                     "subs lr, lr, #1\n\t"
                     "bne 1b\n\t"
                     "strd r5, r6, [r0, #16]\n\t"
                     "pop {r4-r11, pc}\n\t");
}

/* Output o: per-tensor quantization is precomputed once (*pt), per-channel made here. */
static inline int8_t requant(const dtmm_fully_connected_s8_params *p, int32_t acc, int32_t o, const dtmm_fp_pre *pt)
{
    acc = dtmm_fp_add_wrap(acc, p->bias[o]);
    const int32_t q = p->per_channel ? o : 0;
    int32_t r;
    if (!dtmm_fp_pre_ok(p->multiplier[q])) {
        r = dtmm_fp_requantize(acc, p->multiplier[q], p->shift[q]);
    } else if (p->per_channel) {
        const dtmm_fp_pre pc = dtmm_fp_pre_make(p->multiplier[o], p->shift[o]);
        r = dtmm_fp_pre_apply(acc, &pc);
    } else {
        r = dtmm_fp_pre_apply(acc, pt);
    }
    return dtmm_fp_clamp_s8(dtmm_fp_add_wrap(r, p->output_offset), p->act_min, p->act_max);
}

dtmm_status dtmm_fully_connected_s8_dsp(const dtmm_fully_connected_s8_params *p, const int8_t *input, int8_t *output)
{
    const int32_t n_in = p->in_features;
    const int32_t n_out = p->out_features;
    const int32_t n4 = n_in & ~3;
    const dtmm_fp_pre pt = dtmm_fp_pre_make(p->multiplier[0], p->shift[0]);
    for (int32_t b = 0; b < p->batches; ++b) {
        const int8_t *x = input + (size_t)b * (size_t)n_in;
        int8_t *y = output + (size_t)b * (size_t)n_out;
        const int8_t *w = p->weights;
        int32_t o = 0;
        for (; o + 4 <= n_out; o += 4) {
            const int8_t *w0 = w, *w1 = w + n_in, *w2 = w1 + n_in, *w3 = w2 + n_in;
            int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
            if (n4 > 0) {
                dot4_args args = {x, w, n_in, n4 / 4, {0, 0, 0, 0}};
                dot4_rows(&args);
                a0 = args.sum[0];
                a1 = args.sum[1];
                a2 = args.sum[2];
                a3 = args.sum[3];
            }
            for (int32_t i = n4; i < n_in; ++i) {
                const int32_t xv = x[i];
                a0 += w0[i] * xv;
                a1 += w1[i] * xv;
                a2 += w2[i] * xv;
                a3 += w3[i] * xv;
            }
            y[o] = requant(p, a0, o, &pt);
            y[o + 1] = requant(p, a1, o + 1, &pt);
            y[o + 2] = requant(p, a2, o + 2, &pt);
            y[o + 3] = requant(p, a3, o + 3, &pt);
            w = w3 + n_in;
        }
        if (o + 2 <= n_out) {
            int32_t a0 = 0, a1 = 0;
            if (n4 > 0) {
                dot4_args args = {x, w, n_in, n4 / 4, {0, 0, 0, 0}};
                dot2_rows(&args);
                a0 = args.sum[0];
                a1 = args.sum[1];
            }
            for (int32_t i = n4; i < n_in; ++i) {
                a0 += w[i] * x[i];
                a1 += w[n_in + i] * x[i];
            }
            y[o] = requant(p, a0, o, &pt);
            y[o + 1] = requant(p, a1, o + 1, &pt);
            w += 2 * (size_t)n_in;
            o += 2;
        }
        if (o < n_out) {
            int32_t a = 0;
            for (int32_t i = 0; i < n4; i += 4) {
                const uint32_t xv = load_u32(x + i);
                a = mac4(a, load_u32(w + i), __sxtb16(xv), sxtb16_odd(xv));
            }
            for (int32_t i = n4; i < n_in; ++i) {
                a += w[i] * x[i];
            }
            y[o] = requant(p, a, o, &pt);
        }
    }
    return DTMM_OK;
}

#else /* no DSP extension: keep the symbol, forward to the portable path */

dtmm_status dtmm_fully_connected_s8_dsp(const dtmm_fully_connected_s8_params *p, const int8_t *input, int8_t *output)
{
    return dtmm_fully_connected_s8_c(p, input, output);
}

#endif
