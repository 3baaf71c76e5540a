/*
 * dtmm_conv_s8_dsp_with.c - filterlet int8 convolution on the Arm DSP extension, its kernel variants
 * (dtmm_conv_variants.h) and their objects (Cortex-M4/M7/M33: SMLAD, SXTB16/SXTAB16, SMMLAR, SSAT).
 *
 * Output pixels are computed four at a time (four horizontally adjacent
 * pixels of one output row, a "block"), filter by filter.  For a block the
 * 4 accumulators of a filter stay in registers while its kept filterlets are
 * visited in storage order (mask bits, lowest first); each word of 4 int8
 * weights is loaded once, split into its even and odd lanes with SXTB16 and
 * used for all 4 pixels:
 *
 *   per 4 channels: LDR w; SXTB16 x2; LDM x2 (4 pixels' int16 inputs);
 *                   SMLAD x8; ADD (next group of the band)
 *
 * i.e. 14 instructions for 16 MACs, in a fully unrolled sequence entered G
 * groups before its end (no loop counter); a kept position adds 7 more.  A
 * filter's kept positions are the same for all 4 pixels, so pruning costs
 * no SIMD efficiency: a pruned filterlet costs nothing, an empty filter only
 * its requantization.
 *
 * The int16 inputs come from a band of expanded input rows (see
 * dtmm_conv_dsp_internal.h): every input row is expanded once, with the
 * input offset added, even channel lanes in one word and odd lanes in the
 * other (SXTAB16), which is exactly the permutation SXTB16 gives the
 * weights; padding taps are zero words, so borders need no special code.
 *
 * Requantization is TFLite's double rounding, computed exactly in 5
 * instructions per output when multiplier >= 2^30 and shift <= -2 (every
 * QuantizeMultiplier result with a right shift of at least 2):
 *   y = SRDHM(acc, m) = floor((acc*m + 2^30) / 2^31)
 *     = SMMLAR(acc, 2m - 2^32, acc)                        (64-bit exact)
 *   out = RDBP(y, r) = floor((y - [y<0] + 2^(r-1)) / 2^r)
 *       = floor((floor((y - [y<0]) / 2^(r-1)) + 1) / 2)    (no overflow)
 *   then + output_offset and saturation, folded into
 *   SSAT #8, (u + 1 + 2*output_offset) ASR #1.
 * Filters with other requantization parameters (left shifts, shift -1/0,
 * multipliers below 2^30) are recomputed afterwards by plain C using
 * dtmm_requantize(); activation clamps narrower than int8 are applied by a
 * final SIMD pass over the output.
 *
 * Layers with cin = 1 (three of the four lanes of a group would multiply
 * padding) or more than 32 kernel positions (no 32-bit masks) run the
 * element-list kernel below instead (elem_blocks()).  Shapes neither takes
 * (cin > 256, scratch above the caps) and builds without the DSP extension
 * use the portable path dtmm_conv_s8_c().
 */
#include <stddef.h>

#include "dtmm_conv_dsp_internal.h"
#include "dtmm_conv_kept_walk.h"
#include "dtmm_kernels.h"

#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP && defined(__thumb2__) && defined(__GNUC__)
#define DTMM_DSP_ASM 1
#else
#define DTMM_DSP_ASM 0
#endif

#if !DTMM_DSP_ASM

dtmm_status dtmm_conv_s8_dsp_with(const dtmm_fwcs_view *v, const int8_t *input, int8_t *output, void *scratch,
                                  const dtmm_conv_variant *const *variants, uint32_t n_variants)
{
    return dtmm_conv_s8_c_with(v, input, output, scratch, variants, n_variants);
}

#else

#include <arm_acle.h>

#include "../common/dtmm_fixedpoint.h"

/* ---- the assembly core ------------------------------------------------------
 *
 * dsp_blocks(call) computes call->nblk consecutive blocks of one output row
 * for the filters whose records are [par0, pend).  Its frame (on the stack,
 * so a tap's input pointer is one sp-relative LDR) is:
 *   [sp + 0, 128)   tbl[32]: input pointer of each kernel position for the
 *                   current block (advanced by 32 bytes per block)
 *   [sp + 128, 184) the first 14 words of dsp_call (entry computed from G)
 *   [sp + 184, 188) unused (keeps sp 8-byte aligned)
 * Registers in the filterlet loop: r0 band group stride - 16 (whole call),
 * r1 mask, r2 weights, r3 input, r4-r7 two pixels' inputs, r8-r11
 * accumulators, r12/lr weight lanes; the record pointer waits in the frame.
 * The first words are ordered for one LDM into r1, r2, r3, r4, r7, r12, lr.
 */
typedef struct {
    int32_t k;           /* 1 + 2*output_offset */
    int32_t c3;          /* store offset of pixel 3 from pixel 0 */
    int8_t *op;          /* output of pixel 0 of the first block, first filter */
    const uint32_t *rec; /* running record pointer (set by the asm) */
    int32_t c1, c2;      /* store offsets of pixels 1 and 2 */
    const uint32_t *pend;
    uint32_t groups;     /* G: the asm turns it into the entry of the unrolled loop */
    uint32_t gs_m16;     /* band group stride - 16 */
    const uint32_t *par0;
    uint32_t nblk;
    uint32_t bstep;      /* 32: input advance per block */
    uint32_t positions;
    int32_t opstep;      /* 4*cout - filters */
    const uint8_t *tbl[32];
} dsp_call;

#define DSP_STR_(x) #x
#define DSP_STR(x) DSP_STR_(x)
#define DSP_GROUP_BYTES 56 /* 14 32-bit instructions */

/* One group of 4 channels for 4 pixels: weights r2 -> lanes r12 (even), lr (odd). */
#define DSP_GROUP                      \
    "ldr.w   lr, [r2], #4\n\t"         \
    "sxtb16  r12, lr\n\t"              \
    "sxtb16  lr, lr, ror #8\n\t"       \
    "ldmia.w r3!, {r4-r7}\n\t"         \
    "smlad   r8, r12, r4, r8\n\t"      \
    "smlad   r8, lr, r5, r8\n\t"       \
    "smlad   r9, r12, r6, r9\n\t"      \
    "smlad   r9, lr, r7, r9\n\t"       \
    "ldm.w   r3, {r4-r7}\n\t"          \
    "smlad   r10, r12, r4, r10\n\t"    \
    "smlad   r10, lr, r5, r10\n\t"     \
    "smlad   r11, r12, r6, r11\n\t"    \
    "smlad   r11, lr, r7, r11\n\t"     \
    "add.w   r3, r3, r0\n\t"

