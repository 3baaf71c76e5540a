/*
 * dtmm_conv_s8_mve_with.c - Helium (MVE) filterlet int8 convolution, Cortex-M55/M85: the path,
 * its inner kernels and their variant objects (dtmm_conv_variants.h).
 *
 * Scratch layout and the choice of kernel / row arrangement:
 * dtmm_conv_mve_internal.h.  In short:
 *
 *  Setup, once per call, O(n_kept*cin/16 + cout):
 *   - the input offset leaves the inner loop: every tap reads a real int8
 *     (taps outside the input read the input zero point, x + input_offset =
 *     0 there), so sum w*(x+off) = sum w*x + off*sum(w) and the second term
 *     joins the bias, once per filter (one pass over the kept weights);
 *   - a "record" per filter - that accumulator init four times, its weight
 *     pointer, its list of kept positions (byte offsets from the block's
 *     first input pixel), multiplier, shift, count - for one LDM.
 *
 *  Output pixels go in blocks of 4 horizontally adjacent pixels; per block
 *  an inline-assembly kernel runs every filter:
 *   - per kept filterlet: one VLDRB of 16 weights, then VLDRB + VMLADAVA.S8
 *     (16 MACs) for each of the 4 pixels, the pixels at immediate offsets;
 *     a low-overhead loop (LE) over the filter's kept positions only;
 *   - the 4 accumulators are requantized as one vector, bit-exact with
 *     TFLite's MultiplyByQuantizedMultiplier (double rounding):
 *         f = acc >> 31          (left shifts: f = (acc<<l) * flag, VQDMULH)
 *         y = VQRDMLAH(f, acc, m) = SRDHM(acc, m) - (acc < 0)
 *         y = VRSHL(y, -right)    = RoundingDivideByPOT(SRDHM(acc, m), right)
 *     (VRSHL rounds halves up, RoundingDivideByPOT away from zero; the -1
 *     for negative accumulators turns one into the other and changes
 *     nothing else, right >= 1 whenever it is applied);
 *   - "quad" kernels (cin 16/32/64 filterlet rows, pixel steps 16/32/64,
 *     every shift <= -1, cout <= 64): 4 filters per group, narrowed
 *     32->16->8 into one vector, one scatter store of 16 bytes; "pair"
 *     kernels (same rows, any shift or cout): 2 filters per group, one
 *     8-lane store; groups carry their output offsets, so filters with
 *     nothing kept leave the groups (their constant outputs are stored per
 *     block from precomputed values) and a quad kernel runs its 1..3
 *     leftover live filters one at a time; the "generic" kernel takes any
 *     cin (16-byte chunks plus a tail-predicated remainder), one filter at
 *     a time, 4 input pointers per position from a per-block table; a
 *     row's last 1 or 2 pixels run its row-tail kernel (gen_tail, same
 *     records and table, no read past the row), other partial blocks a
 *     whole block through a temporary;
 *   - cin < 16 with kh*kw*cin <= 64 ("patch mode"): each pixel's receptive
 *     field is gathered into a contiguous row (byte gathers when the offsets
 *     fit a byte, else copies), the weights expanded to dense rows of the
 *     same pitch, and the layer runs as a 1x1 conv over the patch rows.
 *
 *  Input rows: without padding straight from the input; with padding from
 *  a zero-point padded window of consecutive rows (each row copied once,
 *  the window compacted when full); per-block padded patches when the
 *  window would be too large.  Kernels with kh*kw > 32 take the
 *  element-list kernel (elem_conv() below: per-pixel int8 receptive fields,
 *  each filter a list of chunks of its kept weights read with byte gathers),
 *  or the portable path when its scratch would exceed
 *  DTMM_MVE_ELEM_SCRATCH_MAX.
 */
#include <stddef.h>

#include "dtmm_kernels.h"

#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)

#include <arm_mve.h>

#include "../common/dtmm_cold.h"
#include "../common/dtmm_fixedpoint.h"
#include "dtmm_conv_kept_walk.h"
#include "dtmm_conv_mve_internal.h"

/* What the assembly kernels read (offsets are hard-coded there). */
typedef struct {
    const uint32_t *rec; /* 0: first filter record; a record with count 0 ends the list */
    const void *tab;     /* 4: group kernels: input of the first block; generic: its pointer table */
    int8_t *out;         /* 8: output of the first block's first pixel, channel 0 */
    int32_t out_off;     /* 12 */
    int32_t act_min;     /* 16 */
    int32_t act_max;     /* 20 */
    const void *qoff;    /* 24: scatter offsets of the output lanes */
    uint32_t tail;       /* 28: generic kernel: cin % 16 */
    uint32_t n_blocks;   /* 32: blocks in this call (>= 1) */
    uint32_t tab_stride; /* 36: added to tab per block */
    uint32_t out_adv;    /* 40: output bytes from the end of a block's channels to the next block */
    uint32_t chunks;     /* 44: gen_loop: 16-byte chunks per filterlet, as ceil(chunks/2) << 1 | chunks odd */
    uint32_t cin;        /* 48: the generic row tail: bytes per filterlet */
    uint32_t tail_px;    /* 52: the generic row tail: its pixels (1 or 2) */
} mve_args;

/* An inner kernel (a variant's `kernel`): its argument is a const mve_args *. */
typedef void (*mve_kernel_fn)(const void *a);

/* ---- assembly building blocks ------------------------------------------- */

/*
 * Group kernels ("quad": 4 filters, "pair": 2 filters per group), for cin
 * 16/32/64-byte filterlet rows whose 4 pixels sit at immediate offsets.
 * Registers:
 *   r0 r2 r4 r6  accumulators of pixels 0..3 (VMLADAVA needs even registers)
 *   r1 weights, r3 list of kept positions as byte offsets (u16) from the
 *   block's first pixel, r5 that pixel's input, r7 input pointer,
 *   r8 multiplier, r9 -right shift, r10 record stream, r11 block output,
 *   r12 output offset (second input pointer for the 64-byte step, the
 *   offset then comes from the stack), lr kept-position count (LE counter).
 * Stack: [sp, #0] accumulator slot (16 bytes), [sp, #16] record stream,
 * [sp, #20] output end, [sp, #24] block step, [sp, #28] output advance,
 * [sp, #32] output offset.
 *
 * Record stream, per group: the filters' records (b, wp, b, lst, b, b, mult,
 * -right, count [, left, flag]) then the group's 16 bytes of output
 * offsets; a record with count 0 ends the groups: its wp word is the number
 * of constant groups that follow (filters with nothing kept: 16 bytes of
 * values, 16 bytes of offsets each); quad kernels then read their leftover
 * live filters (record + 16 bytes of offsets each) up to another record
 * with count 0.
 */
#define MVE_REC_LOAD9 "ldm r10!, {r0, r1, r2, r3, r4, r6, r8, r9, lr}\n\t"

/* Per kept filterlet: its input pointer, then NCH 16-byte chunks. */
#define MVE_POS_HEAD                                                                               \
    "1:\n\t"                                                                                       \
    "ldrh r7, [r3], #2\n\t"                                                                        \
    "add r7, r5, r7\n\t"
#define MVE_POS_HEAD64 MVE_POS_HEAD "add r12, r7, #128\n\t"
/* pixel step S (16 or 32): pixels at r7 + k*S */
#define MVE_CHUNK(S, C)                                                                            \
    "vldrb.8 q0, [r1], #16\n\t"                                                                    \
    "vldrb.8 q1, [r7, #(" C ")]\n\t"                                                               \
    "vmladava.s8 r0, q0, q1\n\t"                                                                   \
    "vldrb.8 q1, [r7, #(" S "+" C ")]\n\t"                                                         \
    "vmladava.s8 r2, q0, q1\n\t"                                                                   \
    "vldrb.8 q1, [r7, #(2*" S "+" C ")]\n\t"                                                       \
    "vmladava.s8 r4, q0, q1\n\t"                                                                   \
    "vldrb.8 q1, [r7, #(3*" S "+" C ")]\n\t"                                                       \
    "vmladava.s8 r6, q0, q1\n\t"
/* pixel step 64: pixels 0, 1 at r7 + {0, 64}, pixels 2, 3 at r12 = r7 + 128 */
#define MVE_CHUNK64(C)                                                                             \
    "vldrb.8 q0, [r1], #16\n\t"                                                                    \
    "vldrb.8 q1, [r7, #(" C ")]\n\t"                                                               \
    "vmladava.s8 r0, q0, q1\n\t"                                                                   \
    "vldrb.8 q1, [r7, #(64+" C ")]\n\t"                                                            \
    "vmladava.s8 r2, q0, q1\n\t"                                                                   \
    "vldrb.8 q1, [r12, #(" C ")]\n\t"                                                              \
    "vmladava.s8 r4, q0, q1\n\t"                                                                   \
    "vldrb.8 q1, [r12, #(64+" C ")]\n\t"                                                           \
    "vmladava.s8 r6, q0, q1\n\t"
#define MVE_POS_END "le lr, 1b\n\t"

#define MVE_POS_16_S16 MVE_POS_HEAD MVE_CHUNK("16", "0") MVE_POS_END
#define MVE_POS_16_S32 MVE_POS_HEAD MVE_CHUNK("32", "0") MVE_POS_END
#define MVE_POS_32_S32 MVE_POS_HEAD MVE_CHUNK("32", "0") MVE_CHUNK("32", "16") MVE_POS_END
#define MVE_POS_32_S64 MVE_POS_HEAD64 MVE_CHUNK64("0") MVE_CHUNK64("16") MVE_POS_END
#define MVE_POS_64_S64                                                                             \
    MVE_POS_HEAD64 MVE_CHUNK64("0") MVE_CHUNK64("16") MVE_CHUNK64("32") MVE_CHUNK64("48") MVE_POS_END
/* output offset into r12 where the loop used it as a pointer */
#define MVE_OFF_KEEP ""
#define MVE_OFF_LOAD "ldr r12, [sp, #32]\n\t"

/*
 * The 4 accumulators as one vector in q2 (lane k = pixel k), through the
 * 16-byte stack slot at [sp]: STM stores ascending registers at ascending
 * addresses, so the lane order is unambiguous.
 */
#define MVE_ACC_TO_Q2                                                                              \
    "stm sp, {r0, r2, r4, r6}\n\t"                                                                 \
    "vldrw.u32 q2, [sp]\n\t"

/*
 * Requantize the accumulators into D, bit-exact TFLite double rounding:
 * FAST needs every shift <= -1; GEN handles any shift (records carry left
 * and a flag that enables the fix-up only when right > 0).
 */
#define MVE_REQ_FAST(D)                                                                            \
    MVE_ACC_TO_Q2                                                                                  \
    "vshr.s32 " D ", q2, #31\n\t"                                                                  \
    "vqrdmlah.s32 " D ", q2, r8\n\t"                                                               \
    "vrshl.s32 " D ", r9\n\t"
#define MVE_REQ_GEN(D)                                                                             \
    "ldrd r7, lr, [r10], #8\n\t" MVE_ACC_TO_Q2 "vshl.s32 q2, r7\n\t"                               \
    "vqdmulh.s32 " D ", q2, lr\n\t"                                                                \
    "vqrdmlah.s32 " D ", q2, r8\n\t"                                                               \
    "vrshl.s32 " D ", r9\n\t"

#define MVE_GROUP_PROLOGUE_HEAD                                                                    \
    "push {r4-r11, lr}\n\t"                                                                        \
    "sub sp, sp, #48\n\t"                                                                          \
    "ldr r1, [r0, #0]\n\t"                                                                         \
    "str r1, [sp, #16]\n\t"                                                                        \
    "ldr r1, [r0, #36]\n\t"                                                                        \
    "str r1, [sp, #24]\n\t"                                                                        \
    "ldr r7, [r0, #40]\n\t"                                                                        \
    "str r7, [sp, #28]\n\t"                                                                        \
    "ldr r12, [r0, #12]\n\t"                                                                       \
    "str r12, [sp, #32]\n\t"                                                                       \
    "ldr r5, [r0, #4]\n\t"                                                                         \
    "ldr r11, [r0, #8]\n\t"                                                                        \
    "ldr r1, [r0, #32]\n\t"                                                                        \
    "mla r1, r1, r7, r11\n\t"                                                                      \
    "str r1, [sp, #20]\n\t"                                                                        \
    "ldr r1, [r0, #16]\n\t"                                                                        \
    "vdup.16 q6, r1\n\t"                                                                           \
    "ldr r1, [r0, #20]\n\t"                                                                        \
    "vdup.16 q7, r1\n\t"                                                                           \
    "movw r1, #0x1111\n\t"                                                                         \
    "vmsr p0, r1\n\t"
#define MVE_GROUP_PROLOGUE                                                                         \
    MVE_GROUP_PROLOGUE_HEAD                                                                        \
    "3:\n\t"                                                                                       \
    "ldr r10, [sp, #16]\n\t" MVE_REC_LOAD9

/* After the groups of a block (r1 = constant groups): their stores. */
#define MVE_GROUP_CONSTS(CONST_GROUP)                                                              \
    "cbz r1, 6f\n\t"                                                                               \
    "5:\n\t" CONST_GROUP "subs r1, r1, #1\n\t"                                                     \
    "bne 5b\n\t"                                                                                   \
    "6:\n\t"

/* Next block: input and output forward, until the output end. */
#define MVE_GROUP_NEXT_BLOCK                                                                       \
    "ldrd r7, r8, [sp, #24]\n\t"                                                                   \
    "add r5, r5, r7\n\t"                                                                           \
    "add r11, r11, r8\n\t"                                                                         \
    "ldr r7, [sp, #20]\n\t"                                                                        \
    "cmp r11, r7\n\t"                                                                              \
    "bne 3b\n\t"                                                                                   \
    "add sp, sp, #48\n\t"                                                                          \
    "pop {r4-r11, lr}\n\t"

#define MVE_CLOBBERS                                                                               \
    "r1", "r2", "r3", "r12", "memory", "cc", "d0", "d1", "d2", "d3", "d4", "d5", "d6", "d7", "d8",  \
        "d9", "d10", "d11", "d12", "d13", "d14", "d15"

/*
 * Quad: A, B narrowed into q5 (int16 lanes A0 B0 A1 B1 ..), C, D into q3,
 * output offset added in int16, then 16 -> 8 into q4 (bytes alternate q5 /
 * q3 lanes) and one scatter store of 16 bytes (offsets then in q5).  FULL: the clamp is
 * [-128, 127], i.e. the saturating narrowing; else vmax/vmin first.
 */
#define MVE_QUAD_CLAMP_NONE ""
#define MVE_QUAD_CLAMP_S16                                                                         \
    "vmax.s16 q5, q5, q6\n\t"                                                                      \
    "vmin.s16 q5, q5, q7\n\t"                                                                      \
    "vmax.s16 q3, q3, q6\n\t"                                                                      \
    "vmin.s16 q3, q3, q7\n\t"
/*
 * Quad leftovers (live filters beyond a multiple of 4): after the constant
 * groups, records + offsets until a record with count 0; one filter at a
 * time, its 4 pixels land in bytes 0, 4, 8, 12 after the two narrowings,
 * stored under the predicate P0 = 0x1111 set once per call.
 */
#define MVE_QUAD_SINGLES(POS, OFF, CLAMP1)                                                         \
    MVE_REC_LOAD9 "wls lr, lr, 7f\n\t" /* no leftover: to 7 (lr = count stays otherwise) */        \
    "8:\n\t" POS MVE_REQ_FAST("q3") "vqmovnb.s32 q4, q3\n\t" OFF "vqadd.s16 q4, q4, r12\n\t"     \
        CLAMP1 "vqmovnb.s16 q3, q4\n\t"                                                          \
    "vldrb.u8 q5, [r10], #16\n\t"                                                                  \
    "vpst\n\t"                                                                                     \
    "vstrbt.8 q3, [r11, q5]\n\t" MVE_REC_LOAD9 "cmp lr, #0\n\t"                                   \
    "bne 8b\n\t"                                                                                   \
    "7:\n\t"
