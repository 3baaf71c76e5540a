/*
 * dtmm_fully_connected_s8_mve.c - int8 FULLY_CONNECTED with Helium MVE.
 *
 * The input offset is already folded into the bias (see dtmm_ops.h), so an
 * output is a plain int8 dot product.  Four weight rows run together in one
 * tail-predicated loop (WLSTP/LETP): per 16 inputs one VLDRB of the input,
 * and per row one VLDRB of weights and one VMLADAVA (16 MACs), so the input
 * vector is loaded once for four rows and in_features needs no multiple of
 * 16 (the last iteration's lanes past the end are neither read nor added).
 * The four sums are requantized together on vector lanes
 * (dtmm_mve_requantize) and stored with one narrowing VSTRB.32.  Leftover
 * rows (out_features % 4) use a one-row loop and the same vector
 * requantization on a predicated lane set.
 */
#include <stddef.h>

#include "dtmm_ops.h"

#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)

#include <arm_mve.h>

#include "../common/dtmm_fixedpoint_mve.h"

/* Arguments of dot4_rows(); sum[] receives the four dot products. */
typedef struct {
    const int8_t *x;
    const int8_t *w; /* row 0; rows 1..3 follow at stride */
    int32_t n;       /* in_features: the row stride and the loop length */
    int32_t sum[4];
} dot4_args;

/*
 * Four rows against one input.  A naked assembly function: VMLADAVA wants
 * even accumulator registers and the loop needs nine more, which inline
 * assembly cannot get at -O0 (frame pointer).  10 instructions per 16
 * inputs of four rows.
 */
__attribute__((naked, noinline)) static void dot4_rows(__attribute__((unused)) dot4_args *a)
{
    __asm__ volatile("push {r4-r11, lr}\n\t"
                     "ldm r0, {r1, r3, r5}\n\t" /* x, w0, n */
                     "add r7, r3, r5\n\t"
                     "add r9, r7, r5\n\t"
                     "add r11, r9, r5\n\t"
                     "movs r2, #0\n\t"
                     "movs r4, #0\n\t"
                     "movs r6, #0\n\t"
                     "movs r8, #0\n\t"
                     "wlstp.8 lr, r5, 2f\n\t"
                     "1:\n\t"
                     "vldrb.8 q0, [r1], #16\n\t"
                     "vldrb.8 q1, [r3], #16\n\t"
                     "vmladava.s8 r2, q0, q1\n\t"
                     "vldrb.8 q2, [r7], #16\n\t"
                     "vmladava.s8 r4, q0, q2\n\t"
                     "vldrb.8 q3, [r9], #16\n\t"
                     "vmladava.s8 r6, q0, q3\n\t"
                     "vldrb.8 q1, [r11], #16\n\t"
                     "vmladava.s8 r8, q0, q1\n\t"
                     "letp lr, 1b\n\t"
                     "2:\n\t"
                     "strd r2, r4, [r0, #12]\n\t"
                     "strd r6, r8, [r0, #20]\n\t"
                     "pop {r4-r11, pc}\n\t");
}

static inline int32_t dot1_row(const int8_t *x, const int8_t *w, int32_t n)
{
    register int32_t a0 __asm__("r0") = 0;
    __asm__ volatile("wlstp.8 lr, %[n], 2f\n\t"
                     "1:\n\t"
                     "vldrb.8 q0, [%[x]], #16\n\t"
                     "vldrb.8 q1, [%[w]], #16\n\t"
                     "vmladava.s8 %[a0], q0, q1\n\t"
                     "letp lr, 1b\n\t"
                     "2:\n\t"
                     : [a0] "+r"(a0), [x] "+r"(x), [w] "+r"(w)
                     : [n] "r"(n)
                     : "q0", "q1", "lr", "memory");
    return a0;
}

dtmm_status dtmm_fully_connected_s8_mve(const dtmm_fully_connected_s8_params *p, const int8_t *input, int8_t *output)
{
    const int32_t n_in = p->in_features;
    const int32_t n_out = p->out_features;
    const int32_t pc = p->per_channel != 0;
    const int32x4_t out_off = vdupq_n_s32(p->output_offset);
    const int32x4_t lo = vdupq_n_s32(p->act_min);
    const int32x4_t hi = vdupq_n_s32(p->act_max);
    int32x4_t mult = vdupq_n_s32(p->multiplier[0]);
    int32x4_t shift = vdupq_n_s32(p->shift[0]);
    for (int32_t b = 0; b < p->batches; ++b) {
        const int8_t *x = input + (size_t)b * (size_t)n_in;
        int8_t *y = output + (size_t)b * (size_t)n_out;
        const int8_t *w = p->weights;
        int32_t o = 0;
        for (; o + 4 <= n_out; o += 4) {
            dot4_args args = {x, w, n_in, {0, 0, 0, 0}};
            dot4_rows(&args);
            int32x4_t acc = vaddq_s32(vld1q_s32(args.sum), vldrwq_s32(p->bias + o));
            if (pc) {
                mult = vldrwq_s32(p->multiplier + o);
                shift = vldrwq_s32(p->shift + o);
            }
            acc = vaddq_s32(dtmm_mve_requantize(acc, mult, shift), out_off);
            vstrbq_s32(y + o, vminq_s32(vmaxq_s32(acc, lo), hi));
            w += 4 * (size_t)n_in;
        }
        if (o < n_out) {
            const int32_t left = n_out - o;
            const mve_pred16_t pr = vctp32q((uint32_t)left);
            int32_t sums[4] = {0, 0, 0, 0};
            for (int32_t k = 0; k < left; ++k) {
                sums[k] = dot1_row(x, w, n_in);
                w += n_in;
            }
            int32x4_t acc = vld1q_s32(sums);
            acc = vaddq_s32(acc, vldrwq_z_s32(p->bias + o, pr));
            if (pc) {
                mult = vldrwq_z_s32(p->multiplier + o, pr);
                shift = vldrwq_z_s32(p->shift + o, pr);
            }
            acc = vaddq_s32(dtmm_mve_requantize(acc, mult, shift), out_off);
            vstrbq_p_s32(y + o, vminq_s32(vmaxq_s32(acc, lo), hi), pr);
        }
    }
    return DTMM_OK;
}

#else /* no integer MVE: keep the symbol, forward to the portable path */

dtmm_status dtmm_fully_connected_s8_mve(const dtmm_fully_connected_s8_params *p, const int8_t *input, int8_t *output)
{
    return dtmm_fully_connected_s8_c(p, input, output);
}

#endif