static void __attribute__((naked, noinline)) dsp_blocks(const dsp_call *call)
{
    (void)call;
    __asm volatile(
        "push    {r4-r11, lr}\n\t"
        "sub     sp, sp, #188\n\t" /* 36 + 188: sp stays 8-byte aligned */
        /* frame: locals at sp+128 (entry from G), tbl at sp+0 */
        "add     lr, sp, #128\n\t"
        "ldmia   r0!, {r1-r7}\n\t"
        "stmia   lr!, {r1-r7}\n\t"
        "ldmia   r0!, {r1-r7}\n\t"
        "adr.w   r8, 95f\n\t"
        "movs    r9, #" DSP_STR(DSP_GROUP_BYTES) "\n\t"
        "mul     r1, r1, r9\n\t"
        "sub     r1, r8, r1\n\t"
        "orr     r1, r1, #1\n\t"
        "stmia   lr!, {r1-r7}\n\t"
        "mov     lr, sp\n\t"
        "ldmia   r0!, {r1-r8}\n\t"
        "stmia   lr!, {r1-r8}\n\t"
        "ldmia   r0!, {r1-r8}\n\t"
        "stmia   lr!, {r1-r8}\n\t"
        "ldmia   r0!, {r1-r8}\n\t"
        "stmia   lr!, {r1-r8}\n\t"
        "ldmia   r0!, {r1-r8}\n\t"
        "stmia   lr!, {r1-r8}\n\t"
        "ldr     r0, [sp, #160]\n\t"
        /* block loop */
        "91:\n\t"
        "ldr     r4, [sp, #164]\n\t"
        /* filter loop: r1 mask, r2 weights, r8-r11 = bias */
        "92:\n\t"
        "ldmia   r4!, {r1, r2, r8, r9, r10, r11}\n\t"
        "str     r4, [sp, #140]\n\t"
        "cbz     r1, 94f\n\t"
        /* position loop: lowest kept position p -> input pointer tbl[p] */
        "93:\n\t"
        "rbit    r4, r1\n\t"
        "clz     r4, r4\n\t"
        "ldr.w   r3, [sp, r4, lsl #2]\n\t"
        "sub.w   r4, r1, #1\n\t"
        "ands.w  r1, r1, r4\n\t"     /* Z: last position (nothing below sets flags) */
        "ldr.w   pc, [sp, #156]\n\t" /* into the unrolled loop, G groups before its end */
        "94:\n\t"
        "b.w     96f\n\t"
        ".rept " DSP_STR(DTMM_DSP_GMAX) "\n\t"
        DSP_GROUP
        ".endr\n\t"
        "95:\n\t"
        ".if (95b - 94b) != (4 + " DSP_STR(DTMM_DSP_GMAX) " * " DSP_STR(DSP_GROUP_BYTES) ")\n\t"
        ".error \"dsp_blocks: unrolled group size differs from DSP_GROUP_BYTES\"\n\t"
        ".endif\n\t"
        "bne.w   93b\n\t"
        /* requantize the 4 accumulators and store them */
        "96:\n\t"
        "add     lr, sp, #128\n\t"
        "ldm     lr, {r1, r2, r3, r4, r7, r12, lr}\n\t" /* k, c3, op, rec, c1, c2, pend */
        "ldmia   r4!, {r5, r6}\n\t"                     /* 2m - 2^32, r - 1 */
        "smmlar  r8, r8, r5, r8\n\t"
        "smmlar  r9, r9, r5, r9\n\t"
        "smmlar  r10, r10, r5, r10\n\t"
        "smmlar  r11, r11, r5, r11\n\t"
        "sub.w   r8, r8, r8, lsr #31\n\t"
        "sub.w   r9, r9, r9, lsr #31\n\t"
        "sub.w   r10, r10, r10, lsr #31\n\t"
        "sub.w   r11, r11, r11, lsr #31\n\t"
        "asr.w   r8, r8, r6\n\t"
        "asr.w   r9, r9, r6\n\t"
        "asr.w   r10, r10, r6\n\t"
        "asr.w   r11, r11, r6\n\t"
        "add     r8, r8, r1\n\t"
        "add     r9, r9, r1\n\t"
        "add     r10, r10, r1\n\t"
        "add     r11, r11, r1\n\t"
        "ssat    r8, #8, r8, asr #1\n\t"
        "ssat    r9, #8, r9, asr #1\n\t"
        "ssat    r10, #8, r10, asr #1\n\t"
        "ssat    r11, #8, r11, asr #1\n\t"
        "strb    r9, [r3, r7]\n\t"
        "strb    r10, [r3, r12]\n\t"
        "strb    r11, [r3, r2]\n\t"
        "strb    r8, [r3], #1\n\t"
        "str     r3, [sp, #136]\n\t"
        "cmp     r4, lr\n\t"
        "bne.w   92b\n\t"
        /* next block: tbl[p] += 32, op += opstep */
        "ldr     r2, [sp, #172]\n\t"
        "ldr     r1, [sp, #176]\n\t"
        "mov     r3, sp\n\t"
        "97:\n\t"
        "ldm     r3, {r4-r11}\n\t"
        "add     r4, r4, r2\n\t"
        "add     r5, r5, r2\n\t"
        "add     r6, r6, r2\n\t"
        "add     r7, r7, r2\n\t"
        "add     r8, r8, r2\n\t"
        "add     r9, r9, r2\n\t"
        "add     r10, r10, r2\n\t"
        "add     r11, r11, r2\n\t"
        "stmia   r3!, {r4-r11}\n\t"
        "subs    r1, r1, #8\n\t"
        "bgt     97b\n\t"
        "ldr     r1, [sp, #136]\n\t"
        "ldr     r2, [sp, #180]\n\t"
        "add     r1, r1, r2\n\t"
        "str     r1, [sp, #136]\n\t"
        "ldr     r1, [sp, #168]\n\t"
        "subs    r1, r1, #1\n\t"
        "str     r1, [sp, #168]\n\t"
        "bne.w   91b\n\t"
        "add     sp, sp, #188\n\t"
        "pop     {r4-r11, pc}\n\t");
}

/* ---- input expansion ----------------------------------------------------------
 *
 * expand_band(call) writes call->nchunk chunks of 4 consecutive band columns
 * of one phase: for each of the G groups, the 4 pixels' even-lane and
 * odd-lane words (input offset added by SXTAB16), 32 contiguous bytes, the
 * groups call->gs bytes apart.  Pixel i reads from p[i], which advances by 4
 * per group and by `bstride` (net of the groups' 4*G) per chunk.  A padding
 * tap reads the pad pixel, cin bytes of -input_offset, which expands to
 * exact zeros.  Needs cin % 4 == 0.
 */
typedef struct {
    const int8_t *p[4];
    uint8_t *dst;
    uint32_t nchunk;
    uint32_t groups;
    int32_t bstride;
    uint32_t off2;     /* input_offset in both halfwords */
    uint32_t gs_m32;   /* group stride - 32 */
} expand_call;

static void __attribute__((naked, noinline)) expand_band(const expand_call *call)
{
    (void)call;
    __asm volatile(
        "push    {r4-r11, lr}\n\t"
        "sub     sp, sp, #12\n\t" /* 36 + 12: sp stays 8-byte aligned */
        "ldr     r8, [r0, #32]\n\t"  /* off2 */
        "ldr     r9, [r0, #36]\n\t"  /* gs - 32 */
        "ldr     r12, [r0, #16]\n\t" /* dst */
        "ldr     r10, [r0, #20]\n\t" /* nchunk */
        "ldr     r11, [r0, #24]\n\t" /* G */
        "ldr     lr, [r0, #28]\n\t"  /* bstride */
        "str     lr, [sp]\n\t"
        "ldm     r0, {r0-r3}\n\t"    /* pixel pointers */
        "1:\n\t"
        "str     r12, [sp, #4]\n\t"
        "mov     lr, r11\n\t"
        "2:\n\t"
        "ldr     r4, [r0], #4\n\t"
        "ldr     r6, [r1], #4\n\t"
        "sxtab16 r5, r8, r4, ror #8\n\t"
        "sxtab16 r4, r8, r4\n\t"
        "sxtab16 r7, r8, r6, ror #8\n\t"
        "sxtab16 r6, r8, r6\n\t"
        "stmia   r12!, {r4-r7}\n\t"
        "ldr     r4, [r2], #4\n\t"
        "ldr     r6, [r3], #4\n\t"
        "sxtab16 r5, r8, r4, ror #8\n\t"
        "sxtab16 r4, r8, r4\n\t"
        "sxtab16 r7, r8, r6, ror #8\n\t"
        "sxtab16 r6, r8, r6\n\t"
        "stmia   r12!, {r4-r7}\n\t"
        "add     r12, r12, r9\n\t"
        "subs    lr, lr, #1\n\t"
        "bne     2b\n\t"
        "ldr     lr, [sp]\n\t"
        "add     r0, r0, lr\n\t"
        "add     r1, r1, lr\n\t"
        "add     r2, r2, lr\n\t"
        "add     r3, r3, lr\n\t"
        "ldr     r12, [sp, #4]\n\t"
        "add     r12, r12, #32\n\t"
        "subs    r10, r10, #1\n\t"
        "bne     1b\n\t"
        "add     sp, sp, #12\n\t"
        "pop     {r4-r11, pc}\n\t");
}

/* Zeroes n32*32 bytes at a 4-byte aligned d. */
static void __attribute__((naked, noinline)) zero_words32(void *d, uint32_t n32)
{
    (void)d;
    (void)n32;
    __asm volatile(
        "push    {r4-r9}\n\t"
        "movs    r2, #0\n\t"
        "movs    r3, #0\n\t"
        "movs    r4, #0\n\t"
        "movs    r5, #0\n\t"
        "movs    r6, #0\n\t"
        "movs    r7, #0\n\t"
        "movs    r8, #0\n\t"
        "movs    r9, #0\n\t"
        "1:\n\t"
        "stmia   r0!, {r2-r9}\n\t"
        "subs    r1, r1, #1\n\t"
        "bne     1b\n\t"
        "pop     {r4-r9}\n\t"
        "bx      lr\n\t");
}

typedef struct {
    const dtmm_dsp_plan *pl;
    const int8_t *in;
    const int8_t *pad;  /* cin bytes of -input_offset (cin % 4 == 0 only) */
    uint8_t *band;
    uint32_t off2;      /* input_offset in both halfwords */
    int32_t in_h, in_w, cin, sw, pad_left;
    uint32_t gfull, rem; /* full groups and leftover channels of a pixel */
    uint32_t tail_mask_a, tail_mask_b;
    uint8_t need_phase[32];
} expand_ctx;

static inline uint32_t load_u32(const void *p)
{
    uint32_t w;
    __builtin_memcpy(&w, p, 4); /* one unaligned LDR on v7-M / v8-M Mainline */
    return w;
}

static inline void store_u32(void *p, uint32_t w)
{
    __builtin_memcpy(p, &w, 4);
}

static inline uint32_t sxtab16_ror8(uint32_t a, uint32_t b)
{
    uint32_t r;
    __asm("sxtab16 %0, %1, %2, ror #8" : "=r"(r) : "r"(a), "r"(b));
    return r;
}

/* cin % 4 != 0: one pixel, tail lanes zeroed; groups gw words apart. */
static void expand_pixel_tail(const expand_ctx *e, const int8_t *src, uint32_t *d, uint32_t gw)
{
    const uint32_t off2 = e->off2;
    for (uint32_t g = e->gfull; g != 0; g--) {
        uint32_t w = load_u32(src);
        src += 4;
        d[0] = __sxtab16(off2, w);
        d[1] = sxtab16_ror8(off2, w);
        d += gw;
    }
    uint32_t w = (uint8_t)src[0];
    if (e->rem > 1u) w |= (uint32_t)(uint8_t)src[1] << 8;
    if (e->rem > 2u) w |= (uint32_t)(uint8_t)src[2] << 16;
    d[0] = __sxtab16(off2, w) & e->tail_mask_a;
    d[1] = sxtab16_ror8(off2, w) & e->tail_mask_b;
}