#define MVE_QUAD_CLAMP1_NONE ""
#define MVE_QUAD_CLAMP1_S16                                                                        \
    "vmax.s16 q4, q4, q6\n\t"                                                                      \
    "vmin.s16 q4, q4, q7\n\t"
#define MVE_QUAD_CONST                                                                             \
    "vldrw.u32 q3, [r10], #16\n\t"                                                                 \
    "vldrb.u8 q5, [r10], #16\n\t"                                                                  \
    "vstrb.8 q3, [r11, q5]\n\t"
#define MVE_DEFINE_QUAD_KERNEL(NAME, POS, OFF, CLAMP, SINGLES)                                      \
    static __attribute__((noinline)) void NAME(const void *args)                                   \
    {                                                                                              \
        register const mve_args *r0_args __asm__("r0") = args;                                     \
        __asm__ volatile(MVE_GROUP_PROLOGUE "2:\n\t" POS MVE_REQ_FAST("q3") MVE_REC_LOAD9 POS      \
                             MVE_REQ_FAST("q4") "vqmovnb.s32 q5, q3\n\t"                           \
                                                "vqmovnt.s32 q5, q4\n\t" OFF                       \
                                                "vqadd.s16 q5, q5, r12\n\t" MVE_REC_LOAD9 POS      \
                                 MVE_REQ_FAST("q4") MVE_REC_LOAD9 POS MVE_REQ_FAST("q1")           \
                                     "vqmovnb.s32 q3, q4\n\t"                                      \
                                     "vqmovnt.s32 q3, q1\n\t" OFF "vqadd.s16 q3, q3, r12\n\t" CLAMP \
                                     "vqmovnb.s16 q4, q5\n\t"                                      \
                                     "vqmovnt.s16 q4, q3\n\t"                                      \
                                     "vldrb.u8 q5, [r10], #16\n\t"                                 \
                                     "vstrb.8 q4, [r11, q5]\n\t" MVE_REC_LOAD9 "cmp lr, #0\n\t"    \
                                     "bne 2b\n\t"                                                  \
                                     "9:\n\t" MVE_GROUP_CONSTS(MVE_QUAD_CONST)                     \
                                         SINGLES MVE_GROUP_NEXT_BLOCK                               \
                         : "+r"(r0_args)                                                           \
                         :                                                                         \
                         : MVE_CLOBBERS);                                                          \
    }

/* Pair: any shifts (11-word records), any clamp, 16-bit scatter offsets (any cout). */
#define MVE_PAIR_CONST                                                                             \
    "vldrw.u32 q3, [r10], #16\n\t"                                                                 \
    "vldrh.u16 q5, [r10], #16\n\t"                                                                 \
    "vstrb.16 q3, [r11, q5]\n\t"
#define MVE_DEFINE_PAIR_KERNEL(NAME, POS, OFF)                                                     \
    static __attribute__((noinline)) void NAME(const void *args)                                   \
    {                                                                                              \
        register const mve_args *r0_args __asm__("r0") = args;                                     \
        __asm__ volatile(MVE_GROUP_PROLOGUE "2:\n\t" POS MVE_REQ_GEN("q3") MVE_REC_LOAD9 POS       \
                             MVE_REQ_GEN("q4") "vqmovnb.s32 q2, q3\n\t"                            \
                                               "vqmovnt.s32 q2, q4\n\t" OFF                        \
                                               "vqadd.s16 q2, q2, r12\n\t"                         \
                                               "vmax.s16 q2, q2, q6\n\t"                           \
                                               "vmin.s16 q2, q2, q7\n\t"                           \
                                               "vldrh.u16 q5, [r10], #16\n\t"                      \
                                               "vstrb.16 q2, [r11, q5]\n\t" MVE_REC_LOAD9          \
                                               "cmp lr, #0\n\t"                                    \
                                               "bne 2b\n\t"                                        \
                                               "9:\n\t" MVE_GROUP_CONSTS(MVE_PAIR_CONST)           \
                                                   MVE_GROUP_NEXT_BLOCK                            \
                         : "+r"(r0_args)                                                           \
                         :                                                                         \
                         : MVE_CLOBBERS);                                                          \
    }

/* without the leftover code (live filters a multiple of 4), and with it (_l) */
MVE_DEFINE_QUAD_KERNEL(quad16_s16_full, MVE_POS_16_S16, MVE_OFF_KEEP, MVE_QUAD_CLAMP_NONE, "")
MVE_DEFINE_QUAD_KERNEL(quad16_s16_clamp, MVE_POS_16_S16, MVE_OFF_KEEP, MVE_QUAD_CLAMP_S16, "")
MVE_DEFINE_QUAD_KERNEL(quad16_s32_full, MVE_POS_16_S32, MVE_OFF_KEEP, MVE_QUAD_CLAMP_NONE, "")
MVE_DEFINE_QUAD_KERNEL(quad16_s32_clamp, MVE_POS_16_S32, MVE_OFF_KEEP, MVE_QUAD_CLAMP_S16, "")
MVE_DEFINE_QUAD_KERNEL(quad32_s32_full, MVE_POS_32_S32, MVE_OFF_KEEP, MVE_QUAD_CLAMP_NONE, "")
MVE_DEFINE_QUAD_KERNEL(quad32_s32_clamp, MVE_POS_32_S32, MVE_OFF_KEEP, MVE_QUAD_CLAMP_S16, "")
MVE_DEFINE_QUAD_KERNEL(quad32_s64_full, MVE_POS_32_S64, MVE_OFF_LOAD, MVE_QUAD_CLAMP_NONE, "")
MVE_DEFINE_QUAD_KERNEL(quad32_s64_clamp, MVE_POS_32_S64, MVE_OFF_LOAD, MVE_QUAD_CLAMP_S16, "")
MVE_DEFINE_QUAD_KERNEL(quad64_s64_full, MVE_POS_64_S64, MVE_OFF_LOAD, MVE_QUAD_CLAMP_NONE, "")
MVE_DEFINE_QUAD_KERNEL(quad64_s64_clamp, MVE_POS_64_S64, MVE_OFF_LOAD, MVE_QUAD_CLAMP_S16, "")
MVE_DEFINE_QUAD_KERNEL(quad16_s16_full_l, MVE_POS_16_S16, MVE_OFF_KEEP, MVE_QUAD_CLAMP_NONE, MVE_QUAD_SINGLES(MVE_POS_16_S16, MVE_OFF_KEEP, MVE_QUAD_CLAMP1_NONE))
MVE_DEFINE_QUAD_KERNEL(quad16_s16_clamp_l, MVE_POS_16_S16, MVE_OFF_KEEP, MVE_QUAD_CLAMP_S16, MVE_QUAD_SINGLES(MVE_POS_16_S16, MVE_OFF_KEEP, MVE_QUAD_CLAMP1_S16))
MVE_DEFINE_QUAD_KERNEL(quad16_s32_full_l, MVE_POS_16_S32, MVE_OFF_KEEP, MVE_QUAD_CLAMP_NONE, MVE_QUAD_SINGLES(MVE_POS_16_S32, MVE_OFF_KEEP, MVE_QUAD_CLAMP1_NONE))
MVE_DEFINE_QUAD_KERNEL(quad16_s32_clamp_l, MVE_POS_16_S32, MVE_OFF_KEEP, MVE_QUAD_CLAMP_S16, MVE_QUAD_SINGLES(MVE_POS_16_S32, MVE_OFF_KEEP, MVE_QUAD_CLAMP1_S16))
MVE_DEFINE_QUAD_KERNEL(quad32_s32_full_l, MVE_POS_32_S32, MVE_OFF_KEEP, MVE_QUAD_CLAMP_NONE, MVE_QUAD_SINGLES(MVE_POS_32_S32, MVE_OFF_KEEP, MVE_QUAD_CLAMP1_NONE))
MVE_DEFINE_QUAD_KERNEL(quad32_s32_clamp_l, MVE_POS_32_S32, MVE_OFF_KEEP, MVE_QUAD_CLAMP_S16, MVE_QUAD_SINGLES(MVE_POS_32_S32, MVE_OFF_KEEP, MVE_QUAD_CLAMP1_S16))
MVE_DEFINE_QUAD_KERNEL(quad32_s64_full_l, MVE_POS_32_S64, MVE_OFF_LOAD, MVE_QUAD_CLAMP_NONE, MVE_QUAD_SINGLES(MVE_POS_32_S64, MVE_OFF_LOAD, MVE_QUAD_CLAMP1_NONE))
MVE_DEFINE_QUAD_KERNEL(quad32_s64_clamp_l, MVE_POS_32_S64, MVE_OFF_LOAD, MVE_QUAD_CLAMP_S16, MVE_QUAD_SINGLES(MVE_POS_32_S64, MVE_OFF_LOAD, MVE_QUAD_CLAMP1_S16))
MVE_DEFINE_QUAD_KERNEL(quad64_s64_full_l, MVE_POS_64_S64, MVE_OFF_LOAD, MVE_QUAD_CLAMP_NONE, MVE_QUAD_SINGLES(MVE_POS_64_S64, MVE_OFF_LOAD, MVE_QUAD_CLAMP1_NONE))
MVE_DEFINE_QUAD_KERNEL(quad64_s64_clamp_l, MVE_POS_64_S64, MVE_OFF_LOAD, MVE_QUAD_CLAMP_S16, MVE_QUAD_SINGLES(MVE_POS_64_S64, MVE_OFF_LOAD, MVE_QUAD_CLAMP1_S16))
MVE_DEFINE_PAIR_KERNEL(pair16_s16, MVE_POS_16_S16, MVE_OFF_KEEP)
MVE_DEFINE_PAIR_KERNEL(pair16_s32, MVE_POS_16_S32, MVE_OFF_KEEP)
MVE_DEFINE_PAIR_KERNEL(pair32_s32, MVE_POS_32_S32, MVE_OFF_KEEP)
MVE_DEFINE_PAIR_KERNEL(pair32_s64, MVE_POS_32_S64, MVE_OFF_LOAD)
MVE_DEFINE_PAIR_KERNEL(pair64_s64, MVE_POS_64_S64, MVE_OFF_LOAD)

/*
 * pg kernels (patch mode by byte gathers): quad groups like the quad kernels, but a filter's
 * kept weights are chunks of 16 (weights, then their byte offsets from the pixel's tap (0, 0);
 * unused lanes: weight 0, offset 0) gathered from the rows for each of the 4 pixels, at r5, r3,
 * r7, r12 = r5 + k*step (args cin word).  Records (8 words): b, wp, b, b, b, mult, -right,
 * chunks; no leftover code (the driver completes the last group).  Per chunk 11 instructions.
 */
#define MVE_PG_LOAD "ldm r10!, {r0, r1, r2, r4, r6, r8, r9, lr}\n\t"
#define MVE_PG_POS                                                                                 \
    "1:\n\t"                                                                                       \
    "vldrb.u8 q2, [r1, #16]\n\t"                                                                   \
    "vldrb.8 q0, [r1], #32\n\t"                                                                    \
    "vldrb.u8 q1, [r5, q2]\n\t"                                                                    \
    "vmladava.s8 r0, q0, q1\n\t"                                                                   \
    "vldrb.u8 q1, [r3, q2]\n\t"                                                                    \
    "vmladava.s8 r2, q0, q1\n\t"                                                                   \
    "vldrb.u8 q1, [r7, q2]\n\t"                                                                    \
    "vmladava.s8 r4, q0, q1\n\t"                                                                   \
    "vldrb.u8 q1, [r12, q2]\n\t"                                                                   \
    "vmladava.s8 r6, q0, q1\n\t"                                                                   \
    "le lr, 1b\n\t"
/* the output offset: full (no clamp) keeps it in q7 (int16 lanes, set once), clamp loads it into r9 */
#define MVE_PG_OFF_FULL(Q) "vqadd.s16 " Q ", " Q ", q7\n\t"
#define MVE_PG_OFF_CLAMP(Q) "ldr r9, [sp, #32]\n\tvqadd.s16 " Q ", " Q ", r9\n\t"
#define MVE_PG_INIT_FULL "ldr r1, [sp, #32]\n\tvdup.16 q7, r1\n\t"
#define MVE_DEFINE_PG_KERNEL(NAME, CLAMP, OFF, INIT)                                               \
    static __attribute__((noinline)) void NAME(const void *args)                                   \
    {                                                                                              \
        register const mve_args *r0_args __asm__("r0") = args;                                     \
        __asm__ volatile(MVE_GROUP_PROLOGUE_HEAD INIT "ldr r1, [r0, #48]\n\t"                      \
                                                 "str r1, [sp, #36]\n\t"                           \
                                                 "3:\n\t"                                          \
                                                 "ldr r10, [sp, #16]\n\t"                          \
                                                 "ldr r3, [sp, #36]\n\t"                           \
                                                 "add r7, r5, r3, lsl #1\n\t"                      \
                                                 "add r12, r7, r3\n\t"                             \
                                                 "add r3, r5, r3\n\t" MVE_PG_LOAD                  \
                         "2:\n\t" MVE_PG_POS MVE_REQ_FAST("q3") MVE_PG_LOAD MVE_PG_POS             \
                             MVE_REQ_FAST("q4") "vqmovnb.s32 q5, q3\n\t"                           \
                                                "vqmovnt.s32 q5, q4\n\t" OFF("q5") MVE_PG_LOAD     \
                                                    MVE_PG_POS                                     \
                                 MVE_REQ_FAST("q4") MVE_PG_LOAD MVE_PG_POS MVE_REQ_FAST("q1")      \
                                     "vqmovnb.s32 q3, q4\n\t"                                      \
                                     "vqmovnt.s32 q3, q1\n\t" OFF("q3")                         \
                                         CLAMP "vqmovnb.s16 q4, q5\n\t"                            \
                                               "vqmovnt.s16 q4, q3\n\t"                            \
                                               "vldrb.u8 q5, [r10], #16\n\t"                       \
                                               "vstrb.8 q4, [r11, q5]\n\t" MVE_PG_LOAD             \
                                               "cmp lr, #0\n\t"                                    \
                                               "bne 2b\n\t"                                        \
                                               "9:\n\t" MVE_GROUP_CONSTS(MVE_QUAD_CONST)           \
                                                   MVE_GROUP_NEXT_BLOCK                            \
                         : "+r"(r0_args)                                                           \
                         :                                                                         \
                         : MVE_CLOBBERS);                                                          \
    }
MVE_DEFINE_PG_KERNEL(pg_full, MVE_QUAD_CLAMP_NONE, MVE_PG_OFF_FULL, MVE_PG_INIT_FULL)
MVE_DEFINE_PG_KERNEL(pg_clamp, MVE_QUAD_CLAMP_S16, MVE_PG_OFF_CLAMP, "")

/*
 * Generic kernel, one filter at a time.  Records: b, wp, b, lst, b, b, count,
 * multiplier, -right, left, flag.  Per position the 4 pixel pointers come
 * from a 16-byte table entry (r7 r8 r9 r12); r11 holds cin % 16, VPR.P0 its
 * tail predicate.  Stack: [sp, #0] accumulator slot, [sp, #16] output,
 * [sp, #20] output offset, [sp, #24] chunks and [sp, #28] positions left
 * (loop variant), [sp, #32] first record, [sp, #36] blocks left, [sp, #40]
 * table stride, [sp, #44] output advance.
 */
#define MVE_G_CHUNK                                                                                \
    "vldrb.8 q0, [r1], #16\n\t"                                                                    \
    "vldrb.8 q1, [r7], #16\n\t"                                                                    \
    "vmladava.s8 r0, q0, q1\n\t"                                                                   \
    "vldrb.8 q1, [r8], #16\n\t"                                                                    \
    "vmladava.s8 r2, q0, q1\n\t"                                                                   \
    "vldrb.8 q1, [r9], #16\n\t"                                                                    \
    "vmladava.s8 r4, q0, q1\n\t"                                                                   \
    "vldrb.8 q1, [r12], #16\n\t"                                                                   \
    "vmladava.s8 r6, q0, q1\n\t"
#define MVE_G_TAIL                                                                                 \
    "vpstttt\n\t"                                                                                  \
    "vldrbt.8 q0, [r1]\n\t"                                                                        \
    "vldrbt.8 q1, [r7]\n\t"                                                                        \
    "vldrbt.8 q2, [r8]\n\t"                                                                        \
    "vldrbt.8 q3, [r9]\n\t"                                                                        \
    "vmladava.s8 r0, q0, q1\n\t"                                                                   \
    "vmladava.s8 r2, q0, q2\n\t"                                                                   \
    "vmladava.s8 r4, q0, q3\n\t"                                                                   \
    "vpst\n\t"                                                                                     \
    "vldrbt.8 q1, [r12]\n\t"                                                                       \
    "vmladava.s8 r6, q0, q1\n\t"                                                                   \
    "add r1, r1, r11\n\t"
#define MVE_G_REC_LOAD "ldm r10!, {r0, r1, r2, r3, r4, r6, lr}\n\t"
#define MVE_G_PROLOGUE                                                                             \
    "push {r4-r11, lr}\n\t"                                                                        \
    "sub sp, sp, #48\n\t"                                                                          \
    "ldr r1, [r0, #8]\n\t"                                                                         \
    "str r1, [sp, #16]\n\t"                                                                        \
    "ldr r1, [r0, #12]\n\t"                                                                        \
    "str r1, [sp, #20]\n\t"                                                                        \
    "ldr r1, [r0, #0]\n\t"                                                                         \
    "str r1, [sp, #32]\n\t"                                                                        \
    "ldr r1, [r0, #32]\n\t"                                                                        \
    "str r1, [sp, #36]\n\t"                                                                        \
    "ldr r1, [r0, #36]\n\t"                                                                        \
    "str r1, [sp, #40]\n\t"                                                                        \
    "ldr r1, [r0, #40]\n\t"                                                                        \
    "str r1, [sp, #44]\n\t"                                                                        \
    "ldr r5, [r0, #4]\n\t"                                                                         \
    "ldr r1, [r0, #24]\n\t"                                                                        \
    "vldrw.u32 q5, [r1]\n\t"                                                                       \
    "ldr r1, [r0, #16]\n\t"                                                                        \
    "vdup.32 q6, r1\n\t"                                                                           \
    "ldr r1, [r0, #20]\n\t"                                                                        \
    "vdup.32 q7, r1\n\t"                                                                           \
    "ldr r11, [r0, #28]\n\t"                                                                       \
    "vctp.8 r11\n\t"                                                                               \
    "4:\n\t"                                                                                       \
    "ldr r10, [sp, #32]\n\t" MVE_G_REC_LOAD
#define MVE_G_POS_HEAD                                                                             \
    "ldrb r7, [r3], #1\n\t"                                                                        \
    "add r7, r5, r7, lsl #4\n\t"                                                                   \
    "ldm r7, {r7, r8, r9, r12}\n\t"
#define MVE_G_FINISH                                                                               \
    "ldm r10!, {r7, r8, r9, r12}\n\t" MVE_ACC_TO_Q2 "vshl.s32 q2, r9\n\t"                          \
    "vqdmulh.s32 q3, q2, r12\n\t"                                                                  \
    "vqrdmlah.s32 q3, q2, r7\n\t"                                                                  \
    "vrshl.s32 q3, r8\n\t"                                                                         \
    "ldrd r7, r8, [sp, #16]\n\t"                                                                   \
    "vqadd.s32 q3, q3, r8\n\t"                                                                     \
    "vmax.s32 q3, q3, q6\n\t"                                                                      \
    "vmin.s32 q3, q3, q7\n\t"                                                                      \
    "vstrb.32 q3, [r7, q5]\n\t"                                                                    \
    "adds r7, r7, #1\n\t"                                                                          \
    "str r7, [sp, #16]\n\t" MVE_G_REC_LOAD "cmp lr, #0\n\t"                                        \
    "bne 2b\n\t"                                                                                   \
    "ldrd r7, r8, [sp, #40]\n\t"                                                                   \
    "add r5, r5, r7\n\t"                                                                           \
    "ldr r7, [sp, #16]\n\t"                                                                        \
    "add r7, r7, r8\n\t"                                                                           \
    "str r7, [sp, #16]\n\t"                                                                        \
    "ldr r7, [sp, #36]\n\t"                                                                        \
    "subs r7, r7, #1\n\t"                                                                          \
    "str r7, [sp, #36]\n\t"                                                                        \
    "bne 4b\n\t"                                                                                   \
    "add sp, sp, #48\n\t"                                                                          \
    "pop {r4-r11, lr}\n\t"

#define MVE_DEFINE_G_KERNEL(NAME, BODY)                                                            \
    static __attribute__((noinline)) void NAME(const void *args)                                   \
    {                                                                                              \
        register const mve_args *r0_args __asm__("r0") = args;                                     \
        __asm__ volatile(MVE_G_PROLOGUE "2:\n\t"                                                   \
                                        "1:\n\t" MVE_G_POS_HEAD BODY "le lr, 1b\n\t" MVE_G_FINISH  \
                         : "+r"(r0_args)                                                           \
                         :                                                                         \
                         : MVE_CLOBBERS);                                                          \
    }

#define MVE_G2 MVE_G_CHUNK MVE_G_CHUNK
#define MVE_G4 MVE_G2 MVE_G2

MVE_DEFINE_G_KERNEL(gen_n0_t, MVE_G_TAIL)
MVE_DEFINE_G_KERNEL(gen_n1, MVE_G_CHUNK)
MVE_DEFINE_G_KERNEL(gen_n1_t, MVE_G_CHUNK MVE_G_TAIL)
MVE_DEFINE_G_KERNEL(gen_n2, MVE_G2)
MVE_DEFINE_G_KERNEL(gen_n2_t, MVE_G2 MVE_G_TAIL)
MVE_DEFINE_G_KERNEL(gen_n3, MVE_G2 MVE_G_CHUNK)
MVE_DEFINE_G_KERNEL(gen_n3_t, MVE_G2 MVE_G_CHUNK MVE_G_TAIL)
MVE_DEFINE_G_KERNEL(gen_n4, MVE_G4)
MVE_DEFINE_G_KERNEL(gen_n4_t, MVE_G4 MVE_G_TAIL)
MVE_DEFINE_G_KERNEL(gen_n5, MVE_G4 MVE_G_CHUNK)
MVE_DEFINE_G_KERNEL(gen_n5_t, MVE_G4 MVE_G_CHUNK MVE_G_TAIL)
MVE_DEFINE_G_KERNEL(gen_n6, MVE_G4 MVE_G2)
MVE_DEFINE_G_KERNEL(gen_n6_t, MVE_G4 MVE_G2 MVE_G_TAIL)
MVE_DEFINE_G_KERNEL(gen_n7, MVE_G4 MVE_G2 MVE_G_CHUNK)
MVE_DEFINE_G_KERNEL(gen_n7_t, MVE_G4 MVE_G2 MVE_G_CHUNK MVE_G_TAIL)

/*
 * cin >= 128: the chunks of a filterlet run in an inner LE loop, two per
 * iteration (entered in its middle for an odd count; [sp, #24] holds the
 * args' chunks word, ceil(chunks/2) << 1 | odd); the position
 * loop counts down [sp, #28].
 */
static __attribute__((noinline)) void gen_loop(const void *args)
{
    register const mve_args *r0_args __asm__("r0") = args;
    __asm__ volatile("push {r4-r11, lr}\n\t"
                     "sub sp, sp, #48\n\t"
                     "ldr r1, [r0, #44]\n\t"
                     "str r1, [sp, #24]\n\t"
                     "ldr r1, [r0, #8]\n\t"
                     "str r1, [sp, #16]\n\t"
                     "ldr r1, [r0, #12]\n\t"
                     "str r1, [sp, #20]\n\t"
                     "ldr r1, [r0, #0]\n\t"
                     "str r1, [sp, #32]\n\t"
                     "ldr r1, [r0, #32]\n\t"
                     "str r1, [sp, #36]\n\t"
                     "ldr r1, [r0, #36]\n\t"
                     "str r1, [sp, #40]\n\t"
                     "ldr r1, [r0, #40]\n\t"
                     "str r1, [sp, #44]\n\t"
                     "ldr r5, [r0, #4]\n\t"
                     "ldr r1, [r0, #24]\n\t"
                     "vldrw.u32 q5, [r1]\n\t"
                     "ldr r1, [r0, #16]\n\t"
                     "vdup.32 q6, r1\n\t"
                     "ldr r1, [r0, #20]\n\t"
                     "vdup.32 q7, r1\n\t"
                     "ldr r11, [r0, #28]\n\t"
                     "vctp.8 r11\n\t"
                     "4:\n\t"
                     "ldr r10, [sp, #32]\n\t" MVE_G_REC_LOAD "2:\n\t"
                     "str lr, [sp, #28]\n\t"
                     "1:\n\t" MVE_G_POS_HEAD "ldr lr, [sp, #24]\n\t"
                     "lsrs lr, lr, #1\n\t"
                     "bcs 6f\n\t"
                     "5:\n\t" MVE_G_CHUNK "6:\n\t" MVE_G_CHUNK "le lr, 5b\n\t"
                     "cmp r11, #0\n\t" /* no partial chunk: skip the predicated one */
                     "beq 7f\n\t" MVE_G_TAIL "7:\n\t"
                     "ldr lr, [sp, #28]\n\t"
                     "subs lr, lr, #1\n\t"
                     "str lr, [sp, #28]\n\t"
                     "bne 1b\n\t" MVE_G_FINISH
                     : "+r"(r0_args)
                     :
                     : "r1", "r2", "r3", "r12", "memory", "cc", "d0", "d1", "d2", "d3", "d4", "d5", "d6", "d7",
                       "d8", "d9", "d10", "d11", "d12", "d13", "d14", "d15");
}

/*
 * Row tail of the generic family: the last 1 or 2 pixels of an output row
 * (out_w % 4 of 1 or 2; a last block of 3 pixels stays a whole block), from
 * the generic kernel's records and the block's pointer table, stored in
 * place instead of a whole 4-pixel block through a temporary.  Per kept
 * position a tail-predicated loop over the cin bytes: 4 instructions per
 * 16-byte chunk for one pixel, 6 for two (the weights loaded once), against
 * 10 for a whole block; each filter's accumulators are requantized like the
 * generic kernel's (lanes 0 and 2 of one vector).
 * Registers: r0 r12 accumulators, r1 weights, r2 positions left, r3 list,
 * r4 cout, r5 table (4 pointers per position), r6 output, r7 r9 input
 * pointers, r8 weights of the current position, r10 records, r11 cin.
 */
typedef struct {
    const uint32_t *rec;
    const uint32_t *tab;
    int8_t *out;
    int32_t cin;
    int32_t cout;
    int32_t out_off, act_min, act_max;
} mve_tail_args;

#define MVE_T_PROLOGUE                                                                             \
    "push {r4-r11, lr}\n\t"                                                                        \
    "ldrd r10, r5, [r0, #0]\n\t"                                                                   \
    "ldrd r6, r11, [r0, #8]\n\t"                                                                   \
    "ldr r4, [r0, #20]\n\t"                                                                        \
    "vdup.32 q4, r4\n\t"                                                                           \
    "ldr r4, [r0, #24]\n\t"                                                                        \
    "vdup.32 q6, r4\n\t"                                                                           \
    "ldr r4, [r0, #28]\n\t"                                                                        \
    "vdup.32 q7, r4\n\t"                                                                           \
    "ldr r4, [r0, #16]\n\t"                                                                        \
    "ldr r2, [r10, #24]\n\t"                                                                       \
    "cmp r2, #0\n\t"                                                                               \
    "beq 9f\n\t"                                                                                   \
    "4:\n\t"                                                                                       \
    "ldr r0, [r10, #0]\n\t"                                                                        \
    "mov r12, r0\n\t" /* (the second pixel's accumulator) */                                     \
    "ldr r1, [r10, #4]\n\t"                                                                        \
    "ldr r3, [r10, #12]\n\t"                                                                       \
    "1:\n\t"                                                                                       \
    "ldrb r7, [r3], #1\n\t"                                                                        \
    "add r7, r5, r7, lsl #4\n\t"                                                                   \
    "ldrd r7, r9, [r7]\n\t"                                                                        \
    "mov r8, r1\n\t"                                                                               \
    "add r1, r1, r11\n\t"                                                                          \
    "wlstp.8 lr, r11, 3f\n\t"                                                                      \
    "5:\n\t"                                                                                       \
    "vldrb.8 q0, [r8], #16\n\t"                                                                    \
    "vldrb.8 q1, [r7], #16\n\t"                                                                    \
    "vmladava.s8 r0, q0, q1\n\t"
#define MVE_T_SECOND                                                                               \
    "vldrb.8 q1, [r9], #16\n\t"                                                                    \
    "vmladava.s8 r12, q0, q1\n\t"
#define MVE_T_FINISH(LANE2, STORE2)                                                                \
    "letp lr, 5b\n\t"                                                                              \
    "3:\n\t"                                                                                       \
    "subs r2, r2, #1\n\t"                                                                          \
    "bne 1b\n\t"                                                                                   \
    "ldrd r7, r8, [r10, #28]\n\t"                                                                  \
    "ldrd r9, r3, [r10, #36]\n\t"                                                                  \
    "vmov.32 q2[0], r0\n\t" LANE2                                                                 \
    "vshl.s32 q2, r9\n\t"                                                                          \
    "vqdmulh.s32 q3, q2, r3\n\t"                                                                   \
    "vqrdmlah.s32 q3, q2, r7\n\t"                                                                  \
    "vrshl.s32 q3, r8\n\t"                                                                         \
    "vqadd.s32 q3, q3, q4\n\t"                                                                     \
    "vmax.s32 q3, q3, q6\n\t"                                                                      \
    "vmin.s32 q3, q3, q7\n\t"                                                                      \
    "vmov r7, s12\n\t" STORE2 "strb r7, [r6], #1\n\t"                                              \
    "add r10, r10, #44\n\t"                                                                        \
    "ldr r2, [r10, #24]\n\t"                                                                       \
    "cmp r2, #0\n\t"                                                                               \
    "bne 4b\n\t"                                                                                   \
    "9:\n\t"                                                                                       \
    "pop {r4-r11, lr}\n\t"
#define MVE_T_LANE2 "vmov.32 q2[2], r12\n\t"
#define MVE_T_STORE2                                                                               \
    "vmov r8, s14\n\t"                                                                             \
    "strb r8, [r6, r4]\n\t"

static __attribute__((noinline)) void gen_tail1(const mve_tail_args *args)
{
    register const mve_tail_args *r0_args __asm__("r0") = args;
    __asm__ volatile(MVE_T_PROLOGUE MVE_T_FINISH("", "") : "+r"(r0_args) : : MVE_CLOBBERS);
}

static __attribute__((noinline)) void gen_tail2(const mve_tail_args *args)
{
    register const mve_tail_args *r0_args __asm__("r0") = args;
    __asm__ volatile(MVE_T_PROLOGUE MVE_T_SECOND MVE_T_FINISH(MVE_T_LANE2, MVE_T_STORE2) : "+r"(r0_args) : : MVE_CLOBBERS);
}