/* Input row iy into row slot `slot` for the tile whose first output column is xt0. */
static void expand_row(const expand_ctx *e, int32_t iy, uint32_t slot, int32_t xt0)
{
    const dtmm_dsp_plan *pl = e->pl;
    uint8_t *srow = e->band + slot * pl->slot_bytes;
    if (iy < 0 || iy >= e->in_h) {
        zero_words32(srow, pl->slot_bytes / 32u);
        return;
    }
    const int8_t *row = e->in + iy * e->in_w * e->cin;
    const int32_t sw = e->sw, in_w = e->in_w, cin = e->cin;
    const int32_t cols = (int32_t)pl->cols;
    for (uint32_t k = 0; k < pl->phases; k++) {
        if (!e->need_phase[k]) continue;
        uint8_t *dst = srow + k * pl->cols * 8u;
        const int32_t ix0 = xt0 * sw + pl->phase_val[k] - e->pad_left; /* input column of band column 0 */
        if (e->rem) {
            const uint32_t gw = pl->group_bytes / 4u;
            for (int32_t j = 0; j < cols; j++) {
                uint32_t *d = (uint32_t *)(void *)(dst + 8 * j);
                const int32_t ix = ix0 + j * sw;
                if (ix >= 0 && ix < in_w) {
                    expand_pixel_tail(e, row + ix * cin, d, gw);
                } else {
                    for (uint32_t g = 0; g < pl->groups; g++, d += gw) d[0] = d[1] = 0;
                }
            }
            continue;
        }
        expand_call ec;
        ec.off2 = e->off2;
        ec.groups = pl->groups;
        ec.gs_m32 = pl->group_bytes - 32u;
        const int32_t g4 = 4 * (int32_t)pl->groups;
        /* chunks [lo, hi) of 4 columns lie inside the row */
        const int32_t cw = 4 * sw;
        int32_t lo = ix0 >= 0 ? 0 : (-ix0 + cw - 1) / cw;
        const int32_t last = in_w - 1 - 3 * sw - ix0;
        int32_t hi = last < 0 ? 0 : last / cw + 1;
        if (hi > cols / 4) hi = cols / 4;
        if (lo > hi) lo = hi;
        for (int32_t c = 0; c < cols / 4; c++) {
            ec.dst = dst + 32 * c;
            if (c == lo && hi > lo) {
                const int8_t *s = row + (ix0 + c * cw) * cin;
                const int32_t step = sw * cin;
                ec.p[0] = s;
                ec.p[1] = s + step;
                ec.p[2] = s + 2 * step;
                ec.p[3] = s + 3 * step;
                ec.nchunk = (uint32_t)(hi - lo);
                ec.bstride = 4 * step - g4;
                expand_band(&ec);
                c = hi - 1;
                continue;
            }
            for (int32_t i = 0; i < 4; i++) {
                const int32_t ix = ix0 + c * cw + i * sw;
                ec.p[i] = ix >= 0 && ix < in_w ? row + ix * cin : e->pad;
            }
            ec.nchunk = 1;
            ec.bstride = -g4;
            expand_band(&ec);
        }
    }
}

/*
 * Filter o's record for dsp_blocks(): mask (kept positions), weights, the bias
 * in all 4 accumulators, 2m - 2^32 and r - 1 for the epilogue.  Returns 0 for a
 * filter the epilogue cannot requantize: its mask is 0 (nothing computed) and
 * word 6 keeps it for the slow pass.
 */
static int band_record(uint32_t *r, const dtmm_fwcs_view *v, uint32_t o, uint32_t mask, const int8_t *wp)
{
    const int32_t mult = v->multiplier[o], shift = v->shift[o];
    const int fast = mult >= 0x40000000 && shift <= -2;
    r[0] = fast ? mask : 0u;
    r[1] = (uint32_t)(uintptr_t)wp;
    r[2] = r[3] = r[4] = r[5] = (uint32_t)v->bias[o];
    r[6] = fast ? (uint32_t)mult * 2u : mask;
    r[7] = fast ? (uint32_t)(-shift - 1) : 0u;
    return fast;
}

/* ---- the slow per-filter path (requantization the fast epilogue cannot do) ---- */

static void slow_filter(const dtmm_fwcs_view *v, const int8_t *input, int8_t *output, uint32_t o,
                        uint32_t mask, const int8_t *w0)
{
    const dtmm_fwcs_header *h = v->hdr;
    const int32_t cin = h->cin, kw = h->kw;
    const int32_t off = h->input_offset;
    for (int32_t y = 0; y < (int32_t)h->out_h; y++) {
        for (int32_t x = 0; x < (int32_t)h->out_w; x++) {
            int32_t acc = v->bias[o];
            const int8_t *w = w0;
            for (uint32_t m = mask; m != 0; m &= m - 1u, w += cin) {
                const int32_t p = __builtin_ctz(m);
                const int32_t iy = y * h->stride_h - h->pad_top + (p / kw) * h->dilation_h;
                const int32_t ix = x * h->stride_w - h->pad_left + (p % kw) * h->dilation_w;
                if (iy < 0 || iy >= (int32_t)h->in_h || ix < 0 || ix >= (int32_t)h->in_w) continue;
                const int8_t *src = input + (iy * (int32_t)h->in_w + ix) * cin;
                for (int32_t c = 0; c < cin; c++) acc += w[c] * (src[c] + off);
            }
            int32_t r = dtmm_requantize(acc, v->multiplier[o], v->shift[o]);
            r = r < h->act_min - h->output_offset ? h->act_min - h->output_offset : r;
            r = r > h->act_max - h->output_offset ? h->act_max - h->output_offset : r;
            output[((uint32_t)y * h->out_w + (uint32_t)x) * h->cout + o] = (int8_t)(r + h->output_offset);
        }
    }
}

/* Clamp every output byte to [lo, hi] (both within int8), 4 at a time. */
static void clamp_output(int8_t *out, uint32_t n, int32_t lo, int32_t hi)
{
    const uint32_t lo4 = (uint32_t)(uint8_t)lo * 0x01010101u;
    const uint32_t hi4 = (uint32_t)(uint8_t)hi * 0x01010101u;
    for (; n >= 4u; n -= 4u, out += 4) {
        uint32_t v = load_u32(out);
        (void)__ssub8(v, lo4); /* GE where v >= lo */
        v = __sel(v, lo4);
        (void)__ssub8(v, hi4); /* GE where v >= hi */
        v = __sel(hi4, v);
        store_u32(out, v);
    }
    for (; n != 0; n--, out++) {
        int32_t v = *out;
        *out = (int8_t)(v < lo ? lo : v > hi ? hi : v);
    }
}

/* ---- the element-list kernel (cin <= 2, more than 32 positions, large plans) ----
 *
 * Blocks of 4 consecutive output pixels in raster order (a block may wrap to
 * the next row, so narrow outputs waste nothing but the very last block).
 * Per block, the 4 receptive fields are expanded to int16 with the input
 * offset added, element-major: col[e][pixel], e = p*cin + c, padding taps 0.
 * A filter record is
 *   n, bias, n * {pair, pair}, 2m - 2^32, r - 1        (r = -shift)
 * with a pair = two of the filter's kept weights (a, b):
 *   word 0: w_a | w_b << 16      word 1: 8*e_a | 8*e_b << 16
 * Per pair the 4 pixels cost two LDRD of each element's 4 halfwords,
 * PKHBT/PKHTB to pair pixel k's (x_a, x_b), and four SMLAD: 8 MACs in 13
 * instructions whatever cin, and pruned filterlets are absent from the list.
 * Pairs are padded with w = 0 to a multiple of two.  The epilogue is the
 * band kernel's (SMMLAR, 5 instructions per output); filters it cannot
 * requantize are recomputed afterwards by elem_slow_filters().
 */
typedef struct {
    const uint32_t *rec;  /* 0: first record */
    const uint32_t *rend; /* 4 */
    const uint8_t *col;   /* 8 */
    int8_t *op;           /* 12: output of pixel 0, first filter (advanced by the asm) */
    int32_t k;            /* 16: 1 + 2*output_offset */
    int32_t c1, c2, c3;   /* 20, 24, 28: store offsets of pixels 1..3 */
} elem_call;

/* One pair for 4 pixels: r8 weights, r9 offsets -> r10/r11 x_a, r12/lr x_b. */
#define ELEM_PAIR                          \
    "ldrd    r8, r9, [r0], #8\n\t"         \
    "add.w   r12, r2, r9, lsr #16\n\t"     \
    "uxtah   r10, r2, r9\n\t"              \
    "ldrd    r12, lr, [r12]\n\t"           \
    "ldrd    r10, r11, [r10]\n\t"          \
    "pkhbt   r9, r10, r12, lsl #16\n\t"    \
    "smlad   r4, r8, r9, r4\n\t"           \
    "pkhtb   r9, r12, r10, asr #16\n\t"    \
    "smlad   r5, r8, r9, r5\n\t"           \
    "pkhbt   r9, r11, lr, lsl #16\n\t"     \
    "smlad   r6, r8, r9, r6\n\t"           \
    "pkhtb   r9, lr, r11, asr #16\n\t"     \
    "smlad   r7, r8, r9, r7\n\t"