/* The generic variants' tail (tail_px = 1 or 2 pixels of the block at tab). */
static void gen_tail(const void *args)
{
    const mve_args *a = (const mve_args *)args;
    const mve_tail_args t = {a->rec, (const uint32_t *)a->tab, a->out, (int32_t)a->cin,
                             ((const int32_t *)a->qoff)[1], a->out_off, a->act_min, a->act_max};
    if (a->tail_px == 2u) {
        gen_tail2(&t);
    } else {
        gen_tail1(&t);
    }
}

/* ---- small vector helpers (setup and block preparation) ----------------- */

/*
 * Byte loops as tail-predicated low-overhead loops (WLSTP.8 / LETP): 16 bytes
 * per iteration, the last iteration predicated to the remaining n % 16
 * lanes by the hardware; n <= 0 does nothing.
 */
static void mve_fill(int8_t *d, int8_t value, int32_t n)
{
    if (n <= 0) return;
    __asm__ volatile("vdup.8 q0, %[v]\n\t"
                     "wlstp.8 lr, %[n], 2f\n\t"
                     "1:\n\t"
                     "vstrb.8 q0, [%[d]], #16\n\t"
                     "letp lr, 1b\n\t"
                     "2:\n\t"
                     : [d] "+r"(d)
                     : [v] "r"((int32_t)value), [n] "r"(n)
                     : "lr", "memory", "d0", "d1");
}

/* Short copies (im2col rows): the tail-predicated loop only, n >= 1. */
static inline void mve_copy_short(int8_t *d, const int8_t *s, int32_t n)
{
    __asm__ volatile("wlstp.8 lr, %[n], 2f\n\t"
                     "1:\n\t"
                     "vldrb.8 q0, [%[s]], #16\n\t"
                     "vstrb.8 q0, [%[d]], #16\n\t"
                     "letp lr, 1b\n\t"
                     "2:\n\t"
                     : [d] "+r"(d), [s] "+r"(s)
                     : [n] "r"(n)
                     : "lr", "memory", "d0", "d1");
}

static void mve_copy(int8_t *d, const int8_t *s, int32_t n)
{
    if (n >= 64) { /* 64 bytes per iteration, then the tail-predicated loop for the rest */
        __asm__ volatile("dls lr, %[k]\n\t"
                         "1:\n\t"
                         "vldrb.8 q0, [%[s]], #16\n\t"
                         "vldrb.8 q1, [%[s]], #16\n\t"
                         "vldrb.8 q2, [%[s]], #16\n\t"
                         "vldrb.8 q3, [%[s]], #16\n\t"
                         "vstrb.8 q0, [%[d]], #16\n\t"
                         "vstrb.8 q1, [%[d]], #16\n\t"
                         "vstrb.8 q2, [%[d]], #16\n\t"
                         "vstrb.8 q3, [%[d]], #16\n\t"
                         "le lr, 1b\n\t"
                         : [d] "+r"(d), [s] "+r"(s)
                         : [k] "r"(n >> 6)
                         : "lr", "memory", "d0", "d1", "d2", "d3", "d4", "d5", "d6", "d7");
        n &= 63;
    }
    if (n <= 0) return;
    mve_copy_short(d, s, n);
}


static int32_t mve_sum(const int8_t *s, int32_t n)
{
    int32_t acc = 0;
    if (n <= 0) return 0;
    __asm__ volatile("wlstp.8 lr, %[n], 2f\n\t"
                     "1:\n\t"
                     "vldrb.8 q0, [%[s]], #16\n\t"
                     "vaddva.s8 %[acc], q0\n\t"
                     "letp lr, 1b\n\t"
                     "2:\n\t"
                     : [acc] "+Te"(acc), [s] "+r"(s)
                     : [n] "r"(n), "m"(*(const int8_t(*)[])s)
                     : "lr", "d0", "d1");
    return acc;
}

/*
 * Kept-position masks of all filters (bit p of masks[o]: filterlet (o, p)
 * stored), like dtmm_fwcs_filter_masks() but streaming the bitmap through
 * a 64-bit bit buffer (a few instructions per filter).
 */
static void mve_masks(const dtmm_fwcs_view *v, uint32_t *masks, uint32_t P)
{
    const uint32_t cout = v->hdr->cout;
    const uint32_t all = P == 32u ? 0xFFFFFFFFu : (1u << P) - 1u;
    const uint8_t *ix = v->index;
    if (v->hdr->encoding == DTMM_FWCS_ENC_BITMAP && P <= 24u) {
        uint32_t buf = 0, avail = 0; /* avail + 8 <= 31 before every refill */
        for (uint32_t o = 0; o < cout; o++) {
            while (avail < P) {
                buf |= (uint32_t)*ix++ << avail;
                avail += 8u;
            }
            masks[o] = buf & all;
            buf >>= P;
            avail -= P;
        }
    } else if (v->hdr->encoding == DTMM_FWCS_ENC_BITMAP) {
        uint64_t buf = 0;
        uint32_t avail = 0;
        for (uint32_t o = 0; o < cout; o++) {
            while (avail < P) {
                buf |= (uint64_t)*ix++ << avail;
                avail += 8u;
            }
            masks[o] = (uint32_t)buf & all;
            buf >>= P;
            avail -= P;
        }
    } else if (v->hdr->encoding == DTMM_FWCS_ENC_LIST) {
        for (uint32_t o = 0; o < cout; o++) {
            uint32_t m = 0;
            for (uint32_t k = *ix++; k != 0u; k--) m |= 1u << *ix++;
            masks[o] = m;
        }
    } else {
        for (uint32_t o = 0; o < cout; o++) masks[o] = all;
    }
}

/*
 * Appends posoff[p] for every set bit p of m (ascending) to out; returns
 * the new end.  m != 0.
 */
static uint16_t *mve_list_bits(uint16_t *out, uint32_t m, const uint16_t *posoff)
{
    uint32_t t, u;
    __asm__ volatile("1:\n\t"
                     "rbit %[t], %[m]\n\t"
                     "clz %[t], %[t]\n\t"
                     "ldrh %[t], [%[po], %[t], lsl #1]\n\t"
                     "strh %[t], [%[out]], #2\n\t"
                     "sub %[u], %[m], #1\n\t"
                     "ands %[m], %[m], %[u]\n\t"
                     "bne 1b\n\t"
                     : [out] "+r"(out), [m] "+r"(m), [t] "=&r"(t), [u] "=&r"(u)
                     : [po] "r"(posoff)
                     : "cc", "memory");
    return out;
}

typedef struct {
    const dtmm_fwcs_header *h;
    const dtmm_mve_layout *L;
    const int8_t *in;
    mve_kernel_fn fn;   /* the variant's inner kernel */
    mve_kernel_fn tail; /* its row-tail kernel (generic family), or NULL: a last block through tmp */
    int8_t zp;
    int32_t cin, in_h, in_w;
    int32_t in_step;                            /* bytes between horizontally adjacent output pixels' inputs */
    const int8_t *win;                          /* current output row: tap (0, 0) of block 0's pixel 0 */
    uint32_t *tab;                              /* generic kernel: pointer tables of a run of blocks */
    int8_t *impatch;                            /* patch mode: im2col rows of a run of blocks */
    uint32_t coff[DTMM_MVE_MAX_POSITIONS];      /* per kernel column j: j*dilation_w*cin */
    uint32_t gather;                            /* patch mode: im2col by byte gathers (offsets < 256) */
    uint32_t pg;                                /* pg kernels: they read the rows themselves (no patches) */
    uint32_t direct;                            /* the kernel reads the rows at one pointer per block */
    uint8x16_t gofs[DTMM_MVE_PATCH_MAX / 16u];  /* their offsets from the pixel's tap (0, 0) */
    /* the row window */
    int8_t *wbuf;
    int32_t wfirst, wcount, copy_cols;
    int8_t *edge;                               /* last_edge: the padded copy of a partial last block */
    mve_args args;
} layer_ctx;

/*
 * Zero-point padded copy of the receptive field of the block whose tap
 * (0,0) is (iy0, ix0): kernel row i (input row iy0 + i*dilation_h) at
 * edge + i*row_step, edge_w columns.
 */
static void build_edge(const layer_ctx *c, int8_t *edge, int32_t iy0, int32_t ix0, int32_t row_step)
{
    const dtmm_fwcs_header *h = c->h;
    const int32_t cin = c->cin, ew = (int32_t)c->L->edge_w;
    const int32_t row_bytes = ew * cin;
    int32_t c0 = ix0 < 0 ? -ix0 : 0;
    int32_t c1 = c->in_w - ix0;
    if (c0 > ew) c0 = ew;
    if (c1 > ew) c1 = ew;
    if (c1 < c0) c1 = c0;
    int8_t *dst = edge;
    for (int32_t i = 0; i < (int32_t)h->kh; i++, dst += row_step) {
        const int32_t iy = iy0 + i * (int32_t)h->dilation_h;
        if (iy < 0 || iy >= c->in_h) {
            mve_fill(dst, c->zp, row_bytes);
            continue;
        }
        mve_fill(dst, c->zp, c0 * cin);
        mve_copy(dst + c0 * cin, c->in + (iy * c->in_w + ix0 + c0) * cin, (c1 - c0) * cin);
        mve_fill(dst + c1 * cin, c->zp, (ew - c1) * cin);
    }
}

/*
 * The window for an output row whose taps start at input row lo: rows
 * lo .. lo+eff_h-1, consecutive, each at column -pad_left.  Rows are
 * appended once (copied, or zero point outside the input); when the buffer
 * is full the still needed rows move to its start.  Returns row lo.
 */
static const int8_t *window_rows(layer_ctx *c, int32_t lo)
{
    const dtmm_mve_layout *L = c->L;
    const int32_t pitch = (int32_t)L->pitch, eff_h = (int32_t)(L->win_rows / 2u);
    const int32_t hi = lo + eff_h - 1, pl = (int32_t)c->h->pad_left * c->cin;
    if (hi - c->wfirst + 1 > (int32_t)L->win_rows) {
        int32_t keep = c->wfirst + c->wcount - lo;
        if (keep < 0) keep = 0;
        for (int32_t k = 0; k < keep; k++)
            mve_copy(c->wbuf + k * pitch, c->wbuf + (lo - c->wfirst + k) * pitch, pitch);
        c->wfirst = lo;
        c->wcount = keep;
    }
    for (int32_t r = c->wfirst + c->wcount; r <= hi; r = c->wfirst + ++c->wcount) {
        int8_t *row = c->wbuf + (r - c->wfirst) * pitch + pl;
        if (r < 0 || r >= c->in_h) {
            mve_fill(row, c->zp, c->copy_cols * c->cin); /* the padding columns are zero point already */
        } else {
            mve_copy(row, c->in + r * c->in_w * c->cin, c->copy_cols * c->cin);
        }
    }
    return c->wbuf + (lo - c->wfirst) * pitch;
}

/*
 * Runs n blocks of the current output row, starting with its block b0
 * (block b reads c->win shifted by 4*b pixels): group kernels need only
 * the first block's input; the generic kernel gets pointer tables, patch
 * mode im2col rows; then one kernel call for all n blocks.
 */
static void run_blocks(layer_ctx *c, int32_t b0, int32_t n, int8_t *out)
{
    const dtmm_mve_layout *L = c->L;
    const dtmm_fwcs_header *h = c->h;
    const uint32_t kh = h->kh, kw = h->kw;
    const int32_t block_step = 4 * c->in_step, row_step = (int32_t)L->row_step;
    const int8_t *first = c->win + b0 * block_step;
    if (L->patch) { /* (not pg: its kernels read the rows, run_layer() and run_last() call them directly) */
        const int32_t kp = (int32_t)L->cin_eff, cin = c->cin;
        for (int32_t b = 0; b < n; b++) {
            int8_t *patch = c->impatch + b * 4 * kp;
            if (c->gather) {
                const int8_t *src = first + b * block_step;
                for (int32_t k = 0; k < 4; k++, src += c->in_step) {
                    for (int32_t q = 0; q < kp / 16; q++)
                        vstrbq_s8(patch + k * kp + 16 * q, vldrbq_gather_offset_s8(src, c->gofs[q]));
                }
            } else {
                for (int32_t k = 0; k < 4; k++) {
                    int8_t *d = patch + k * kp;
                    const int8_t *src = first + b * block_step + k * c->in_step;
                    for (uint32_t i = 0; i < kh; i++, src += row_step) {
                        if (h->dilation_w == 1) {
                            mve_copy_short(d + (int32_t)(i * kw) * cin, src, (int32_t)kw * cin);
                        } else {
                            for (uint32_t j = 0; j < kw; j++)
                                mve_copy_short(d + (int32_t)(i * kw + j) * cin, src + c->coff[j], cin);
                        }
                    }
                }
            }
            if (!L->pair) {
                const uint32x4_t k4 = vmulq_n_u32(vidupq_n_u32(0u, 1), (uint32_t)kp);
                vstrwq_u32(c->tab + 4 * b, vaddq_n_u32(k4, (uint32_t)(uintptr_t)patch));
            }
        }
        c->args.tab = L->pair ? (const void *)c->impatch : (const void *)c->tab;
        c->args.tab_stride = L->pair ? 4u * (uint32_t)kp : 16u;
    } else if (L->pair) {
        c->args.tab = first;
        c->args.tab_stride = (uint32_t)block_step;
    } else {
        const uint32x4_t k4 = vmulq_n_u32(vidupq_n_u32(0u, 1), (uint32_t)c->in_step);
        uint32_t *t = c->tab;
        for (int32_t b = 0; b < n; b++) {
            const uint32_t blk = (uint32_t)(uintptr_t)first + (uint32_t)(b * block_step);
            for (uint32_t i = 0; i < kh; i++) {
                const uint32_t row = blk + i * (uint32_t)row_step;
                for (uint32_t j = 0; j < kw; j++, t += 4) vstrwq_u32(t, vaddq_n_u32(k4, row + c->coff[j]));
            }
        }
        c->args.tab = c->tab;
        c->args.tab_stride = L->pos_eff * 16u;
    }
    c->args.out = out;
    c->args.n_blocks = (uint32_t)n;
    c->fn(&c->args);
}

/* One block (b0 of the current row) of a pg kernel, which reads the rows itself. */
static void run_pg_block(layer_ctx *c, int32_t b0, int8_t *out)
{
    c->args.tab = c->win + b0 * 4 * c->in_step;
    c->args.tab_stride = (uint32_t)(4 * c->in_step);
    c->args.out = out;
    c->args.n_blocks = 1u;
    c->fn(&c->args);
}

/*
 * A row's last block of 1..3 pixels (block b0, output at out): the generic
 * family's tail kernel for 1 or 2 pixels, else a whole block through tmp.
 * Out of line: the row loops stay as they were.
 */
static __attribute__((noinline)) void run_last(layer_ctx *c, int32_t b0, int32_t pixels, int8_t *out, int8_t *tmp)
{
    if (c->tail != NULL && pixels <= 2) { /* the tail kernel reads only the row's own pixels */
        const mve_kernel_fn fn = c->fn;
        c->fn = c->tail;
        c->args.tail_px = (uint32_t)pixels;
        run_blocks(c, b0, 1, out);
        c->fn = fn;
        return;
    }
    const int8_t *win = c->win;
    if (c->L->last_edge) { /* the block would read past the row: from a zero-point padded copy (kh = 1) */
        const int32_t row = (int32_t)(win - c->in) / (c->in_w * c->cin); /* rows are read directly: no padding */
        build_edge(c, c->edge, row, 4 * b0 * (int32_t)c->h->stride_w, (int32_t)c->L->row_step);
        c->win = c->edge;
        b0 = 0;
    }
    if (c->pg) { /* the pg kernels read the rows: one block through tmp */
        run_pg_block(c, b0, tmp);
    } else {
        run_blocks(c, b0, 1, tmp);
    }
    c->win = win;
    mve_copy(out, tmp, pixels * c->h->cout);
}

/* One filter as the kernels see it. */
typedef struct {
    uint32_t init; /* bias + input_offset * (sum of its kept weights), int32 wrap-around */
    const int8_t *wp;
    const uint8_t *lst;
    uint32_t cnt;
    int32_t mult, shift;
} mve_filter;

/* Group kernel record: b, wp, b, lst, b, b, mult, -right, count [, left, flag]. */
static uint32_t *put_group_record(uint32_t *r, const mve_filter *f, uint32_t words)
{
    r[0] = f->init;
    r[1] = (uint32_t)(uintptr_t)f->wp;
    r[2] = f->init;
    r[3] = (uint32_t)(uintptr_t)f->lst;
    r[4] = f->init;
    r[5] = f->init;
    r[6] = (uint32_t)f->mult;
    r[7] = f->shift > 0 ? 0u : (uint32_t)f->shift;
    r[8] = f->cnt;
    if (words > 9u) {
        r[9] = f->shift > 0 ? (uint32_t)f->shift : 0u;
        r[10] = f->shift < 0 ? 1u : 0u;
    }
    return r + words;
}

/*
 * 16 bytes of output offsets: quad group (byte lanes; byte b holds filter
 * ch[(b>>1 & 1) + 2*(b & 1)], pixel b>>2), pair group (16-bit lanes; lane m
 * holds filter ch[m & 1], pixel m>>1), quad leftover (G 1: bytes 4k hold
 * pixel k of ch[0]).  kc: bytes k*cout for byte lanes 4k..4k+3.
 */
static uint32_t *put_group_offsets(uint32_t *r, const uint16_t *ch, uint32_t G, uint32_t cout, uint8x16_t kc)
{
    if (G == 4u || G == 1u) {
        const uint32_t c1 = G == 4u ? ch[1] : ch[0], c2 = G == 4u ? ch[2] : ch[0], c3 = G == 4u ? ch[3] : ch[0];
        const uint32_t word = ch[0] | (c2 << 8) | (c1 << 16) | (c3 << 24);
        vstrbq_u8((uint8_t *)r, vaddq_u8(kc, vreinterpretq_u8_u32(vdupq_n_u32(word))));
    } else {
        uint16_t *q = (uint16_t *)(void *)r;
        for (uint32_t m = 0; m < 8u; m++) q[m] = (uint16_t)((m >> 1) * cout + ch[m & 1u]);
    }
    return r + 4;
}

/* Constant group (filters with nothing kept): their outputs in the lanes, then the offsets. */
static uint32_t *put_const_group(uint32_t *r, const uint16_t *ch, const int8_t *val, uint32_t G, uint32_t cout,
                                 uint8x16_t kc)
{
    if (G == 4u) {
        int8_t *q = (int8_t *)r;
        for (uint32_t b = 0; b < 16u; b++) q[b] = val[((b >> 1) & 1u) + 2u * (b & 1u)];
    } else {
        int16_t *q = (int16_t *)(void *)r;
        for (uint32_t m = 0; m < 8u; m++) q[m] = val[m & 1u];
    }
    return put_group_offsets(r + 4, ch, G, cout, kc);
}

/* A generic record's words other than its weights, list and count: b (four times), mult, -right,
 * left, flag. */
static inline void gen_record_requant(uint32_t *r, uint32_t init, int32_t mult, int32_t sh)
{
    r[0] = r[2] = r[4] = r[5] = init;
    r[7] = (uint32_t)mult;
    r[8] = sh > 0 ? 0u : (uint32_t)sh;
    r[9] = sh > 0 ? (uint32_t)sh : 0u;
    r[10] = sh < 0 ? 1u : 0u;
}

/*
 * Item mode (cin 4 or 8, kw*cin >= 16, dilation_w 1; dtmm_conv_mve_internal.h): records of the generic
 * kernel with one 16-byte chunk per "item".  A kernel row's R = kw*cin bytes are contiguous in the
 * NHWC input as in the OHWI weights, so the row is covered by 16-byte windows
 * (dtmm_mve_item_windows()) at bytes 0, 16, 32, .. and the last one at R - 16, counting the bytes
 * the previous ones do not; they start at filterlets (cin divides 16), so a window reads the
 * pointer table's entry of its first position.  The weights of the bytes a window does not count
 * are expanded as zeros, like pruned filterlets.  A window whose counted bytes hold no kept filterlet is left out: a dense
 * row of 8-channel filterlets is 3 items instead of 5 filterlets, and pruning still skips items.
 */
/* The windows of a whole filter, row after row (at most one per position). */
typedef struct {
    uint32_t n;
    uint32_t cols[DTMM_MVE_MAX_POSITIONS];      /* the filterlets with bytes it counts (bit p) */
    uint32_t src[DTMM_MVE_MAX_POSITIONS];       /* its first byte in the filter's dense weights */
    mve_pred16_t pred[DTMM_MVE_MAX_POSITIONS];  /* the lanes it counts */
    uint8_t pos[DTMM_MVE_MAX_POSITIONS];        /* its pointer table entry */
} mve_item_windows;

static DTMM_COLD void item_windows(mve_item_windows *t, uint32_t cin, uint32_t kh, uint32_t kw)
{
    const uint32_t R = kw * cin, last = R - 16u;
    uint32_t n = 0;
    for (uint32_t b = 0; b < R;) { /* one row, as dtmm_mve_item_windows() */
        const uint32_t j0 = b / cin, off = j0 * cin < last ? j0 * cin : last;
        const uint32_t j1 = (off + 15u) / cin; /* the last column with bytes counted */
        t->pos[n] = (uint8_t)(off / cin);
        t->src[n] = off;
        t->cols[n] = ((2u << j1) - 1u) & ~((1u << j0) - 1u); /* j1 < kw <= 31 here (kw*cin <= 256) */
        t->pred[n] = (mve_pred16_t)~vctp8q(b - off);
        b = off + 16u;
        n++;
    }
    for (uint32_t i = 1; i < kh; i++) { /* the other rows: the same, shifted */
        for (uint32_t k = 0; k < n; k++) {
            t->pos[i * n + k] = (uint8_t)(t->pos[k] + i * kw);
            t->src[i * n + k] = t->src[k] + i * R;
            t->cols[i * n + k] = t->cols[k] << (i * kw);
            t->pred[i * n + k] = t->pred[k];
        }
    }
    t->n = n * kh;
}

/* Records (b, wp, b, lst, b, b, count, mult, -right, left, flag) of every filter; lists from
 * list + 1 (list[0]: the dummy entry of filters with nothing kept), first the one list of the
 * fully kept filters, then one per partly kept filter; returns the end. */
static DTMM_COLD uint32_t *item_records(const dtmm_fwcs_view *v, uint32_t *masks, uint32_t *r, uint8_t *list,
                                        const uint8_t *dummy_list, const int8_t *zero)
{
    const dtmm_fwcs_header *h = v->hdr;
    const uint32_t cout = h->cout, cin = h->cin, kh = h->kh, kw = h->kw, P = kh * kw;
    int8_t *wexp = (int8_t *)(list + dtmm_mve_align16(dtmm_mve_item_list_entries(h)));
    (void)dummy_list; /* list[0] is the dummy entry here */
    mve_masks(v, masks, P); /* the driver's list pass turned them into counts */
    const uint32_t all = P == 32u ? 0xFFFFFFFFu : (1u << P) - 1u;
    const int32_t in_off = h->input_offset;
    const int32_t *bias = v->bias, *mult = v->multiplier, *shf = v->shift;
    const int8_t *w = v->weights;
    const mve_pred16_t pc = vctp8q(cin);
    const int8x16_t z = vdupq_n_s8(0);
    mve_item_windows t;
    item_windows(&t, cin, kh, kw);
    int8_t img[DTMM_MVE_MAX_POSITIONS * 8u]; /* a partly kept filter, pruned filterlets as zeros */
    uint8_t *const full_list = list + 1;      /* the list of every fully kept filter */
    for (uint32_t k = 0; k < t.n; k++) full_list[k] = t.pos[k];
    uint8_t *lp = full_list + t.n;
    for (uint32_t o = 0; o < cout; o++, r += 11) {
        const uint32_t kept = masks[o];
        uint32_t init = (uint32_t)bias[o];
        if (kept != 0u) {
            r[1] = (uint32_t)(uintptr_t)wexp;
            const int8_t *src = w;
            if (kept == all) { /* every window, the shared list */
                init += (uint32_t)in_off * (uint32_t)mve_sum(src, (int32_t)(P * cin));
                for (uint32_t k = 0; k < t.n; k++, wexp += 16) vstrbq_s8(wexp, vldrbq_z_s8(w + t.src[k], t.pred[k]));
                w += P * cin;
                r[3] = (uint32_t)(uintptr_t)full_list;
                r[6] = t.n;
            } else {
                r[3] = (uint32_t)(uintptr_t)lp;
                const uint8_t *lp0 = lp;
                for (uint32_t k = 0; k < P * cin; k += 16u) vstrbq_s8(img + k, z);
                for (uint32_t mm = kept; mm != 0u; mm &= mm - 1u, w += cin) {
                    vstrbq_p_s8(img + (uint32_t)__builtin_ctz(mm) * cin, vldrbq_z_s8(w, pc), pc);
                }
                init += (uint32_t)in_off * (uint32_t)mve_sum(src, (int32_t)(w - src));
                for (uint32_t k = 0; k < t.n; k++) { /* the windows with kept bytes */
                    if ((kept & t.cols[k]) == 0u) continue;
                    *lp++ = t.pos[k];
                    vstrbq_s8(wexp, vldrbq_z_s8(img + t.src[k], t.pred[k]));
                    wexp += 16;
                }
                r[6] = (uint32_t)(lp - lp0);
            }
        } else {
            r[1] = (uint32_t)(uintptr_t)zero;
            r[3] = (uint32_t)(uintptr_t)list; /* the dummy entry: position 0 */
            r[6] = 1u;
        }
        gen_record_requant(r, init, mult[o], shf[o]);
    }
    return r;
}

/*
 * Records of the pg kernels (the pg variants' records hook; its list argument is the chunk area,
 * dummy_list the u16 offsets of the positions from tap (0, 0), both from the driver): per live
 * filter (b, wp, b, b, b, mult, -right, chunks) and its chunks of 16 kept weights + 16 byte
 * offsets (unused lanes 0, 0), in quad groups with their output offsets; the last group is
 * completed by copies of its last record (with fewer than 4 live filters, filters with nothing
 * kept come first: one chunk of zeros each, as the driver counts them); the driver writes the end
 * record and the constant groups.  Returns the end.
 */
static DTMM_COLD uint32_t *pg_records(const dtmm_fwcs_view *v, uint32_t *masks, uint32_t *r, uint8_t *chunks,
                            const uint8_t *posoff_bytes, const int8_t *zero)
{
    const dtmm_fwcs_header *h = v->hdr;
    const uint16_t *posoff = (const uint16_t *)(const void *)posoff_bytes;
    const uint32_t cout = h->cout, cin = h->cin, P = (uint32_t)h->kh * h->kw;
    const uint32_t all = (1u << P) - 1u; /* P * cin <= 64: P < 32 */
    const uint32_t pitch = 2u * dtmm_mve_align16(P * cin); /* chunk bytes per filter at most */
    const int dense = h->encoding == DTMM_FWCS_ENC_DENSE;
    const int32_t in_off = h->input_offset;
    const int8_t *w = v->weights;
    uint32_t n_live = 0;
    for (uint32_t o = 0; o < cout; o++) n_live += masks[o] != 0u;
    const uint32_t pad = n_live < 4u ? 4u - n_live : 0u, n_empty = cout - n_live; /* as the driver */
    const uint32_t pad_empty = pad < n_empty ? pad : n_empty;
    const uint32_t kcw[4] = {0u, cout * 0x01010101u, 2u * cout * 0x01010101u, 3u * cout * 0x01010101u};
    const uint8x16_t kc = vreinterpretq_u8_u32(vldrwq_u32(kcw));
    const mve_pred16_t pc = vctp8q(cin);
    const uint8x16_t lanes = vidupq_n_u8(0u, 1);
    uint16_t ch[4];
    uint32_t in_group = 0, empties = 0;
    (void)zero;
    for (uint32_t o = 0; o < cout; o++) {
        const uint32_t m = dense ? all : masks[o];
        if (m == 0u && empties++ >= pad_empty) continue; /* a constant output (the driver's) */
        int8_t wt[DTMM_MVE_PATCH_MAX + 16];
        uint8_t ot[DTMM_MVE_PATCH_MAX + 16];
        uint32_t k = 0;
        for (uint32_t mm = m; mm != 0; mm &= mm - 1u, w += cin, k += cin) {
            vstrbq_p_s8(wt + k, vldrbq_z_s8(w, pc), pc);
            vstrbq_p_u8(ot + k, vaddq_n_u8(lanes, (uint8_t)posoff[__builtin_ctz(mm)]), pc);
        }
        vstrbq_s8(wt + k, vdupq_n_s8(0));
        vstrbq_u8(ot + k, vdupq_n_u8(0));
        const uint32_t nch = k == 0u ? 1u : (k + 15u) / 16u; /* nothing kept: one chunk of zeros */
        int8_t *cp = (int8_t *)chunks + o * pitch;
        int32_t sum = 0;
        for (uint32_t q = 0; q < nch; q++) {
            const int8x16_t wv = vldrbq_s8(wt + 16u * q);
            vstrbq_s8(cp + 32u * q, wv);
            vstrbq_u8((uint8_t *)cp + 32u * q + 16u, vldrbq_u8(ot + 16u * q));
            sum = vaddvaq_s8(sum, wv);
        }
        r[0] = r[2] = r[3] = r[4] = (uint32_t)v->bias[o] + (uint32_t)in_off * (uint32_t)sum;
        r[1] = (uint32_t)(uintptr_t)cp;
        r[5] = (uint32_t)v->multiplier[o];
        r[6] = (uint32_t)v->shift[o]; /* <= -1 (the rule) */
        r[7] = nch;
        r += 8;
        ch[in_group++] = (uint16_t)o;
        if (in_group == 4u) {
            r = put_group_offsets(r, ch, 4u, cout, kc);
            in_group = 0;
        }
    }
    if (in_group != 0u) { /* no empty filter left to complete the last group: repeat its last */
        for (; in_group < 4u; in_group++, r += 8) {
            for (uint32_t k = 0; k < 8u; k++) r[k] = (r - 8)[k];
            ch[in_group] = ch[in_group - 1u];
        }
        r = put_group_offsets(r, ch, 4u, cout, kc);
    }
    return r;
}

/*
 * Records of the generic kernel reading the input rows (b, wp, b, lst, b, b,
 * count, mult, -right, left, flag; every filter, nothing kept: one dummy
 * filterlet of zero weights); returns the end.  The generic variants' records
 * hook: only they link it.
 */