/* Requantize the 4 accumulators r4-r7 (r0 at the record's 2m - 2^32, r - 1), store them, next filter. */
#define ELEM_EPILOGUE                              \
"12:\n\t"                                  \
"ldmia   r0!, {r8, r9}\n\t"                \
"smmlar  r4, r4, r8, r4\n\t"               \
"smmlar  r5, r5, r8, r5\n\t"               \
"smmlar  r6, r6, r8, r6\n\t"               \
"smmlar  r7, r7, r8, r7\n\t"               \
"sub.w   r4, r4, r4, lsr #31\n\t"          \
"sub.w   r5, r5, r5, lsr #31\n\t"          \
"sub.w   r6, r6, r6, lsr #31\n\t"          \
"sub.w   r7, r7, r7, lsr #31\n\t"          \
"asr.w   r4, r4, r9\n\t"                   \
"asr.w   r5, r5, r9\n\t"                   \
"asr.w   r6, r6, r9\n\t"                   \
"asr.w   r7, r7, r9\n\t"                   \
"ldr     r10, [r3, #16]\n\t"               \
"add     r4, r4, r10\n\t"                  \
"add     r5, r5, r10\n\t"                  \
"add     r6, r6, r10\n\t"                  \
"add     r7, r7, r10\n\t"                  \
"ssat    r4, #8, r4, asr #1\n\t"           \
"ssat    r5, #8, r5, asr #1\n\t"           \
"ssat    r6, #8, r6, asr #1\n\t"           \
"ssat    r7, #8, r7, asr #1\n\t"           \
"ldr     r11, [r3, #12]\n\t"               \
"ldrd    r12, lr, [r3, #20]\n\t"           \
"strb    r5, [r11, r12]\n\t"               \
"strb    r6, [r11, lr]\n\t"                \
"ldr     r12, [r3, #28]\n\t"               \
"strb    r7, [r11, r12]\n\t"               \
"strb    r4, [r11], #1\n\t"                \
"str     r11, [r3, #12]\n\t"               \
"ldr     r12, [r3, #4]\n\t"                \
"cmp     r0, r12\n\t"                      \
"bne     10b\n\t"

/* Every filter of [rec, rend) on the 4 pixels of col. */
static void __attribute__((naked, noinline)) elem_blocks(elem_call *call)
{
    (void)call;
    __asm volatile(
        "push    {r4-r11, lr}\n\t"
        "mov     r3, r0\n\t"
        "ldr     r0, [r3, #0]\n\t"
        "ldr     r2, [r3, #8]\n\t"
        "10:\n\t"
        "ldmia   r0!, {r1, r4}\n\t"
        "mov     r5, r4\n\t"
        "mov     r6, r4\n\t"
        "mov     r7, r4\n\t"
        "cmp     r1, #0\n\t"
        "beq     12f\n\t"
        "11:\n\t"
        ELEM_PAIR
        ELEM_PAIR
        "subs    r1, r1, #1\n\t"
        "bne     11b\n\t"
        ELEM_EPILOGUE
        "pop     {r4-r11, pc}\n\t");
}

/*
 * The pair kernel (layers with at least 3/8 of their filterlets kept,
 * pruned ones as zero weights): the 4 receptive fields are pair-major, word
 * 4q + k = (x_2q, x_2q+1) of pixel k, and a record is
 *   n, bias, 2n words of weight pairs (w_2q | w_2q+1 << 16), 2m - 2^32, r - 1
 * (the field and the weights padded with zeros to 4n elements).  Per two
 * pairs one LDRD of weights, and per pair one LDM of the 4 pixels' words
 * and four SMLAD: 16 MACs in 13 instructions, no element offsets.  With
 * cin = 1 a filterlet is one weight, so at these densities most pairs hold
 * a kept one: the element list (8 MACs in 13) would not be cheaper.
 */
static void __attribute__((naked, noinline)) elem_pair_blocks(elem_call *call)
{
    (void)call;
    __asm volatile(
        "push    {r4-r11, lr}\n\t"
        "mov     r3, r0\n\t"
        "ldr     r0, [r3, #0]\n\t"
        "10:\n\t"
        "ldmia   r0!, {r1, r4}\n\t"
        "mov     r5, r4\n\t"
        "mov     r6, r4\n\t"
        "mov     r7, r4\n\t"
        "ldr     r2, [r3, #8]\n\t"
        "11:\n\t"
        "ldrd    r12, lr, [r0], #8\n\t"
        "ldmia   r2!, {r8-r11}\n\t"
        "smlad   r4, r12, r8, r4\n\t"
        "smlad   r5, r12, r9, r5\n\t"
        "smlad   r6, r12, r10, r6\n\t"
        "smlad   r7, r12, r11, r7\n\t"
        "ldmia   r2!, {r8-r11}\n\t"
        "smlad   r4, lr, r8, r4\n\t"
        "smlad   r5, lr, r9, r5\n\t"
        "smlad   r6, lr, r10, r6\n\t"
        "smlad   r7, lr, r11, r7\n\t"
        "subs    r1, r1, #1\n\t"
        "bne     11b\n\t"
        ELEM_EPILOGUE
        "pop     {r4-r11, pc}\n\t");
}

/* Zeroes n halfwords st apart (one pixel's elements: st = 4 in element-major columns, 1 in a
 * contiguous field). */
static inline int16_t *elem_zero(int16_t *d, int32_t n, const int32_t st)
{
    if (st == 1) { /* contiguous: words (unaligned stores are allowed on these cores) */
        for (; n >= 2; n -= 2, d += 2) store_u32(d, 0u);
    }
    for (; n >= 2; n -= 2, d += 2 * st) {
        d[0] = 0;
        d[st] = 0;
    }
    if (n != 0) {
        *d = 0;
        d += st;
    }
    return d;
}

/* n consecutive input bytes at s, input offset added, st halfwords apart. */
static inline int16_t *elem_run(int16_t *d, const int8_t *s, int32_t n, int32_t off, uint32_t off2,
                                const int32_t st)
{
    for (; st == 1 && n >= 4; n -= 4, s += 4, d += 4) { /* contiguous: two PKH, two word stores */
        const uint32_t x4 = load_u32(s);
        const uint32_t even = __sxtab16(off2, x4), odd = sxtab16_ror8(off2, x4);
        store_u32(d, (even & 0xFFFFu) | (odd << 16));
        store_u32(d + 2, (odd & 0xFFFF0000u) | (even >> 16));
    }
    for (; n >= 4; n -= 4, s += 4, d += 4 * st) { /* 4 elements: one load, two SXTAB16 */
        const uint32_t x4 = load_u32(s);
        const uint32_t even = __sxtab16(off2, x4), odd = sxtab16_ror8(off2, x4);
        d[0] = (int16_t)even;
        d[st] = (int16_t)odd;
        d[2 * st] = (int16_t)(even >> 16);
        d[3 * st] = (int16_t)(odd >> 16);
    }
    for (; n != 0; n--, d += st) *d = (int16_t)(*s++ + off);
    return d;
}

/* The receptive field of output pixel (y, x) into d, st halfwords apart, input offset added,
 * padding taps 0.  The kernel columns inside the input, [j0, j1), and rows, [i0, i1), are found
 * once; every kernel row is then zeros, an input run (one contiguous run when dilation_w = 1)
 * and zeros. */
static inline __attribute__((always_inline)) void elem_field(const dtmm_fwcs_header *h, const int8_t *input,
                                                             int16_t *d, int32_t y, int32_t x, const int32_t st)
{
    const int32_t cin = h->cin, kh = h->kh, kw = h->kw, off = h->input_offset;
    const int32_t in_h = h->in_h, in_w = h->in_w, dw = h->dilation_w, row_bytes = in_w * cin;
    const uint32_t off2 = ((uint32_t)off & 0xFFFFu) * 0x10001u; /* input offset in both halfwords */
    const int32_t ix0 = x * h->stride_w - h->pad_left;
    int32_t j0 = 0, j1 = kw;
    if (ix0 < 0) j0 = (-ix0 + dw - 1) / dw;
    if (j0 > kw) j0 = kw;
    if (ix0 + (kw - 1) * dw >= in_w) j1 = (in_w - ix0 + dw - 1) / dw; /* first column at or past in_w */
    if (j1 < j0) j1 = j0;
    const int32_t lead = j0 * cin, trail = (kw - j1) * cin, mid = (j1 - j0) * cin;
    const int32_t iy0 = y * h->stride_h - h->pad_top, dh = h->dilation_h;
    int32_t i0 = 0, i1 = kh;
    if (iy0 < 0) i0 = (-iy0 + dh - 1) / dh;
    if (i0 > kh) i0 = kh;
    if (iy0 + (kh - 1) * dh >= in_h) i1 = (in_h - iy0 + dh - 1) / dh;
    if (i1 < i0) i1 = i0;
    d = elem_zero(d, i0 * kw * cin, st);
    const int8_t *s = input + (iy0 + i0 * dh) * row_bytes + (ix0 + j0 * dw) * cin;
    const int32_t step = dh * row_bytes;
    if (lead == 0 && trail == 0 && dw == 1) { /* the whole kernel row is one run */
        for (int32_t i = i0; i < i1; i++, s += step) d = elem_run(d, s, mid, off, off2, st);
    } else {
        for (int32_t i = i0; i < i1; i++, s += step) {
            d = elem_zero(d, lead, st);
            if (dw == 1) {
                d = elem_run(d, s, mid, off, off2, st);
            } else {
                const int8_t *t = s;
                for (int32_t j = j0; j < j1; j++, t += dw * cin) d = elem_run(d, t, cin, off, off2, st);
            }
            d = elem_zero(d, trail, st);
        }
    }
    elem_zero(d, (kh - i1) * kw * cin, st);
}