static uint32_t *gen_records(const dtmm_fwcs_view *v, uint32_t *masks, uint32_t *r, uint8_t *list,
                                       const uint8_t *dummy_list, const int8_t *zero)
{
    const dtmm_fwcs_header *h = v->hdr;
    const int dense = h->encoding == DTMM_FWCS_ENC_DENSE;
    const uint32_t cout = h->cout, cin = h->cin;
    const int32_t in_off = h->input_offset;
    const int32_t *bias = v->bias, *mult = v->multiplier, *shf = v->shift;
    const int8_t *w = v->weights;
    uint32_t list_pos = 0;
    for (uint32_t o = 0; o < cout; o++, r += 11) {
        const uint32_t kept = masks[o];
        uint32_t init = (uint32_t)bias[o];
        if (kept != 0u) {
            init += (uint32_t)in_off * (uint32_t)mve_sum(w, (int32_t)(kept * cin));
            r[1] = (uint32_t)(uintptr_t)w;
            r[3] = (uint32_t)(uintptr_t)(dense ? list : list + list_pos);
            r[6] = kept;
            w += kept * cin;
            list_pos += kept;
        } else {
            r[1] = (uint32_t)(uintptr_t)zero;
            r[3] = (uint32_t)(uintptr_t)dummy_list;
            r[6] = 1u;
        }
        gen_record_requant(r, init, mult[o], shf[o]);
    }
    return r;
}

/* ---- element-list kernel (kernels with more than 32 positions) ----------------
 *
 * Blocks of 4 consecutive output pixels in raster order (blocks wrap to the
 * next row: only the very last block can be partial).  Per block, each
 * pixel's receptive field is copied into an int8 "patch" of K = kh*kw*cin
 * bytes (element e = p*cin + c; padding taps hold the input zero point, so
 * the input offset folds into the bias as elsewhere in this file).  A filter
 * record is
 *   init = bias + input_offset * sum(kept w), multiplier, shift, chunks, 0
 * followed by its chunks of up to 16 consecutive kept weights:
 *   u32 base (an element), i8 w[16] (unused lanes 0), u8 offsets[16] (from base)
 * (a chunk closes at 16 elements or when the next one is 256 or more bytes
 * past its base; with K <= 256 every base is 0 and the kernel ignores it).
 * Per chunk: VLDRB of the weights and of the offsets, then per pixel a VLDRB
 * gather + VMLADAVA (16 MACs): 11 instructions for 64 MACs.  Pruned
 * filterlets are simply absent from the chunks.  The 4 accumulators are
 * requantized as one vector (see the file header) and stored with one
 * predicated byte scatter.
 */
typedef struct {
    int32_t init, mult, shift;
    uint32_t nch;
    uint32_t reserved;
} mve_elem_hdr;

typedef char mve_elem_hdr_size_ok[sizeof(mve_elem_hdr) == DTMM_MVE_ELEM_HDR_BYTES ? 1 : -1];

/* Receptive-field rows are short (kw*cin bytes, often < 16): straight-line stores, no loop
 * (GCC would turn a byte loop into a memcpy/memset call, ~40 instructions each). */
static inline void elem_copy(int8_t *d, const int8_t *s, int32_t n)
{
    if (n >= 16) {
        mve_copy_short(d, s, n);
        return;
    }
    uint32_t t;
    if (n & 8) {
        __builtin_memcpy(&t, s, 4);
        __builtin_memcpy(d, &t, 4);
        __builtin_memcpy(&t, s + 4, 4);
        __builtin_memcpy(d + 4, &t, 4);
        d += 8;
        s += 8;
    }
    if (n & 4) {
        __builtin_memcpy(&t, s, 4);
        __builtin_memcpy(d, &t, 4);
        d += 4;
        s += 4;
    }
    if (n & 2) {
        uint16_t u;
        __builtin_memcpy(&u, s, 2);
        __builtin_memcpy(d, &u, 2);
        d += 2;
        s += 2;
    }
    if (n & 1) *d = *s;
}

static inline void elem_fill(int8_t *d, int8_t value, int32_t n)
{
    if (n >= 16) {
        mve_fill(d, value, n);
        return;
    }
    const uint32_t v4 = (uint32_t)(uint8_t)value * 0x01010101u;
    if (n & 8) {
        __builtin_memcpy(d, &v4, 4);
        __builtin_memcpy(d + 4, &v4, 4);
        d += 8;
    }
    if (n & 4) {
        __builtin_memcpy(d, &v4, 4);
        d += 4;
    }
    if (n & 2) {
        __builtin_memcpy(d, &v4, 2);
        d += 2;
    }
    if (n & 1) *d = value;
}

/* Receptive-field element q = (i*kw + j)*cin + c as gather vectors: its byte offset from the
 * field's first input byte, and i*dilation_h, j*dilation_w to mask taps outside the input.
 * elem_gather_init() returns 0 when an offset does not fit a byte (patches are then copied row by
 * row).  Idle lanes of the last vectors read offset 0. */
typedef struct {
    uint8x16_t off[16], row[16], col[16];
} elem_gather;

static int elem_gather_init(const dtmm_fwcs_header *h, uint32_t K, elem_gather *g)
{
    const uint32_t cin = h->cin, kw = h->kw, row_len = kw * cin, dh = h->dilation_h, dw = h->dilation_w;
    const uint32_t row_step = dh * h->in_w * cin, col_step = dw * cin;
    if (K > 256u || (h->kh - 1u) * row_step + (kw - 1u) * col_step + cin - 1u > 255u) {
        return 0;
    }
    uint8_t o[256], r[256], c[256];
    for (uint32_t q = 0; q < 256u; q++) {
        const uint32_t i = q / row_len, j = (q % row_len) / cin, in = q < K;
        o[q] = in ? (uint8_t)(i * row_step + j * col_step + q % cin) : 0u;
        r[q] = in ? (uint8_t)(i * dh) : 0u;
        c[q] = in ? (uint8_t)(j * dw) : 0u;
    }
    for (uint32_t q = 0; q < K; q += 16u) {
        g->off[q / 16u] = vldrbq_u8(o + q);
        g->row[q / 16u] = vldrbq_u8(r + q);
        g->col[q / 16u] = vldrbq_u8(c + q);
    }
    return 1;
}

/* [lo, hi] of the tap displacements 0..255 that stay inside [0, n) from origin o (lo > hi: none). */
static inline void elem_tap_range(int32_t o, int32_t n, uint8x16_t *lo, uint8x16_t *hi, int *none)
{
    const int32_t l = o < 0 ? -o : 0, u = n - 1 - o > 255 ? 255 : n - 1 - o;
    *none |= l > u || l > 255;
    *lo = vdupq_n_u8((uint8_t)(l > 255 ? 255 : l));
    *hi = vdupq_n_u8((uint8_t)(u < 0 ? 0 : u));
}

static void elem_patches(const dtmm_fwcs_header *h, const int8_t *input, int8_t *patch, uint32_t K, uint32_t pix0,
                         uint32_t npix, const elem_gather *g)
{
    /* header fields in locals: the byte stores below could alias them */
    const int32_t cin = h->cin, kh = h->kh, kw = h->kw, dw = h->dilation_w, dh = h->dilation_h;
    const int32_t in_h = h->in_h, in_w = h->in_w, out_w = h->out_w, sh = h->stride_h, sw = h->stride_w;
    const int32_t pt = h->pad_top, pl = h->pad_left, row_len = kw * cin;
    const int8_t zp = (int8_t)(-h->input_offset);
    int32_t y = (int32_t)(pix0 / (uint32_t)out_w), x = (int32_t)(pix0 % (uint32_t)out_w);
    for (uint32_t k = 0; k < npix; k++) {
        int8_t *d = patch + k * K;
        const int32_t ix0 = x * sw - pl;
        const int32_t iy0 = y * sh - pt;
        if (g != NULL) {
            /* byte gathers, 16 elements an instruction; taps outside the input read the zero point */
            const int8_t *base = (const int8_t *)((uintptr_t)input + (uintptr_t)((iy0 * in_w + ix0) * cin));
            uint8x16_t rlo, rhi, clo, chi;
            int none = 0;
            elem_tap_range(iy0, in_h, &rlo, &rhi, &none);
            elem_tap_range(ix0, in_w, &clo, &chi, &none);
            const int8x16_t zpv = vdupq_n_s8(zp);
            for (uint32_t q = 0; q < K; q += 16u) {
                const uint32_t c = q / 16u;
                const mve_pred16_t tail = vctp8q(K - q);
                mve_pred16_t in = vcmpcsq_m_u8(g->row[c], rlo, tail);
                in = vcmpcsq_m_u8(rhi, g->row[c], in);
                in = vcmpcsq_m_u8(g->col[c], clo, in);
                in = vcmpcsq_m_u8(chi, g->col[c], in);
                if (none) in = 0;
                const int8x16_t xv = vldrbq_gather_offset_z_s8(base, g->off[c], in);
                vstrbq_p_s8(d + q, vpselq_s8(xv, zpv, in), tail);
            }
            if (++x == out_w) {
                x = 0;
                y++;
            }
            continue;
        }
        /* dilation_w 1: taps [j0, j1) of every kernel row are inside the input, one run */
        int32_t j0 = ix0 < 0 ? -ix0 : 0, j1 = in_w - ix0 < kw ? in_w - ix0 : kw;
        if (j0 > kw) j0 = kw;
        if (j1 < j0) j1 = j0;
        int32_t iy = iy0;
        for (int32_t i = 0; i < kh; i++, d += row_len, iy += dh) {
            if (iy < 0 || iy >= in_h) {
                elem_fill(d, zp, row_len);
                continue;
            }
            const int8_t *row = input + iy * in_w * cin;
            if (dw == 1) {
                elem_fill(d, zp, j0 * cin);
                elem_copy(d + j0 * cin, row + (ix0 + j0) * cin, (j1 - j0) * cin);
                elem_fill(d + j1 * cin, zp, (kw - j1) * cin);
                continue;
            }
            for (int32_t j = 0; j < kw; j++) {
                const int32_t ix = ix0 + j * dw;
                if (ix < 0 || ix >= in_w) {
                    elem_fill(d + j * cin, zp, cin);
                } else {
                    elem_copy(d + j * cin, row + ix * cin, cin);
                }
            }
        }
        if (++x == out_w) {
            x = 0;
            y++;
        }
    }
}

/* Chunks of the current filter of *w (not consumed). */
static uint32_t elem_count_chunks(const dtmm_kept_walk *w, uint32_t cin, uint32_t K)
{
    dtmm_kept_walk t = *w;
    if (K <= 256u) { /* no span splits: exactly ceil(n/16) */
        return (dtmm_kept_walk_count(&t) * cin + 15u) / 16u;
    }
    uint32_t nch = 0, base = 0, cnt = 16, m, first;
    while (dtmm_kept_walk_word(&t, &m, &first)) {
      for (; m != 0u; m &= m - 1u) {
        const uint32_t p = first + (uint32_t)__builtin_ctz(m);
        for (uint32_t ch = 0; ch < cin; ch++, cnt++) {
            const uint32_t e = p * cin + ch;
            if (cnt == 16u || e - base > 255u) {
                nch++;
                base = e;
                cnt = 0;
            }
        }
      }
    }
    return nch;
}

/* Records of filters [o0, ...) into rec (at most cap bytes); returns the end filter. */
static uint32_t elem_records(const dtmm_fwcs_view *v, dtmm_kept_walk *w, const int8_t **wp, uint32_t o0,
                             uint8_t *rec, uint32_t cap, uint8_t **rend)
{
    const uint32_t cin = v->hdr->cin, cout = v->hdr->cout, K = (uint32_t)v->hdr->kh * v->hdr->kw * cin;
    const int dense = v->hdr->encoding == DTMM_FWCS_ENC_DENSE && K <= 256u;
    uint32_t used = 0, o = o0;
    for (; o < cout; o++) {
        dtmm_kept_walk t = *w;
        dtmm_kept_walk_filter(&t);
        /* K <= 256: ceil(K/16) bounds the chunks, so the counting pass runs only near the cap */
        uint32_t nch = K <= 256u ? (K + 15u) / 16u : 0xFFFFu;
        if (used + DTMM_MVE_ELEM_HDR_BYTES + DTMM_MVE_ELEM_CHUNK_BYTES * nch > cap) {
            nch = elem_count_chunks(&t, cin, K);
            if (used + DTMM_MVE_ELEM_HDR_BYTES + DTMM_MVE_ELEM_CHUNK_BYTES * nch > cap) break;
        }
        *w = t;
        mve_elem_hdr *hd = (mve_elem_hdr *)(void *)(rec + used);
        uint8_t *c = rec + used + DTMM_MVE_ELEM_HDR_BYTES;
        const int8_t *src = *wp;
        int32_t sum = 0;
        if (dense) { /* elements 0..K-1 in order: whole vectors */
            for (uint32_t e0 = 0; e0 < K; e0 += 16u, c += DTMM_MVE_ELEM_CHUNK_BYTES) {
                const mve_pred16_t pk = vctp8q(K - e0);
                const int8x16_t wv = vldrbq_z_s8(src + e0, pk);
                *(uint32_t *)(void *)c = 0;
                vstrbq_s8((int8_t *)(c + 4), wv);
                vstrbq_u8(c + 20, vpselq_u8(vidupq_n_u8(e0, 1), vdupq_n_u8(0), pk)); /* idle lanes: offset 0 */
                sum = vaddvaq_s8(sum, wv);
            }
            src += K;
            w->p = w->positions; /* DENSE: the filter is consumed */
        } else if (K <= 256u) { /* base 0: kept element k goes to lane k % 16 of chunk k / 16 */
            /* element offsets of the kept filterlets in order (their weights are contiguous at src) */
            uint8_t offs[256 + 16];
            uint32_t k = 0, m, first;
            const uint8x16_t lanes = vidupq_n_u8(0u, 1);
            while (dtmm_kept_walk_word(w, &m, &first)) {
                for (; m != 0u; m &= m - 1u, k += cin) {
                    const uint32_t e = (first + (uint32_t)__builtin_ctz(m)) * cin;
                    for (uint32_t ch = 0; ch < cin; ch += 16u) { /* cin <= 256: whole vectors */
                        vstrbq_u8(offs + k + ch, vaddq_n_u8(lanes, (uint8_t)(e + ch)));
                    }
                }
            }
            nch = (k + 15u) / 16u;
            for (uint32_t e0 = 0; e0 < k; e0 += 16u, c += DTMM_MVE_ELEM_CHUNK_BYTES) {
                const mve_pred16_t pk = vctp8q(k - e0);
                const int8x16_t wv = vldrbq_z_s8(src + e0, pk);
                *(uint32_t *)(void *)c = 0;
                vstrbq_s8((int8_t *)(c + 4), wv);
                vstrbq_u8(c + 20, vpselq_u8(vldrbq_u8(offs + e0), vdupq_n_u8(0), pk)); /* idle lanes: offset 0 */
                sum = vaddvaq_s8(sum, wv);
            }
            src += k;
        } else {
            c -= DTMM_MVE_ELEM_CHUNK_BYTES; /* before the first chunk */
            uint32_t base = 0, cnt = 16, m, first;
            while (dtmm_kept_walk_word(w, &m, &first)) {
              for (; m != 0u; m &= m - 1u) {
                uint32_t e = (first + (uint32_t)__builtin_ctz(m)) * cin;
                for (uint32_t ch = 0; ch < cin; ch++, cnt++, e++) {
                    if (cnt == 16u || e - base > 255u) { /* next chunk */
                        c += DTMM_MVE_ELEM_CHUNK_BYTES;
                        base = K <= 256u ? 0u : e; /* K <= 256: offsets from the patch start */
                        cnt = 0;
                        *(uint32_t *)(void *)c = base;
                        vstrbq_u8(c + 4, vdupq_n_u8(0));
                        vstrbq_u8(c + 20, vdupq_n_u8(0));
                    }
                    c[4u + cnt] = (uint8_t)*src;
                    c[20u + cnt] = (uint8_t)(e - base);
                    sum += *src++;
                }
              }
            }
        }
        *wp = src;
        hd->init = (int32_t)((uint32_t)v->bias[o] + (uint32_t)v->hdr->input_offset * (uint32_t)sum);
        hd->mult = v->multiplier[o];
        hd->shift = v->shift[o];
        hd->nch = nch;
        hd->reserved = 0;
        used += DTMM_MVE_ELEM_HDR_BYTES + DTMM_MVE_ELEM_CHUNK_BYTES * nch;
    }
    *rend = rec + used;
    return o;
}

static void elem_run_block(const dtmm_fwcs_header *h, const uint8_t *r, const uint8_t *rend, const int8_t *patch,
                           uint32_t K, int8_t *op, uint32_t nvalid)
{
    const int32_t cout = h->cout, ooff = h->output_offset;
    const int32_t lo = h->act_min - ooff, hi = h->act_max - ooff;
    const uint32x4_t soff = vmulq_n_u32(vidupq_n_u32(0u, 1), (uint32_t)cout);
    const mve_pred16_t pv = vctp32q(nvalid);
    const int32x4_t vlo = vdupq_n_s32(h->act_min), vhi = vdupq_n_s32(h->act_max); /* out of the loop */
    const int8_t *p1 = patch + K, *p2 = patch + 2u * K, *p3 = patch + 3u * K;
    while (r < rend) {
        const mve_elem_hdr *hd = (const mve_elem_hdr *)(const void *)r;
        int32_t a0 = hd->init, a1 = a0, a2 = a0, a3 = a0;
        const uint8_t *c = r + DTMM_MVE_ELEM_HDR_BYTES;
        uint32_t n = hd->nch;
        if (K <= 256u) { /* every base is 0: fixed gather bases */
            for (; n != 0; n--, c += DTMM_MVE_ELEM_CHUNK_BYTES) {
                const int8x16_t wv = vldrbq_s8((const int8_t *)(c + 4));
                const uint8x16_t off = vldrbq_u8(c + 20);
                a0 = vmladavaq_s8(a0, vldrbq_gather_offset_s8(patch, off), wv);
                a1 = vmladavaq_s8(a1, vldrbq_gather_offset_s8(p1, off), wv);
                a2 = vmladavaq_s8(a2, vldrbq_gather_offset_s8(p2, off), wv);
                a3 = vmladavaq_s8(a3, vldrbq_gather_offset_s8(p3, off), wv);
            }
        } else {
            for (; n != 0; n--, c += DTMM_MVE_ELEM_CHUNK_BYTES) {
                const uint32_t base = *(const uint32_t *)(const void *)c;
                const int8x16_t wv = vldrbq_s8((const int8_t *)(c + 4));
                const uint8x16_t off = vldrbq_u8(c + 20);
                a0 = vmladavaq_s8(a0, vldrbq_gather_offset_s8(patch + base, off), wv);
                a1 = vmladavaq_s8(a1, vldrbq_gather_offset_s8(p1 + base, off), wv);
                a2 = vmladavaq_s8(a2, vldrbq_gather_offset_s8(p2 + base, off), wv);
                a3 = vmladavaq_s8(a3, vldrbq_gather_offset_s8(p3 + base, off), wv);
            }
        }
        const int32_t mult = hd->mult, shift = hd->shift;
        r = c;
        if (shift <= -1) { /* vector requantization, see the file header */
            int32x4_t acc = vdupq_n_s32(a0);
            acc = vsetq_lane_s32(a1, acc, 1);
            acc = vsetq_lane_s32(a2, acc, 2);
            acc = vsetq_lane_s32(a3, acc, 3);
            int32x4_t y = vqrdmlahq_n_s32(vshrq_n_s32(acc, 31), acc, mult);
            y = vrshlq_n_s32(y, shift);
            y = vaddq_n_s32(y, ooff);
            y = vmaxq_s32(y, vlo);
            y = vminq_s32(y, vhi);
            vstrbq_scatter_offset_p_s32(op, soff, y, pv);
        } else {
            const int32_t acc[4] = {a0, a1, a2, a3};
            for (uint32_t k = 0; k < nvalid; k++) {
                int32_t y = dtmm_fp_requantize(acc[k], mult, shift);
                y = y < lo ? lo : y > hi ? hi : y;
                op[(int32_t)k * cout] = (int8_t)(y + ooff);
            }
        }
        op++;
    }
}

static __attribute__((noinline)) dtmm_status elem_conv(const dtmm_fwcs_view *v, const dtmm_mve_elem_layout *E,
                                                       const int8_t *input, int8_t *output, uint8_t *base)
{
    const dtmm_fwcs_header *h = v->hdr;
    const uint32_t cout = h->cout, npix = (uint32_t)h->out_h * h->out_w;
    int8_t *patch = (int8_t *)(base + E->off_patch);
    elem_gather gather;
    const elem_gather *g = elem_gather_init(h, E->K, &gather) ? &gather : NULL;
    dtmm_kept_walk w;
    dtmm_kept_walk_init(&w, v);
    const int8_t *wp = v->weights;
    for (uint32_t o0 = 0; o0 < cout;) {
        uint8_t *rend;
        const uint32_t o1 = elem_records(v, &w, &wp, o0, base, E->rec_bytes, &rend);
        for (uint32_t px = 0; px < npix; px += 4u) {
            const uint32_t nv = npix - px < 4u ? npix - px : 4u;
            elem_patches(h, input, patch, E->K, px, nv, g);
            elem_run_block(h, base, rend, patch, E->K, output + px * cout + o0, nv);
        }
        o0 = o1;
    }
    return DTMM_OK;
}


/* The element-list variant: layers with kh*kw > 32 whose lists fit (dtmm_mve_variant()). */
static dtmm_status elem_layer(const dtmm_fwcs_view *v, const int8_t *input, int8_t *output, void *scratch)
{
    dtmm_mve_elem_layout E;
    if (dtmm_conv_mve_elem_layout(v->hdr, &E) != 0) {
        return DTMM_ERR_UNSUPPORTED;
    }
    if (scratch == NULL || ((uintptr_t)scratch & 3u) != 0) {
        return DTMM_ERR_ARGUMENT;
    }
    return elem_conv(v, &E, input, output, (uint8_t *)scratch);
}

/* ---- the variants (dtmm_conv_variants.h): each object is the only reference to its code ---- */
#define MVE_KERNEL_VARIANT(name) const dtmm_conv_variant dtmm_conv_mve_##name = {DTMM_CONV_V_mve_##name, name, NULL, NULL, NULL};
/* the generic family: with its row-tail kernel */
#define MVE_GEN_VARIANT(name) const dtmm_conv_variant dtmm_conv_mve_##name = {DTMM_CONV_V_mve_##name, name, NULL, gen_tail, gen_records};
MVE_KERNEL_VARIANT(quad16_s16_clamp)
MVE_KERNEL_VARIANT(quad16_s16_full)
MVE_KERNEL_VARIANT(quad16_s32_clamp)
MVE_KERNEL_VARIANT(quad16_s32_full)
MVE_KERNEL_VARIANT(quad32_s32_clamp)
MVE_KERNEL_VARIANT(quad32_s32_full)
MVE_KERNEL_VARIANT(quad32_s64_clamp)
MVE_KERNEL_VARIANT(quad32_s64_full)
MVE_KERNEL_VARIANT(quad64_s64_clamp)
MVE_KERNEL_VARIANT(quad64_s64_full)
MVE_KERNEL_VARIANT(quad16_s16_clamp_l)
MVE_KERNEL_VARIANT(quad16_s16_full_l)
MVE_KERNEL_VARIANT(quad16_s32_clamp_l)
MVE_KERNEL_VARIANT(quad16_s32_full_l)
MVE_KERNEL_VARIANT(quad32_s32_clamp_l)
MVE_KERNEL_VARIANT(quad32_s32_full_l)
MVE_KERNEL_VARIANT(quad32_s64_clamp_l)
MVE_KERNEL_VARIANT(quad32_s64_full_l)
MVE_KERNEL_VARIANT(quad64_s64_clamp_l)
MVE_KERNEL_VARIANT(quad64_s64_full_l)
MVE_KERNEL_VARIANT(pair16_s16)
MVE_KERNEL_VARIANT(pair16_s32)
MVE_KERNEL_VARIANT(pair32_s32)
MVE_KERNEL_VARIANT(pair32_s64)
MVE_KERNEL_VARIANT(pair64_s64)
MVE_GEN_VARIANT(gen_n0_t)
MVE_GEN_VARIANT(gen_n1)
MVE_GEN_VARIANT(gen_n1_t)
MVE_GEN_VARIANT(gen_n2)
MVE_GEN_VARIANT(gen_n2_t)
MVE_GEN_VARIANT(gen_n3)
MVE_GEN_VARIANT(gen_n3_t)
MVE_GEN_VARIANT(gen_n4)
MVE_GEN_VARIANT(gen_n4_t)
MVE_GEN_VARIANT(gen_n5)
MVE_GEN_VARIANT(gen_n5_t)
MVE_GEN_VARIANT(gen_n6)
MVE_GEN_VARIANT(gen_n6_t)
MVE_GEN_VARIANT(gen_n7)
MVE_GEN_VARIANT(gen_n7_t)
MVE_GEN_VARIANT(gen_loop)
/* patch mode by gathers: with its records hook */
const dtmm_conv_variant dtmm_conv_mve_pg_clamp = {DTMM_CONV_V_mve_pg_clamp, pg_clamp, NULL, NULL, pg_records};
const dtmm_conv_variant dtmm_conv_mve_pg_full = {DTMM_CONV_V_mve_pg_full, pg_full, NULL, NULL, pg_records};
const dtmm_conv_variant dtmm_conv_mve_elem = {DTMM_CONV_V_mve_elem, NULL, elem_layer, NULL, NULL};
/* item mode: the one-chunk generic kernel on records of 16-byte items (cin 4 or 8) */
const dtmm_conv_variant dtmm_conv_mve_items = {DTMM_CONV_V_mve_items, gen_n1, NULL, gen_tail, item_records};
#undef MVE_KERNEL_VARIANT
#undef MVE_GEN_VARIANT

/*
 * The rows of a layer whose records are in scratch: output scatter offsets (generic kernel), the
 * kernel arguments, patch mode's gather offsets, the row window or the edge patches, then the
 * kernel calls row by row.  Once per call plus a few instructions per output row: -Os.
 */
static __attribute__((noinline)) DTMM_COLD dtmm_status run_layer(layer_ctx *c, const dtmm_fwcs_header *h,
                                                                 const dtmm_mve_layout *L, uint32_t G, uint8_t *s,
                                                                 const int8_t *input, int8_t *output)
{
    const uint32_t cin = h->cin, cout = h->cout, kw = h->kw, P = L->positions;
    const int32_t in_h = h->in_h, in_w = h->in_w, out_h = h->out_h, out_w = h->out_w;
    const int32_t sh = h->stride_h, sw = h->stride_w, dw = h->dilation_w;
    const int32_t in_off = h->input_offset;
    /* ---- generic kernel: output scatter offsets of the 4 pixels ---- */
    if (G == 1u) {
        vstrwq_u32((uint32_t *)(void *)(s + L->off_qoff), vmulq_n_u32(vidupq_n_u32(0u, 1), cout));
    }

    /* ---- kernel ---- */
    const uint32_t tail = L->cin_eff % 16u;

    c->h = h;
    c->L = L;
    c->in = input;
    c->zp = (int8_t)(-in_off);
    c->cin = (int32_t)cin;
    c->in_h = in_h;
    c->in_w = in_w;
    c->in_step = sw * (int32_t)cin;
    c->tab = (uint32_t *)(void *)(s + L->off_tab);
    c->impatch = (int8_t *)(s + L->off_impatch);
    c->args.rec = (const uint32_t *)(const void *)(s + L->off_rec);
    c->args.out_off = h->output_offset;
    c->args.act_min = h->act_min;
    c->args.act_max = h->act_max;
    c->args.qoff = s + L->off_qoff;
    c->args.tail = tail;
    c->args.chunks = L->cin_eff / 16u;
    c->args.cin = c->pg ? (uint32_t)c->in_step : L->cin_eff; /* pg kernels: the pixel step */
    if (G == 1u && c->args.chunks >= 8u) { /* gen_loop, two chunks per iteration: ceil(chunks/2) << 1 | odd */
        c->args.chunks = ((c->args.chunks + 1u) & ~1u) | (c->args.chunks & 1u);
    }
    c->args.out_adv = G == 1u ? 3u * cout : 4u * cout; /* the generic kernel advanced by cout already */
    for (uint32_t j = 0; j < kw; j++) c->coff[j] = j * (uint32_t)dw * cin;
    c->gather = 0;
    c->direct = (L->pair && !L->patch) || c->pg;
    if (L->patch && !c->pg) {
        /* patch byte q = position p = q / cin, channel q % cin: offset i*row_step + j*dw*cin + channel */
        uint8_t g[DTMM_MVE_PATCH_MAX];
        uint32_t fits = 1;
        for (uint32_t q = 0; q < L->cin_eff; q++) {
            const uint32_t p = q / cin, o = q < P * cin ? (p / kw) * L->row_step + c->coff[p % kw] + q % cin : 0u;
            fits &= o <= 255u;
            g[q] = (uint8_t)o;
        }
        if (fits) {
            c->gather = 1;
            for (uint32_t q = 0; q < L->cin_eff / 16u; q++) c->gofs[q] = vldrbq_u8(g + 16u * q);
        }
    }

    int8_t *tmp = (int8_t *)(s + L->off_tmp);
    c->edge = (int8_t *)(s + L->off_edge);
    const int32_t nfull = out_w / 4; /* blocks stored in place; a partial last block goes through tmp */
    const int32_t row_out = out_w * (int32_t)cout;
    const int32_t pad_top = h->pad_top, pad_left = h->pad_left;

    if (L->rows != DTMM_MVE_ROWS_EDGE) {
        if (L->rows == DTMM_MVE_ROWS_WINDOW) {
            c->wbuf = (int8_t *)(s + L->off_win);
            c->wfirst = -pad_top;
            c->wcount = 0;
            const int32_t room = (int32_t)L->ring_w - pad_left; /* columns 0.. a window row holds */
            c->copy_cols = in_w < room ? in_w : room;
            /* the padding columns of every window row: zero point once, rows only overwrite the rest */
            const int32_t right = (pad_left + c->copy_cols) * (int32_t)cin;
            for (uint32_t k = 0; k < L->win_rows; k++) {
                int8_t *row = c->wbuf + k * L->pitch;
                mve_fill(row, c->zp, pad_left * (int32_t)cin);
                mve_fill(row + right, c->zp, (int32_t)(L->ring_w * cin) - right);
            }
        }
        const int direct_groups = c->direct;
        c->args.tab_stride = (uint32_t)(4 * c->in_step);
        int8_t *out_row = output;
        for (int32_t y = 0; y < out_h; y++, out_row += row_out) {
            const int32_t lo = y * sh - pad_top;
            const int32_t inner = nfull; /* blocks stored in place */
            c->win = L->rows == DTMM_MVE_ROWS_WINDOW ? window_rows(c, lo) : input + lo * in_w * (int32_t)cin;
            if (direct_groups) { /* group kernels read the window itself: one call for the whole row */
                if (inner > 0) {
                    c->args.tab = c->win;
                    c->args.out = out_row;
                    c->args.n_blocks = (uint32_t)inner;
                    c->fn(&c->args);
                }
            } else {
                for (int32_t b0 = 0; b0 < inner; b0 += (int32_t)L->run_max) {
                    const int32_t n = inner - b0 < (int32_t)L->run_max ? inner - b0 : (int32_t)L->run_max;
                    run_blocks(c, b0, n, out_row + b0 * 4 * (int32_t)cout);
                }
            }
            if (nfull < (int32_t)L->n_blocks) { /* a last block of 1..3 pixels: tail kernel, or through tmp */
                run_last(c, nfull, out_w - 4 * nfull, out_row + 4 * nfull * (int32_t)cout, tmp);
            }
        }
        return DTMM_OK;
    }

    /* ---- edge patches: every block reads a zero-point padded copy of its receptive field ---- */
    int8_t *edge = (int8_t *)(s + L->off_edge);
    int8_t *out_row = output;
    for (int32_t y = 0; y < out_h; y++, out_row += row_out) {
        const int32_t iy0 = y * sh - pad_top;
        for (int32_t b = 0; b < (int32_t)L->n_blocks; b++) {
            const int32_t x0 = 4 * b;
            build_edge(c, edge, iy0, x0 * sw - pad_left, (int32_t)L->row_step);
            c->win = edge;
            if (b < nfull && c->pg) {
                run_pg_block(c, 0, out_row + x0 * (int32_t)cout);
            } else if (b < nfull) {
                run_blocks(c, 0, 1, out_row + x0 * (int32_t)cout);
            } else {
                run_last(c, 0, out_w - x0, out_row + x0 * (int32_t)cout, tmp);
            }
        }
    }
    return DTMM_OK;
}