/* The 4 receptive fields of output pixels pix0.. (npix of them valid) into col, element-major. */
static void elem_im2col(const dtmm_fwcs_header *h, const int8_t *input, int16_t *col, uint32_t pix0, uint32_t npix)
{
    const int32_t K = h->kh * h->kw * h->cin;
    int32_t y = (int32_t)(pix0 / h->out_w), x = (int32_t)(pix0 % h->out_w);
    for (uint32_t k = 0; k < 4u; k++) {
        if (k >= npix) {
            elem_zero(col + k, K, 4);
            continue;
        }
        elem_field(h, input, col + k, y, x, 4);
        if (++x == (int32_t)h->out_w) {
            x = 0;
            y++;
        }
    }
}

/* The same, pair-major for the dense pair kernel: word 4q + k = elements (2q, 2q+1) of pixel k,
 * pw words per pixel (the field padded with zeros). */
static void elem_pair_im2col(const dtmm_fwcs_header *h, const int8_t *input, uint32_t *col, uint32_t pw,
                             uint32_t pix0, uint32_t npix)
{
    const int32_t K = h->kh * h->kw * h->cin;
    uint32_t field[DTMM_DSP_ELEM_PAIRS_KMAX / 2u + 2u];
    int16_t *f = (int16_t *)(void *)field;
    int32_t y = (int32_t)(pix0 / h->out_w), x = (int32_t)(pix0 % h->out_w);
    for (uint32_t k = 0; k < 4u; k++) {
        uint32_t *d = col + k;
        if (k >= npix) {
            for (uint32_t q = 0; q < pw; q++, d += 4) *d = 0;
            continue;
        }
        elem_field(h, input, f, y, x, 1);
        for (int32_t e = K; e < 2 * (int32_t)pw; e++) f[e] = 0;
        uint32_t q = 0;
        for (; q + 2u <= pw; q += 2u, d += 8) {
            d[0] = field[q];
            d[4] = field[q + 1u];
        }
        if (++x == (int32_t)h->out_w) {
            x = 0;
            y++;
        }
    }
}

static int elem_fast(int32_t mult, int32_t shift)
{
    return mult >= 0x40000000 && shift <= -2;
}

/* Builds the records of filters [o0, ...) into rec (at most cap bytes); returns the end filter. */
static uint32_t elem_records(const dtmm_fwcs_view *v, dtmm_kept_walk *w, const int8_t **wp, uint32_t o0,
                             uint32_t *rec, uint32_t cap, uint32_t **rend)
{
    const uint32_t cin = v->hdr->cin, cout = v->hdr->cout;
    uint32_t used = 0, o = o0;
    for (; o < cout; o++) {
        dtmm_kept_walk t = *w;
        dtmm_kept_walk_filter(&t);
        const uint32_t n = dtmm_kept_walk_count(&t) * cin;
        const uint32_t bytes = 4u * DTMM_DSP_ELEM_HDR_WORDS + 16u * ((n + 3u) / 4u);
        if (used + bytes > cap) break;
        *w = t;
        uint32_t *r = rec + used / 4u;
        uint32_t *pw = r + 2; /* pairs: w_a | w_b << 16, 8e_a | 8e_b << 16 */
        const int8_t *src = *wp;
        uint32_t m, first, k = 0, w_a = 0, e_a = 0;
        while (dtmm_kept_walk_word(w, &m, &first)) {
            if (cin == 1u) { /* one element per filterlet: kept positions two at a time */
                if ((k & 1u) && m != 0u) { /* complete the pair left open by the last word */
                    pw[0] = w_a | ((uint32_t)(uint16_t)(int16_t)*src++ << 16);
                    pw[1] = e_a | ((8u * (first + (uint32_t)__builtin_ctz(m))) << 16);
                    pw += 2;
                    k++;
                    m &= m - 1u;
                }
                while (m != 0u) {
                    const uint32_t ea = 8u * (first + (uint32_t)__builtin_ctz(m)), wa = (uint16_t)(int16_t)*src++;
                    m &= m - 1u;
                    if (m == 0u) { /* pair left open */
                        w_a = wa;
                        e_a = ea;
                        k++;
                        break;
                    }
                    const uint32_t eb = 8u * (first + (uint32_t)__builtin_ctz(m)), wb = (uint16_t)(int16_t)*src++;
                    m &= m - 1u;
                    pw[0] = wa | (wb << 16);
                    pw[1] = ea | (eb << 16);
                    pw += 2;
                    k += 2u;
                }
                continue;
            }
            for (; m != 0u; m &= m - 1u) {
                uint32_t e8 = 8u * (first + (uint32_t)__builtin_ctz(m)) * cin;
                for (uint32_t c = cin; c != 0u; c--, e8 += 8u, k++) {
                    const uint32_t wv = (uint16_t)(int16_t)*src++;
                    if (k & 1u) { /* the second of a pair: write both */
                        pw[0] = w_a | (wv << 16);
                        pw[1] = e_a | (e8 << 16);
                        pw += 2;
                    } else {
                        w_a = wv;
                        e_a = e8;
                    }
                }
            }
        }
        if (k & 1u) { /* a half pair: its second element is w = 0 at offset 0 */
            pw[0] = w_a;
            pw[1] = e_a;
            pw += 2;
            k++;
        }
        for (; (k & 3u) != 0u; k += 2u, pw += 2) { /* whole lists of 4: one more zero pair */
            pw[0] = 0;
            pw[1] = 0;
        }
        *wp = src;
        const int32_t mult = v->multiplier[o], shift = v->shift[o];
        r[0] = k / 4u;
        r[1] = (uint32_t)v->bias[o];
        r[2 + k] = elem_fast(mult, shift) ? (uint32_t)mult * 2u : 0u;
        r[3 + k] = elem_fast(mult, shift) ? (uint32_t)(-shift - 1) : 0u;
        used += bytes;
    }
    *rend = rec + used / 4u;
    return o;
}

/* The plane of the pair kernels: the input with the input offset added as int16, zeros where a
 * receptive field reaches outside it; plane pixel (0, 0) is input pixel (-pad_top, -pad_left). */
static void elem_plane_fill(const dtmm_fwcs_header *h, const dtmm_dsp_elem_plan *pl, const int8_t *input,
                            int16_t *plane)
{
    const int32_t cin = h->cin, off = h->input_offset, pwc = (int32_t)pl->plane_w;
    const uint32_t off2 = ((uint32_t)off & 0xFFFFu) * 0x10001u;
    const int32_t row = pwc * cin; /* elements per plane row */
    const int32_t n = (int32_t)pl->plane_h * row;
    uint32_t *z = (uint32_t *)(void *)plane;
    for (int32_t i = 0; i < (n + 1) / 2; i++) z[i] = 0u;
    /* input columns [c0, c1) land in plane columns [c0 + pad_left, ...) */
    int32_t c1 = pwc - h->pad_left;
    if (c1 > (int32_t)h->in_w) c1 = (int32_t)h->in_w;
    int32_t r1 = (int32_t)pl->plane_h - h->pad_top;
    if (r1 > (int32_t)h->in_h) r1 = (int32_t)h->in_h;
    if (c1 <= 0 || r1 <= 0) return;
    const int32_t len = c1 * cin; /* elements per input row copied */
    for (int32_t y = 0; y < r1; y++) {
        const int8_t *s = input + (size_t)y * h->in_w * (size_t)cin;
        int16_t *d = plane + (y + h->pad_top) * row + h->pad_left * cin;
        elem_run(d, s, len, off, off2, 1);
    }
}

/* The 4 receptive fields of output pixels pix0.. (npix valid) into pair-major columns from the
 * plane: kernel row i of pixel k is kw*cin/2 words of the plane, word q going to col[4q + k].
 * Columns of pixels past npix keep older values (their outputs go to the dump area). */
static void elem_plane_im2col(const dtmm_fwcs_header *h, const dtmm_dsp_elem_plan *pl, const int16_t *plane,
                              uint32_t *col, uint32_t pix0, uint32_t npix)
{
    const int32_t cin = h->cin, kh = h->kh, half = h->kw * cin / 2, row = (int32_t)pl->plane_w * cin;
    const int32_t rstep = h->dilation_h * row;
    int32_t y = (int32_t)(pix0 / h->out_w), x = (int32_t)(pix0 % h->out_w);
    for (uint32_t k = 0; k < npix; k++) {
        uint32_t *d = col + k;
        const int16_t *s = plane + y * h->stride_h * row + x * h->stride_w * cin;
        for (int32_t i = 0; i < kh; i++, s += rstep) {
            const int16_t *t = s;
            for (int32_t j = 0; j < half; j++, t += 2, d += 4) *d = load_u32(t);
        }
        if (++x == (int32_t)h->out_w) {
            x = 0;
            y++;
        }
    }
}

/* Pair records of filters [o0, ...) into rec (at most cap bytes); returns the end filter.  A
 * pruned filterlet is a zero weight: at the densities this kernel takes (dtmm_dsp_make_elem_plan())
 * a field's pairs mostly hold a kept weight, and whole pairs in order beat a list of them. */
static uint32_t elem_pair_records(const dtmm_fwcs_view *v, dtmm_kept_walk *w, const int8_t **wp, uint32_t o0,
                                  uint32_t *rec, uint32_t cap, uint32_t pw, uint32_t **rend)
{
    const dtmm_fwcs_header *h = v->hdr;
    const uint32_t cin = h->cin, K = (uint32_t)h->kh * h->kw * cin, cout = h->cout;
    const int all = h->n_kept == cout * (uint32_t)h->kh * h->kw;
    const uint32_t bytes = 16u + 4u * pw;
    uint32_t *r = rec, o = o0;
    const int8_t *src = *wp;
    for (; o < cout && (uint32_t)(r - rec) * 4u + bytes <= cap; o++) {
        r[0] = pw / 2u;
        r[1] = (uint32_t)v->bias[o];
        uint32_t *q = r + 2;
        if (all) { /* the filter's K contiguous weights */
            uint32_t e = 0;
            for (; e + 2u <= K; e += 2u, src += 2) {
                q[e / 2u] = (uint32_t)(uint16_t)(int16_t)src[0] | ((uint32_t)(int32_t)src[1] << 16);
            }
            if (e < K) q[e++ / 2u] = (uint32_t)(uint16_t)(int16_t)*src++;
            for (e = (e + 1u) / 2u; e < pw; e++) q[e] = 0u;
        } else { /* zeros, then the kept filterlets in place */
            uint16_t *q16 = (uint16_t *)(void *)q;
            for (uint32_t e = 0; e < pw; e++) q[e] = 0u;
            dtmm_kept_walk_filter(w);
            uint32_t m, first;
            while (dtmm_kept_walk_word(w, &m, &first)) {
                for (; m != 0u; m &= m - 1u) {
                    uint16_t *d = q16 + (first + (uint32_t)__builtin_ctz(m)) * cin;
                    for (uint32_t c = 0; c < cin; c++) d[c] = (uint16_t)(int16_t)*src++;
                }
            }
        }
        const int32_t mult = v->multiplier[o], shift = v->shift[o];
        r[2u + pw] = elem_fast(mult, shift) ? (uint32_t)mult * 2u : 0u;
        r[3u + pw] = elem_fast(mult, shift) ? (uint32_t)(-shift - 1) : 0u;
        r += 4u + pw;
    }
    *wp = src;
    *rend = r;
    return o;
}

/* Filters elem_blocks() cannot requantize, straight from the blob. */
static void elem_slow_filters(const dtmm_fwcs_view *v, const int8_t *input, int8_t *output)
{
    const dtmm_fwcs_header *h = v->hdr;
    const int32_t cin = h->cin, kw = h->kw, off = h->input_offset, ooff = h->output_offset;
    dtmm_kept_walk w;
    dtmm_kept_walk_init(&w, v);
    const int8_t *wp = v->weights;
    for (uint32_t o = 0; o < h->cout; o++) {
        dtmm_kept_walk_filter(&w);
        const uint32_t n = dtmm_kept_walk_count(&w);
        if (elem_fast(v->multiplier[o], v->shift[o])) {
            wp += n * (uint32_t)cin;
            continue;
        }
        for (int32_t y = 0; y < (int32_t)h->out_h; y++) {
            for (int32_t x = 0; x < (int32_t)h->out_w; x++) {
                dtmm_kept_walk t = w;
                const int8_t *wk = wp;
                int32_t acc = v->bias[o];
                uint32_t p;
                for (; dtmm_kept_walk_next(&t, &p); wk += cin) {
                    const int32_t iy = y * h->stride_h - h->pad_top + (int32_t)(p / (uint32_t)kw) * h->dilation_h;
                    const int32_t ix = x * h->stride_w - h->pad_left + (int32_t)(p % (uint32_t)kw) * h->dilation_w;
                    if (iy < 0 || iy >= (int32_t)h->in_h || ix < 0 || ix >= (int32_t)h->in_w) continue;
                    const int8_t *src = input + (iy * (int32_t)h->in_w + ix) * cin;
                    for (int32_t c = 0; c < cin; c++) acc += wk[c] * (src[c] + off);
                }
                int32_t r = dtmm_fp_requantize(acc, v->multiplier[o], v->shift[o]);
                r = r < h->act_min - ooff ? h->act_min - ooff : r;
                r = r > h->act_max - ooff ? h->act_max - ooff : r;
                output[((uint32_t)y * h->out_w + (uint32_t)x) * h->cout + o] = (int8_t)(r + ooff);
            }
        }
        uint32_t p;
        while (dtmm_kept_walk_next(&w, &p)) wp += cin;
    }
}

static __attribute__((noinline)) dtmm_status elem_conv(const dtmm_fwcs_view *v, const dtmm_dsp_elem_plan *pl, const int8_t *input, int8_t *output,
                             uint8_t *base)
{
    const dtmm_fwcs_header *h = v->hdr;
    const uint32_t cout = h->cout, npix = (uint32_t)h->out_h * h->out_w;
    uint32_t *rec = (uint32_t *)(void *)base;
    int16_t *col = (int16_t *)(void *)(base + pl->col_off);
    int8_t *dump = (int8_t *)(base + pl->dump_off);
    dtmm_kept_walk w;
    dtmm_kept_walk_init(&w, v);
    const int8_t *wp = v->weights;
    int any_slow = 0;
    for (uint32_t o = 0; o < cout; o++) any_slow |= !elem_fast(v->multiplier[o], v->shift[o]);
    elem_call call;
    call.rec = rec;
    call.col = (const uint8_t *)col;
    call.k = 1 + 2 * h->output_offset;
    const uint32_t pw = dtmm_dsp_elem_pair_words(pl->K);
    int16_t *plane = (int16_t *)(void *)(base + pl->plane_off);
    if (pl->plane) {
        elem_plane_fill(h, pl, input, plane);
        uint32_t *c32 = (uint32_t *)(void *)col; /* the padding pairs past K/2 stay zero */
        for (uint32_t q = pl->K / 2u; q < pw; q++) c32[4u * q] = c32[4u * q + 1u] = c32[4u * q + 2u] = c32[4u * q + 3u] = 0u;
    }
    for (uint32_t o0 = 0; o0 < cout;) {
        uint32_t *rend;
        const uint32_t o1 = pl->pairs ? elem_pair_records(v, &w, &wp, o0, rec, pl->rec_bytes, pw, &rend)
                                      : elem_records(v, &w, &wp, o0, rec, pl->rec_bytes, &rend);
        call.rend = rend;
        for (uint32_t px = 0; px < npix; px += 4u) {
            const uint32_t nv = npix - px < 4u ? npix - px : 4u;
            if (pl->plane) {
                elem_plane_im2col(h, pl, plane, (uint32_t *)(void *)col, px, nv);
            } else if (pl->pairs) {
                elem_pair_im2col(h, input, (uint32_t *)(void *)col, pw, px, nv);
            } else {
                elem_im2col(h, input, col, px, nv);
            }
            call.op = output + px * cout + o0;
            const int32_t to_dump = (int32_t)((uintptr_t)dump - (uintptr_t)call.op);
            call.c1 = nv > 1u ? (int32_t)cout : to_dump;
            call.c2 = nv > 2u ? 2 * (int32_t)cout : to_dump;
            call.c3 = nv > 3u ? 3 * (int32_t)cout : to_dump;
            if (pl->pairs) {
                elem_pair_blocks(&call);
            } else {
                elem_blocks(&call);
            }
        }
        o0 = o1;
    }
    if (h->act_min > -128 || h->act_max < 127) {
        clamp_output(output, npix * cout, h->act_min, h->act_max);
    }
    if (any_slow) {
        elem_slow_filters(v, input, output);
    }
    return DTMM_OK;
}

/* ---- the driver ------------------------------------------------------------------ */

/* The band kernel's driver.  It repeats the caller's checks and makes its own plan: with a
 * local, fully known plan its per-row code compiles exactly as before the element-list path
 * existed (the element-list choice costs the band layers ~20 instructions per call). */