/*
 * The path: dtmm_mve_variant() picks the layer's variant (an inner kernel
 * for the main driver below, or a whole-layer routine), which must be in
 * the caller's list.
 */
dtmm_status dtmm_conv_s8_mve_with(const dtmm_fwcs_view *v, const int8_t *input, int8_t *output, void *scratch,
                                  const dtmm_conv_variant *const *variants, uint32_t n_variants)
{
    if (v == NULL || v->hdr == NULL || input == NULL || output == NULL) {
        return DTMM_ERR_ARGUMENT;
    }
    const dtmm_fwcs_header *h = v->hdr;
    dtmm_mve_layout L;
    const dtmm_conv_variant *var = dtmm_conv_variant_find(variants, n_variants, dtmm_mve_variant(v, &L));
    if (var == NULL) {
        return DTMM_ERR_UNSUPPORTED; /* the caller did not link the variant this layer needs */
    }
    if (var->layer != NULL) {
        return var->layer(v, input, output, scratch); /* kh*kw > 32: element list or portable */
    }
    layer_ctx c; /* the kernel goes to memory at once: nothing more stays live across the setup */
    c.fn = var->kernel;
    c.pg = var->id >= DTMM_CONV_V_mve_pg_clamp; /* patch mode by gathers (quad groups) */
    c.tail = var->tail;
    uint32_t *(*const records)(const dtmm_fwcs_view *, uint32_t *, uint32_t *, uint8_t *, const uint8_t *,
                               const int8_t *) = var->records;
    const uint32_t id = var->id;
    const uint32_t G = id <= DTMM_CONV_V_mve_quad64_s64_full || id >= DTMM_CONV_V_mve_quad16_s16_clamp_l ? 4u
                       : id <= DTMM_CONV_V_mve_pair64_s64                                               ? 2u
                                                                                                        : 1u;
    if (scratch == NULL || ((uintptr_t)scratch & 3u) != 0) {
        return DTMM_ERR_ARGUMENT;
    }
    uint8_t *s = (uint8_t *)scratch;
    const uint32_t cin = h->cin, cout = h->cout, kw = h->kw, P = L.positions;
    const int32_t dw = h->dilation_w;
    const int32_t in_off = h->input_offset;
    const int dense = h->encoding == DTMM_FWCS_ENC_DENSE;
    const uint32_t all = P == 32u ? 0xFFFFFFFFu : (1u << P) - 1u;

    /* ---- kept positions of every filter (in the work area until the records exist) ---- */
    uint32_t *masks = (uint32_t *)(void *)(s + L.off_masks);
    /* group kernels on a BITMAP index decode it while building their lists (below) */
    const int fused_bitmap = L.pair && !L.patch && h->encoding == DTMM_FWCS_ENC_BITMAP && P <= 24u;
    if (!fused_bitmap) mve_masks(v, masks, P);

    int8_t *zero = (int8_t *)(s + L.off_zero);
    mve_fill(zero, 0, (int32_t)(L.off_qoff - L.off_zero));

    /*
     * ---- position lists: DENSE shares 0..P-1; packed encodings list each
     * filter's bits.  masks[o] becomes the count of kept positions (patch
     * mode keeps the masks: it expands the weights by position). ----
     */
    uint8_t *list = s + L.off_list;
    const uint32_t esz = L.pair ? 2u : 1u; /* group kernels: u16 byte offsets; generic: u8 positions */
    uint16_t posoff[DTMM_MVE_MAX_POSITIONS];
    for (uint32_t p = 0; p < P; p++) posoff[p] = (uint16_t)((p / kw) * L.row_step + (p % kw) * (uint32_t)dw * cin);
    const uint8_t *dummy_list;
    uint32_t n_empty = 0, n = 0;
    uint16_t *list16 = (uint16_t *)(void *)list;
    if (L.patch) {
        n = 0;
        for (uint32_t o = 0; o < cout; o++) n_empty += masks[o] == 0u;
    } else if (dense) {
        for (n = 0; n < P; n++) {
            if (L.pair) list16[n] = posoff[n];
            else list[n] = (uint8_t)n;
        }
        for (uint32_t o = 0; o < cout; o++) masks[o] = P;
    } else if (fused_bitmap) {
        uint16_t *e = list16;
        const uint8_t *ix = v->index;
        uint32_t buf = 0, avail = 0; /* avail + 8 <= 31 before every refill */
        for (uint32_t o = 0; o < cout; o++) {
            while (avail < P) {
                buf |= (uint32_t)*ix++ << avail;
                avail += 8u;
            }
            const uint32_t m = buf & all;
            buf >>= P;
            avail -= P;
            uint16_t *first = e;
            if (m != 0u) e = mve_list_bits(e, m, posoff);
            masks[o] = (uint32_t)(e - first);
            n_empty += m == 0u;
        }
        n = (uint32_t)(e - list16);
    } else if (L.pair) {
        uint16_t *e = list16;
        for (uint32_t o = 0; o < cout; o++) {
            uint16_t *first = e;
            if (masks[o] != 0u) e = mve_list_bits(e, masks[o], posoff);
            masks[o] = (uint32_t)(e - first);
            n_empty += e == first;
        }
        n = (uint32_t)(e - list16);
    } else {
        for (uint32_t o = 0; o < cout; o++) {
            const uint32_t first = n;
            for (uint32_t m = masks[o]; m != 0; m &= m - 1u) list[n++] = (uint8_t)__builtin_ctz(m);
            masks[o] = n - first;
            n_empty += n == first;
        }
    }
    /* one more entry, position 0: the dummy filterlet of filters with nothing kept (and patch mode) */
    if (L.pair) list16[n] = 0;
    else list[n] = 0;
    dummy_list = list + n * esz;
    if (L.patch) dummy_list = list;
    const uint32_t n_live = cout - n_empty;

    /*
     * Kernel family.  Group kernels: filters with nothing kept leave the
     * groups (their constant outputs are stored per block, one scatter store
     * per group); a quad kernel runs the live filters beyond a multiple of 4
     * one by one (the _l kernels: the rule takes them wherever that can
     * happen), a pair kernel completes its last group with an empty filter
     * (one dummy filterlet) or a copy of a live one.
     */
    uint32_t n_single = G == 4u ? n_live % 4u : 0u;
    uint32_t pad = G == 2u ? n_live % 2u : 0u;
    if (G > 1u && n_live < G) { /* the kernels run at least one group: complete it */
        n_single = 0;
        pad = G - n_live;
    }
    if (n_single != 0u && id < DTMM_CONV_V_mve_quad16_s16_clamp_l) {
        return DTMM_ERR_UNSUPPORTED; /* not from the rule: a quad kernel without the leftover code */
    }
    const uint32_t pad_empty = pad < n_empty ? pad : n_empty; /* (pg_records() decides the same) */
    const uint32_t rec_words = G == 4u ? 9u : 11u;
    /* byte lanes 4k..4k+3: k*cout (quad kernels only, where 4*cout - 1 fits a byte) */
    const uint32_t kcw[4] = {0u, cout * 0x01010101u, 2u * cout * 0x01010101u, 3u * cout * 0x01010101u};
    const uint8x16_t kc = vreinterpretq_u8_u32(vldrwq_u32(kcw));

    /* ---- the record stream ---- */
    uint32_t *r = (uint32_t *)(void *)(s + L.off_rec);
    const int8_t *w = v->weights;
    uint32_t list_pos = 0, empties_seen = 0, in_group = 0, live_seen = 0;
    uint16_t ch[4];
    uint32_t single_buf[3u * 13u]; /* quad leftovers: record + offsets, written after the end record */
    uint32_t *single_end = single_buf;
    if (G > 1u && !L.patch) {
        /* the common case, written out: group kernels reading the input rows */
        const uint32_t group_live = n_live - n_single;
        const int32_t *bias = v->bias, *mult = v->multiplier, *shf = v->shift;
        const uint16_t *lst = (const uint16_t *)(const void *)list;
        for (uint32_t o = 0; o < cout; o++) {
            const uint32_t kept = masks[o];
            uint32_t *d;
            const int8_t *wp;
            const uint16_t *lp;
            uint32_t cnt, init;
            if (kept != 0u) {
                wp = w;
                lp = dense ? lst : lst + list_pos;
                cnt = kept;
                init = (uint32_t)bias[o] + (uint32_t)in_off * (uint32_t)mve_sum(w, (int32_t)(kept * cin));
                w += kept * cin;
                list_pos += kept;
                d = live_seen++ < group_live ? r : single_end;
            } else {
                if (empties_seen++ >= pad_empty) continue; /* a constant output, stored after the groups */
                wp = zero;
                lp = (const uint16_t *)(const void *)dummy_list;
                cnt = 1;
                init = (uint32_t)bias[o];
                d = r;
            }
            const int32_t sh_o = shf[o];
            d[0] = d[2] = d[4] = d[5] = init;
            d[1] = (uint32_t)(uintptr_t)wp;
            d[3] = (uint32_t)(uintptr_t)lp;
            d[6] = (uint32_t)mult[o];
            d[7] = sh_o > 0 ? 0u : (uint32_t)sh_o;
            d[8] = cnt;
            if (rec_words > 9u) {
                d[9] = sh_o > 0 ? (uint32_t)sh_o : 0u;
                d[10] = sh_o < 0 ? 1u : 0u;
            }
            if (d == single_end) { /* a quad leftover */
                ch[3] = (uint16_t)o;
                single_end = put_group_offsets(d + 9, ch + 3, 1u, cout, kc);
                continue;
            }
            r = d + rec_words;
            ch[in_group++] = (uint16_t)o;
            if (in_group == G) {
                r = put_group_offsets(r, ch, G, cout, kc);
                in_group = 0;
            }
        }
    }
    if (G == 1u && !L.patch) { /* generic and item records: their variants' hooks, linked only with them */
        r = records(v, masks, r, list, dummy_list, zero);
    } else if (c.pg) { /* the pg variants' hook: group records of gathered chunks, linked only with them */
        r = records(v, masks, r, s + L.off_wexp, (const uint8_t *)posoff, zero);
    }
    for (uint32_t o = c.pg ? cout : 0u; o < cout && L.patch; o++) { /* patch mode (not pg): expanded weight rows */
        const int empty = masks[o] == 0u;
        if (G > 1u && empty && empties_seen++ >= pad_empty) {
            continue; /* a constant output, stored after the groups (no weights to skip) */
        }
        mve_filter f;
        f.mult = v->multiplier[o];
        f.shift = v->shift[o];
        /* dense row of the filter: kept filterlets at their positions, zeros elsewhere */
        int8_t *row = (int8_t *)(s + L.off_wexp) + o * L.cin_eff;
        mve_fill(row, 0, (int32_t)L.cin_eff);
        for (uint32_t mm = dense ? all : masks[o]; mm != 0; mm &= mm - 1u) {
            mve_copy(row + (uint32_t)__builtin_ctz(mm) * cin, w, (int32_t)cin);
            w += cin;
        }
        f.wp = row;
        f.lst = list;
        f.cnt = 1;
        const int32_t sum = mve_sum(row, (int32_t)L.cin_eff);
        f.init = (uint32_t)v->bias[o] + (uint32_t)in_off * (uint32_t)sum;
        if (G == 1u) {
            /* generic kernel: b, wp, b, lst, b, b, count, mult, -right, left, flag; every filter */
            r[0] = r[2] = r[4] = r[5] = f.init;
            r[1] = (uint32_t)(uintptr_t)f.wp;
            r[3] = (uint32_t)(uintptr_t)f.lst;
            r[6] = f.cnt;
            r[7] = (uint32_t)f.mult;
            r[8] = f.shift > 0 ? 0u : (uint32_t)f.shift;
            r[9] = f.shift > 0 ? (uint32_t)f.shift : 0u;
            r[10] = f.shift < 0 ? 1u : 0u;
            r += 11;
            continue;
        }
        if (!empty && live_seen++ >= n_live - n_single) {
            single_end = put_group_record(single_end, &f, 9u); /* a quad leftover */
            ch[3] = (uint16_t)o;
            single_end = put_group_offsets(single_end, ch + 3, 1u, cout, kc);
            continue;
        }
        r = put_group_record(r, &f, rec_words);
        ch[in_group++] = (uint16_t)o;
        if (in_group == G) {
            r = put_group_offsets(r, ch, G, cout, kc);
            in_group = 0;
        }
    }
    if (G > 1u && in_group != 0u) { /* no empty filter left to complete the last group: repeat its last */
        for (; in_group < G; in_group++) {
            const uint32_t *prev = r - rec_words;
            for (uint32_t k = 0; k < rec_words; k++) r[k] = prev[k];
            r += rec_words;
            ch[in_group] = ch[in_group - 1u];
        }
        r = put_group_offsets(r, ch, G, cout, kc);
    }
    /* end record: count 0; wp word: constant groups; lst word: quad leftovers */
    const uint32_t n_const = G == 1u ? 0u : n_empty - pad_empty;
    const uint32_t n_const_groups = G == 1u ? 0u : (n_const + G - 1u) / G;
    for (uint32_t k = 0; k < 9u; k++) r[k] = 0;
    r[1] = n_const_groups;
    r += G == 1u ? 7u : 9u - c.pg; /* pg kernels: 8-word records */
    if (n_const_groups != 0u) {
        int8_t val[4];
        uint32_t k = 0, seen = 0;
        for (uint32_t o = 0; o < cout; o++) {
            if (masks[o] != 0u || seen++ < pad_empty) continue;
            int32_t y = dtmm_requantize(v->bias[o], v->multiplier[o], v->shift[o]) + h->output_offset;
            y = y < h->act_min ? h->act_min : y > h->act_max ? h->act_max : y;
            ch[k] = (uint16_t)o;
            val[k] = (int8_t)y;
            if (++k == G) {
                r = put_const_group(r, ch, val, G, cout, kc);
                k = 0;
            }
        }
        if (k != 0u) {
            for (; k < G; k++) {
                ch[k] = ch[k - 1u];
                val[k] = val[k - 1u];
            }
            r = put_const_group(r, ch, val, G, cout, kc);
        }
    }
    if (G == 4u) { /* quad leftovers, then a record with count 0 */
        for (const uint32_t *q = single_buf; q < single_end; q++) *r++ = *q;
        for (uint32_t k = 0; k < 9u; k++) r[k] = 0;
        r += 9;
    }

    return run_layer(&c, h, &L, G, s, input, output);
}

#else /* no integer MVE: keep the symbols, forward to the portable path */

dtmm_status dtmm_conv_s8_mve_with(const dtmm_fwcs_view *v, const int8_t *input, int8_t *output, void *scratch,
                                  const dtmm_conv_variant *const *variants, uint32_t n_variants)
{
    return dtmm_conv_s8_c_with(v, input, output, scratch, variants, n_variants);
}

#endif