static __attribute__((noinline)) dtmm_status band_conv(const dtmm_fwcs_view *v, const int8_t *input, int8_t *output,
                                                       void *scratch)
{
    if (v == NULL || v->hdr == NULL || input == NULL || output == NULL) {
        return DTMM_ERR_ARGUMENT;
    }
    const dtmm_fwcs_header *h = v->hdr;
    dtmm_dsp_plan pl;
    dtmm_dsp_make_band_plan(h, &pl);
    if (pl.use_c) {
        return DTMM_ERR_UNSUPPORTED; /* dtmm_dsp_variant() picks the portable variant for it */
    }
    if (scratch == NULL || ((uintptr_t)scratch & 3u) != 0) {
        return DTMM_ERR_ARGUMENT;
    }
    uint8_t *base = (uint8_t *)scratch;
    const uint32_t cout = h->cout, cin = h->cin, kh = h->kh, kw = h->kw;
    uint32_t *rec = (uint32_t *)(void *)(base + pl.records_off);

    /* masks go to the end of the record area: record o never overwrites a mask not yet read */
    uint32_t *masks = rec + (DTMM_DSP_RECORD_WORDS - 1u) * cout;
    dtmm_status st = dtmm_fwcs_filter_masks(v, masks);
    if (st != DTMM_OK) {
        return st;
    }
    int any_slow = 0;
    const int8_t *wp = v->weights;
    for (uint32_t o = 0; o < cout; o++) {
        any_slow |= !band_record(rec + DTMM_DSP_RECORD_WORDS * o, v, o, masks[o], wp);
        wp += (uint32_t)__builtin_popcount(masks[o]) * cin;
    }

    expand_ctx e;
    e.pl = &pl;
    e.in = input;
    if (!pl.repack) {
        int8_t *pad = (int8_t *)(base + pl.pad_off);
        for (uint32_t c = 0; c < cin; c++) pad[c] = (int8_t)(-h->input_offset);
        e.pad = pad;
    } else {
        e.pad = NULL;
    }
    e.band = base + pl.band_off;
    e.off2 = ((uint32_t)h->input_offset & 0xFFFFu) | ((uint32_t)h->input_offset << 16);
    e.in_h = h->in_h;
    e.in_w = h->in_w;
    e.cin = (int32_t)cin;
    e.sw = h->stride_w;
    e.pad_left = h->pad_left;
    e.gfull = cin / 4u;
    e.rem = cin & 3u;
    e.tail_mask_a = e.rem >= 3u ? 0xFFFFFFFFu : 0x0000FFFFu;
    e.tail_mask_b = e.rem >= 2u ? 0x0000FFFFu : 0u;

    const uint32_t out_w = h->out_w, out_h = h->out_h;
    int8_t *dump = (int8_t *)(base + pl.dump_off);
    const int32_t ring_span = (int32_t)pl.slots;
    dsp_call call;
    call.rec = NULL; /* set by dsp_blocks */
    call.k = 1 + 2 * h->output_offset;
    call.groups = pl.groups;
    call.gs_m16 = pl.group_bytes - 16u;
    call.bstep = 32u;
    call.positions = pl.positions;

    uint32_t o0 = 0;
    while (o0 < cout) {
        /* filter chunk [o0, o1): all filters, or as many repacked ones as fit */
        uint32_t o1 = cout;
        if (pl.repack) {
            uint8_t *rp = base + pl.repack_off;
            uint32_t used = 0;
            for (o1 = o0; o1 < cout; o1++) {
                uint32_t *r = rec + DTMM_DSP_RECORD_WORDS * o1;
                if (r[7] == 0u) continue; /* slow filter: computed from the blob afterwards */
                const uint32_t n = (uint32_t)__builtin_popcount(r[0]) * pl.cin4;
                if (used + n > pl.repack_bytes) break;
                const int8_t *src = (const int8_t *)(uintptr_t)r[1];
                int8_t *dst = (int8_t *)(rp + used);
                r[1] = (uint32_t)(uintptr_t)dst;
                for (uint32_t k = (uint32_t)__builtin_popcount(r[0]); k != 0; k--) {
                    uint32_t c = 0;
                    for (; c < cin; c++) *dst++ = *src++;
                    for (; c < pl.cin4; c++) *dst++ = 0;
                }
                used += n;
            }
        }
        const uint32_t nf = o1 - o0;
        uint32_t uni = 0;
        for (uint32_t o = o0; o < o1; o++) uni |= rec[DTMM_DSP_RECORD_WORDS * o];
        uint8_t need_row[32];
        for (uint32_t k = 0; k < pl.phases; k++) e.need_phase[k] = 0;
        for (uint32_t i = 0; i < kh; i++) {
            need_row[i] = 0;
            for (uint32_t j = 0; j < kw; j++) {
                if ((uni >> (i * kw + j)) & 1u) {
                    need_row[i] = 1;
                    e.need_phase[pl.phase_of[j]] = 1;
                }
            }
        }
        call.par0 = rec + DTMM_DSP_RECORD_WORDS * o0;
        call.pend = rec + DTMM_DSP_RECORD_WORDS * o1;
        call.opstep = 4 * (int32_t)cout - (int32_t)nf;
        int32_t tap_off[32]; /* byte offset of each position inside its row slot */
        for (uint32_t i = 0, p = 0; i < kh; i++) {
            for (uint32_t j = 0; j < kw; j++, p++) {
                tap_off[p] = (int32_t)(pl.phase_of[j] * pl.cols * 8u + pl.q[j] * 8u);
            }
        }

        for (uint32_t b0 = 0; b0 < pl.blocks; b0 += pl.tile_blocks) {
            const uint32_t tb = pl.blocks - b0 < pl.tile_blocks ? pl.blocks - b0 : pl.tile_blocks;
            const int32_t xt0 = (int32_t)(4u * b0);
            const uint32_t valid_cols = out_w - 4u * b0 < 4u * tb ? out_w - 4u * b0 : 4u * tb;
            const uint32_t nfull = valid_cols / 4u, tail = valid_cols % 4u;
            int32_t tags[32];
            uint8_t *slot_ptr[32];
            for (uint32_t s = 0; s < pl.slots; s++) tags[s] = INT32_MIN;
            for (uint32_t y = 0; y < out_h; y++) {
                for (uint32_t i = 0; i < kh; i++) {
                    const int32_t iy = (int32_t)y * h->stride_h - h->pad_top + (int32_t)i * h->dilation_h;
                    uint32_t s = i;
                    if (pl.ring) {
                        int32_t t = iy % ring_span;
                        s = (uint32_t)(t < 0 ? t + ring_span : t);
                    }
                    slot_ptr[i] = e.band + s * pl.slot_bytes;
                    if (need_row[i] && tags[s] != iy) {
                        expand_row(&e, iy, s, xt0);
                        tags[s] = iy;
                    }
                }
                for (uint32_t i = 0, p = 0; i < kh; i++) {
                    for (uint32_t j = 0; j < kw; j++, p++) call.tbl[p] = slot_ptr[i] + tap_off[p];
                }
                call.op = output + ((y * out_w + (uint32_t)xt0) * cout + o0);
                call.c1 = (int32_t)cout;
                call.c2 = 2 * (int32_t)cout;
                call.c3 = 3 * (int32_t)cout;
                if (nfull) {
                    call.nblk = nfull;
                    dsp_blocks(&call);
                }
                if (tail) {
                    /* last block with 1..3 valid pixels: the others store into the dump area */
                    for (uint32_t p = 0; p < pl.positions; p++) call.tbl[p] += nfull * 32u;
                    call.op += nfull * 4u * cout;
                    const int32_t to_dump = (int32_t)((uintptr_t)dump - (uintptr_t)call.op);
                    if (tail < 2u) call.c1 = to_dump;
                    if (tail < 3u) call.c2 = to_dump;
                    call.c3 = to_dump;
                    call.nblk = 1;
                    dsp_blocks(&call);
                }
            }
        }
        o0 = o1;
    }

    if (h->act_min > -128 || h->act_max < 127) {
        clamp_output(output, out_h * out_w * cout, h->act_min, h->act_max);
    }
    if (any_slow) {
        for (uint32_t o = 0; o < cout; o++) {
            const uint32_t *r = rec + DTMM_DSP_RECORD_WORDS * o;
            if (r[7] == 0u) {
                slow_filter(v, input, output, o, r[6], (const int8_t *)(uintptr_t)r[1]);
            }
        }
    }
    return DTMM_OK;
}

/* ---- the channel-group variant (GROUPS blobs, docs/fwcs.md 5.5) -------------
 *
 * A GROUPS layer is 1x1, and its filters' stored channel groups play the
 * part of kernel positions: dsp_blocks() runs it unchanged, with group j's
 * input pointer in tbl[j], group/4 words per "position" and a filter's bit
 * row as its mask (at most 32 groups, dtmm_groups_dsp_ok()).  The pixels of
 * each block of 4 (any geometry: each pixel's input is addressed on its
 * own) are expanded by expand_band() into one band block, words 32 bytes
 * apart; a pruned group costs nothing, a stored one 7 instructions plus 14
 * per word, the filter its 5-instruction requantization per output.  Filters
 * whose requantization the epilogue cannot do are recomputed in C.  Layers
 * of fewer than 4 pixels (fully connected ones) run groups_pixels() instead.
 */
static void groups_slow_filter(const dtmm_fwcs_view *v, const int8_t *input, int8_t *output, uint32_t o,
                               uint32_t mask, const int8_t *w0)
{
    const dtmm_fwcs_header *h = v->hdr;
    const uint32_t g = h->group, pixels = (uint32_t)h->out_h * h->out_w;
    const int32_t off = h->input_offset;
    for (uint32_t q = 0; q < pixels; q++) {
        const int8_t *px = dtmm_groups_pixel(h, input, q);
        const int8_t *w = w0;
        int32_t dot = 0;
        for (uint32_t m = mask; m != 0u; m &= m - 1u, w += g) {
            const int8_t *x = px + (uint32_t)__builtin_ctz(m) * g;
            for (uint32_t c = 0; c < g; c++) dot += w[c] * (x[c] + off);
        }
        int32_t r = dtmm_requantize(dtmm_fp_add_wrap(v->bias[o], dot), v->multiplier[o], v->shift[o]) + h->output_offset;
        output[q * h->cout + o] = (int8_t)(r < h->act_min ? h->act_min : r > h->act_max ? h->act_max : r);
    }
}

/* SXTB16 of the odd bytes (ROR #8 folded in). */
static inline uint32_t sxtb16_odd(uint32_t w)
{
    uint32_t r;
    __asm("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(w));
    return r;
}

/* The band epilogue's exact requantization (see the top of this file) for one output. */
static inline int32_t requant_fast(int32_t acc, uint32_t m2, int32_t rs1, int32_t k)
{
    int32_t y;
    __asm("smmlar %0, %1, %2, %1" : "=r"(y) : "r"(acc), "r"(m2));
    y = (int32_t)((uint32_t)y - ((uint32_t)y >> 31));
    return __ssat(((y >> rs1) + k) >> 1, 8);
}

/* Accumulates `words` words of 4 weights against the pixel's lanes xq[2k], xq[2k+1]. */
#define GROUP_WORD(acc, wp, xq)                                                                          \
    do {                                                                                                 \
        const uint32_t ww_ = *(wp)++;                                                                    \
        (acc) = __smlad((int32_t)__sxtb16(ww_), (int32_t)(xq)[0], (acc));                                \
        (acc) = __smlad((int32_t)sxtb16_odd(ww_), (int32_t)(xq)[1], (acc));                              \
        (xq) += 2;                                                                                       \
    } while (0)

/*
 * Layers of 1..3 pixels, fully connected ones above all: the pixel is
 * expanded once (input offset added) and each filter walks its mask over
 * it, one SMLAD per 2 channels, no block of 4 pixels to fill.
 */
static void groups_pixels(const dtmm_fwcs_view *v, const int8_t *input, int8_t *output, uint32_t *lanes)
{
    const dtmm_fwcs_header *h = v->hdr;
    const uint32_t cout = h->cout, g = h->group, words = h->cin / 4u, gw = g / 2u;
    const uint32_t row_bytes = (h->cin / g + 7u) / 8u, pixels = (uint32_t)h->out_h * h->out_w;
    const uint32_t off2 = ((uint32_t)h->input_offset & 0xFFFFu) | ((uint32_t)h->input_offset << 16);
    const int32_t k = 1 + 2 * h->output_offset, lo = h->act_min, hi = h->act_max;
    for (uint32_t q = 0; q < pixels; q++) {
        const int8_t *px = dtmm_groups_pixel(h, input, q);
        for (uint32_t i = 0; i < words; i++) {
            const uint32_t w = load_u32(px + 4u * i);
            lanes[2u * i] = __sxtab16(off2, w);
            lanes[2u * i + 1u] = sxtab16_ror8(off2, w);
        }
        const uint32_t *wp = (const uint32_t *)(const void *)v->weights; /* 16-aligned, group % 4 == 0 */
        const uint8_t *row = v->index;
        int8_t *out = output + q * cout;
        for (uint32_t o = 0; o < cout; o++, row += row_bytes) {
            int32_t acc = v->bias[o];
            for (uint32_t m = dtmm_groups_row_word(row, row_bytes, 0u); m != 0u; m &= m - 1u) {
                const uint32_t *xq = lanes + gw * (uint32_t)__builtin_ctz(m);
                if (g == 4u) {
                    GROUP_WORD(acc, wp, xq);
                } else if (g == 8u) {
                    GROUP_WORD(acc, wp, xq);
                    GROUP_WORD(acc, wp, xq);
                } else if (g == 16u) {
                    GROUP_WORD(acc, wp, xq);
                    GROUP_WORD(acc, wp, xq);
                    GROUP_WORD(acc, wp, xq);
                    GROUP_WORD(acc, wp, xq);
                } else {
                    for (uint32_t n = g / 4u; n != 0u; n--) GROUP_WORD(acc, wp, xq);
                }
            }
            const int32_t mult = v->multiplier[o], shift = v->shift[o];
            int32_t r;
            if (mult >= 0x40000000 && shift <= -2) {
                r = requant_fast(acc, (uint32_t)mult * 2u, -shift - 1, k);
            } else {
                r = dtmm_requantize(acc, mult, shift) + h->output_offset;
            }
            out[o] = (int8_t)(r < lo ? lo : r > hi ? hi : r);
        }
    }
}

static dtmm_status groups_conv(const dtmm_fwcs_view *v, const int8_t *input, int8_t *output, void *scratch)
{
    const dtmm_fwcs_header *h = v->hdr;
    if (!dtmm_groups_dsp_ok(h)) {
        return DTMM_ERR_UNSUPPORTED; /* dtmm_dsp_variant() picks the portable variant for it */
    }
    if (scratch == NULL || ((uintptr_t)scratch & 3u) != 0) {
        return DTMM_ERR_ARGUMENT;
    }
    const uint32_t cout = h->cout, cin = h->cin, g = h->group, n_groups = cin / g;
    const uint32_t row_bytes = (n_groups + 7u) / 8u, pixels = (uint32_t)h->out_h * h->out_w;
    if (pixels < 4u) {
        groups_pixels(v, input, output, (uint32_t *)scratch + 8u * cout);
        return DTMM_OK;
    }
    uint32_t *rec = (uint32_t *)scratch;
    uint8_t *band = (uint8_t *)scratch + 32u * cout;
    int8_t *dump = (int8_t *)(band + 8u * cin);

    int any_slow = 0;
    const int8_t *wp = v->weights;
    const uint8_t *row = v->index;
    for (uint32_t o = 0; o < cout; o++, row += row_bytes) {
        const uint32_t m = dtmm_groups_row_word(row, row_bytes, 0u);
        any_slow |= !band_record(rec + DTMM_DSP_RECORD_WORDS * o, v, o, m, wp);
        wp += (uint32_t)__builtin_popcount(m) * g;
    }

    expand_call ec;
    ec.dst = band;
    ec.nchunk = 1;
    ec.groups = cin / 4u;
    ec.bstride = 0;
    ec.off2 = ((uint32_t)h->input_offset & 0xFFFFu) | ((uint32_t)h->input_offset << 16);
    ec.gs_m32 = 0; /* one block: words 32 bytes apart */
    dsp_call call;
    call.rec = NULL; /* set by dsp_blocks */
    call.k = 1 + 2 * h->output_offset;
    call.groups = g / 4u;
    call.gs_m16 = 16u;
    call.bstep = 32u;
    call.positions = n_groups;
    call.par0 = rec;
    call.pend = rec + DTMM_DSP_RECORD_WORDS * cout;
    call.opstep = 3 * (int32_t)cout;
    call.nblk = 1;
    for (uint32_t q = 0; q < pixels; q += 4u) {
        const uint32_t valid = pixels - q < 4u ? pixels - q : 4u;
        for (uint32_t i = 0; i < 4u; i++) ec.p[i] = dtmm_groups_pixel(h, input, q + (i < valid ? i : 0u));
        expand_band(&ec);
        for (uint32_t j = 0; j < n_groups; j++) call.tbl[j] = band + 8u * g * j;
        call.op = output + q * cout;
        const int32_t to_dump = (int32_t)((uintptr_t)dump - (uintptr_t)call.op);
        call.c1 = valid > 1u ? (int32_t)cout : to_dump;
        call.c2 = valid > 2u ? 2 * (int32_t)cout : to_dump;
        call.c3 = valid > 3u ? 3 * (int32_t)cout : to_dump;
        dsp_blocks(&call);
    }

    if (h->act_min > -128 || h->act_max < 127) {
        clamp_output(output, pixels * cout, h->act_min, h->act_max);
    }
    if (any_slow) {
        for (uint32_t o = 0; o < cout; o++) {
            const uint32_t *r = rec + DTMM_DSP_RECORD_WORDS * o;
            if (r[7] == 0u) {
                groups_slow_filter(v, input, output, o, r[6], (const int8_t *)(uintptr_t)r[1]);
            }
        }
    }
    return DTMM_OK;
}

/* The element-list variant (cin = 1 or kh*kw > 32, dtmm_dsp_variant()). */
static dtmm_status elem_layer(const dtmm_fwcs_view *v, const int8_t *input, int8_t *output, void *scratch)
{
    dtmm_dsp_elem_plan ep;
    if (!dtmm_dsp_choose_elem(v->hdr, &ep)) {
        return DTMM_ERR_UNSUPPORTED;
    }
    if (scratch == NULL || ((uintptr_t)scratch & 3u) != 0) {
        return DTMM_ERR_ARGUMENT;
    }
    return elem_conv(v, &ep, input, output, (uint8_t *)scratch);
}

/* The variants (dtmm_conv_variants.h): each object is the only reference to its code. */
const dtmm_conv_variant dtmm_conv_dsp_band = {DTMM_CONV_V_dsp_band, NULL, band_conv, NULL, NULL};
const dtmm_conv_variant dtmm_conv_dsp_elem = {DTMM_CONV_V_dsp_elem, NULL, elem_layer, NULL, NULL};
const dtmm_conv_variant dtmm_conv_dsp_groups = {DTMM_CONV_V_dsp_groups, NULL, groups_conv, NULL, NULL};

dtmm_status dtmm_conv_s8_dsp_with(const dtmm_fwcs_view *v, const int8_t *input, int8_t *output, void *scratch,
                                  const dtmm_conv_variant *const *variants, uint32_t n_variants)
{
    if (v == NULL || v->hdr == NULL || input == NULL || output == NULL) {
        return DTMM_ERR_ARGUMENT;
    }
    const dtmm_conv_variant *var = dtmm_conv_variant_find(variants, n_variants, dtmm_dsp_variant(v->hdr));
    if (var == NULL) {
        return DTMM_ERR_UNSUPPORTED; /* the caller did not link the variant this layer needs */
    }
    return var->layer(v, input, output, scratch);
}

#endif /* DTMM_DSP_ASM */
