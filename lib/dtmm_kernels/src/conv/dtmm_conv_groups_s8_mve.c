/*
 * dtmm_conv_groups_s8_mve.c - a GROUPS layer (1x1 conv or fully connected
 * layer pruned by channel groups, docs/fwcs.md 5.5) with Helium MVE
 * (Cortex-M55), and its variant object dtmm_conv_mve_groups.
 *
 * Output pixels go four at a time.  Their inputs are first copied into the
 * block buffer group-major ([group][pixel][group bytes]), so a filter's
 * stored group j sits at j * 4 * group bytes and each vector of its weights
 * serves the four pixels:
 *   per 16 channels: VLDRB w; 4 x (VLDRB x; VMLADAVA)
 Other group sizes load with a tail predicate (a group of 4 or 8 channels
 * costs as much as one of 16: Helium layers want group = 16).  A filter's
 * stored groups come from its mask words (lowest bit first), a pruned group
 * costs nothing; sums are requantized four filters at a time, lanes being
 * filters, so each pixel's four outputs are one narrowing store.  The last
 * 1..3 pixels (and fully connected layers: one pixel) are read in place.
 * Builds without integer MVE run dtmm_conv_groups_s8_c() instead.
 */
#include <stddef.h>

#include "dtmm_conv_groups_internal.h"
#include "dtmm_conv_variant_internal.h"

#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)

#include <arm_mve.h>

#include "../common/dtmm_cold.h"
#include "../common/dtmm_fixedpoint.h"
#include "../common/dtmm_fixedpoint_mve.h"

typedef struct {
    const dtmm_fwcs_view *v;
    const int32_t *init;
    const uint32_t *masks; /* [cout][nw] */
    uint32_t nw;
    uint32_t g;
    uint32_t cout;
    int right_only; /* every shift <= 0: the requantization needs no left shift */
} groups_ctx;

/*
 * Copies pixel p (0..3) of a block into the block buffer.  Layers the assembly
 * runs (groups of 16, 32 or 64 channels) use it chunk-major: chunk k of 16
 * channels of pixel p at k*64 + p*16, so group j starts at j*4*group and each
 * chunk's four pixels are four loads at immediate offsets.  Other group sizes
 * use it group-major ([group][pixel][group bytes]), for block_any().
 */
static void copy_pixel(const int8_t *px, uint32_t p, uint32_t g, uint32_t n_groups, int asm_layout, int8_t *buf)
{
    if (asm_layout) {
        int8_t *slot = buf + 16u * p;
        for (uint32_t k = n_groups * g / 16u; k != 0u; k--, px += 16, slot += 64) vstrbq_s8(slot, vldrbq_s8(px));
        return;
    }
    int8_t *slot = buf + p * g;
    for (uint32_t j = 0; j < n_groups; j++, px += g, slot += 4u * g) {
        for (uint32_t c = 0; c < g; c += 16u) {
            const mve_pred16_t pr = vctp8q(g - c);
            vstrbq_p_s8(slot + c, vldrbq_z_s8(px + c, pr), pr);
        }
    }
}

/*
 * Requantizes the sums of filters [o0, o0 + n) (n <= 4) for the block's
 * `pixels` pixels: sums[p][k] is filter o0 + k at pixel p.  Lanes are
 * filters, so multiplier, shift and init load as vectors and each pixel's
 * four outputs are one narrowing store.
 */
static void finish_quad(const groups_ctx *c, uint32_t o0, uint32_t n, const int32_t (*sums)[4], uint32_t pixels,
                        int8_t *out)
{
    const dtmm_fwcs_view *v = c->v;
    const mve_pred16_t pr = vctp32q(n);
    const int32x4_t mult = vldrwq_z_s32(v->multiplier + o0, pr), shift = vldrwq_z_s32(v->shift + o0, pr);
    const int32x4_t init = vldrwq_z_s32(c->init + o0, pr);
    const int32x4_t lo = vdupq_n_s32(v->hdr->act_min), hi = vdupq_n_s32(v->hdr->act_max);
    const int32_t out_off = v->hdr->output_offset;
    const int32x4_t right = vminq_s32(shift, vdupq_n_s32(0)), left = vmaxq_s32(shift, vdupq_n_s32(0));
    for (uint32_t p = 0; p < pixels; p++, out += c->cout) {
        int32x4_t acc = vaddq_s32(vldrwq_s32(sums[p]), init);
        if (!c->right_only) acc = vshlq_s32(acc, left);
        acc = vqrdmulhq_s32(acc, mult);
        acc = vrshlq_s32(vqaddq_s32(acc, vshrq_n_s32(vandq_s32(acc, right), 31)), right);
        acc = vminq_s32(vmaxq_s32(vaddq_n_s32(acc, out_off), lo), hi);
        vstrbq_p_s32(out + o0, acc, pr);
    }
}

/*
 * Four pixels, groups of 16, 32 or 64 channels, at most 32 groups: the
 * common Helium case, in assembly (VMLADAVA wants even accumulators: r4,
 * r6, r8, r10; C cannot keep the loop in registers).  Per stored group 5
 * instructions walk the mask (RBIT/CLZ/ADD/SUB/ANDS) and 1 branches; per
 * chunk of 16 channels one VLDRB of weights and four VLDRB + VMLADAVA of
 * the pixels (chunk-major block buffer, copy_pixel()), an ADD between
 * chunks.  Per filter 19 more: the four sums go to one vector, are
 * requantized on lanes (VQRDMULH, the half-away-from-zero fix, VRSHL by the
 * filter's right shift), clamped and stored by one byte scatter.  Filters
 * with a shift >= 0 get wrong outputs here and are recomputed afterwards.
 */
typedef struct {
    const uint32_t *rec; /* 0: per filter {mask, init, multiplier, shift (< 0)} */
    const int8_t *buf;   /* 4: block buffer, chunk-major */
    const int8_t *w;     /* 8: first filter's weights */
    int8_t *out;         /* 12: output of pixel 0, filter 0 */
    int32_t out_off;     /* 16 */
    uint32_t nf;         /* 20: filters */
    int32_t lo[4];       /* 24: act_min in every lane */
    int32_t hi[4];       /* 40: act_max */
    uint32_t offs[4];    /* 56: 0, cout, 2*cout, 3*cout */
} block_call;

/* One chunk of 16 channels for the four pixels at r7; ADD.W leaves the flags of the mask walk alone. */
#define MVE_CHUNK                                                                                        \
    "vldrb.8 q4, [r2], #16\n\t"                                                                          \
    "vldrb.8 q0, [r7]\n\t"                                                                               \
    "vmladava.s8 r4, q0, q4\n\t"                                                                         \
    "vldrb.8 q1, [r7, #16]\n\t"                                                                          \
    "vmladava.s8 r6, q1, q4\n\t"                                                                         \
    "vldrb.8 q2, [r7, #32]\n\t"                                                                          \
    "vmladava.s8 r8, q2, q4\n\t"                                                                         \
    "vldrb.8 q3, [r7, #48]\n\t"                                                                          \
    "vmladava.s8 r10, q3, q4\n\t"
#define MVE_NEXT_CHUNK "add.w r7, r7, #64\n\t"
/* The whole block for groups of 4 << shift bytes per pixel set (shift 6, 7, 8: 16, 32, 64 channels); `skip`
 * jumps over the group loop of a filter with nothing stored (CBZ reaches only 126 bytes ahead). */
#define MVE_SKIP_NEAR "cbz r3, 3f\n\t"
#define MVE_SKIP_FAR "cmp r3, #0\n\tbeq.w 3f\n\t"
#define MVE_BLOCK_ASM(shift, skip, chunks)                                                               \
    "push {r4-r11, lr}\n\t"                                                                              \
    "vpush {d8-d15}\n\t"                                                                                 \
    "ldm r0, {r1, r2, r3, r11, r12, lr}\n\t" /* rec, buf, w, out, out_off, nf */                         \
    "mov r9, r1\n\t"                                                                                     \
    "mov r1, r2\n\t"                                                                                     \
    "mov r2, r3\n\t"                                                                                     \
    "add r3, r0, #24\n\t"                                                                                \
    "vldrw.32 q6, [r3]\n\t"                                                                              \
    "vldrw.32 q7, [r3, #16]\n\t"                                                                         \
    "vldrw.32 q5, [r3, #32]\n\t"                                                                         \
    "1:\n\t"                                                                                             \
    "ldr r3, [r9], #4\n\t"                                                                               \
    "movs r4, #0\n\t"                                                                                    \
    "movs r6, #0\n\t"                                                                                    \
    "movs r8, #0\n\t"                                                                                    \
    "movs r10, #0\n\t" skip                                                                              \
    "2:\n\t"                                                                                             \
    "rbit r5, r3\n\t"                                                                                    \
    "clz r5, r5\n\t"                                                                                     \
    "add r7, r1, r5, lsl #" shift "\n\t"                                                                 \
    "sub r5, r3, #1\n\t"                                                                                 \
    "ands r3, r3, r5\n\t" chunks "bne 2b\n\t"                                                            \
    "3:\n\t"                                                                                             \
    "ldmia r9!, {r3, r5, r7}\n\t"    /* init, multiplier, shift */                                       \
    "vmov q0[2], q0[0], r4, r8\n\t"  /* lane 0 = r4, lane 2 = r8 */                                      \
    "vmov q0[3], q0[1], r6, r10\n\t" /* lane 1 = r6, lane 3 = r10 */                                     \
    "vadd.i32 q0, q0, r3\n\t"                                                                            \
    "vqrdmulh.s32 q0, q0, r5\n\t"                                                                        \
    "vshr.s32 q1, q0, #31\n\t"                                                                           \
    "vqadd.s32 q0, q0, q1\n\t"                                                                           \
    "vrshl.s32 q0, r7\n\t"                                                                               \
    "vadd.i32 q0, q0, r12\n\t"                                                                           \
    "vmax.s32 q0, q0, q6\n\t"                                                                            \
    "vmin.s32 q0, q0, q7\n\t"                                                                            \
    "vstrb.32 q0, [r11, q5]\n\t"                                                                         \
    "adds r11, #1\n\t"                                                                                   \
    "subs lr, lr, #1\n\t"                                                                                \
    "bne 1b\n\t"                                                                                         \
    "vpop {d8-d15}\n\t"                                                                                  \
    "pop {r4-r11, pc}\n\t"

__attribute__((naked, noinline)) static void block_g16(__attribute__((unused)) const block_call *call)
{
    __asm__ volatile(MVE_BLOCK_ASM("6", MVE_SKIP_NEAR, MVE_CHUNK));
}

__attribute__((naked, noinline)) static void block_g32(__attribute__((unused)) const block_call *call)
{
    __asm__ volatile(MVE_BLOCK_ASM("7", MVE_SKIP_FAR, MVE_CHUNK MVE_NEXT_CHUNK MVE_CHUNK));
}

__attribute__((naked, noinline)) static void block_g64(__attribute__((unused)) const block_call *call)
{
    __asm__ volatile(MVE_BLOCK_ASM("8", MVE_SKIP_FAR, MVE_CHUNK MVE_NEXT_CHUNK MVE_CHUNK MVE_NEXT_CHUNK MVE_CHUNK MVE_NEXT_CHUNK
                                            MVE_CHUNK));
}

/*
 * One pixel (fully connected layers; the last 1..3 pixels of a 1x1 layer),
 * groups of 16, 32 or 64 channels, at most 32 groups: four filters at a
 * time, each walking its own mask into its own accumulator; per stored
 * group 5 instructions of walk and 3 per 16 channels (VLDRB x, VLDRB w,
 * VMLADAVA), unrolled.  The four sums are then requantized on lanes
 * (lanes = filters: multiplier, shift and init load as vectors) and stored
 * by one narrowing store.  Fully connected layers want 64-channel groups on
 * Helium: the walk is then 5 instructions per 64 MACs.
 */
typedef struct {
    const int8_t *px;      /* 0: the pixel's input */
    const int8_t *w;       /* 4: weights of filter o0 (advanced) */
    const uint32_t *masks; /* 8: masks of filters o0..o0+3 */
    int32_t sum[4];        /* 12: the four dot products */
} dot4_args;

#define DOT1_VEC(acc, off)                                                                               \
    "vldrb.8 q0, [r7, #" off "]\n\t"                                                                     \
    "vldrb.8 q1, [r2], #16\n\t"                                                                          \
    "vmladava.s8 " acc ", q0, q1\n\t"
#define DOT1_HEAD(idx, label, shift)                                                                     \
    "ldr r3, [r9, #" idx "]\n\t"                                                                         \
    "cbz r3, " label "f\n\t"                                                                             \
    "1" label ":\n\t"                                                                                    \
    "rbit r5, r3\n\t"                                                                                    \
    "clz r5, r5\n\t"                                                                                     \
    "add r7, r1, r5, lsl #" shift "\n\t"                                                                 \
    "sub r5, r3, #1\n\t"                                                                                 \
    "ands r3, r3, r5\n\t"
#define DOT1_TAIL(label) "bne 1" label "b\n\t" label ":\n\t"
#define DOT1_G16(acc, idx, label) DOT1_HEAD(idx, label, "4") DOT1_VEC(acc, "0") DOT1_TAIL(label)
#define DOT1_G32(acc, idx, label) DOT1_HEAD(idx, label, "5") DOT1_VEC(acc, "0") DOT1_VEC(acc, "16") DOT1_TAIL(label)
#define DOT1_G64(acc, idx, label)                                                                        \
    DOT1_HEAD(idx, label, "6") DOT1_VEC(acc, "0") DOT1_VEC(acc, "16") DOT1_VEC(acc, "32") DOT1_VEC(acc, "48") \
    DOT1_TAIL(label)
#define DOT4_PROLOGUE                                                                                    \
    "push {r4-r11, lr}\n\t"                                                                              \
    "ldm r0, {r1, r2, r9}\n\t" /* px, w, masks */                                                        \
    "movs r4, #0\n\t"                                                                                    \
    "movs r6, #0\n\t"                                                                                    \
    "movs r8, #0\n\t"                                                                                    \
    "movs r10, #0\n\t"
#define DOT4_EPILOGUE                                                                                    \
    "str r2, [r0, #4]\n\t"                                                                               \
    "strd r4, r6, [r0, #12]\n\t"                                                                         \
    "strd r8, r10, [r0, #20]\n\t"                                                                        \
    "pop {r4-r11, pc}\n\t"

__attribute__((naked, noinline)) static void dot4_g16(__attribute__((unused)) dot4_args *a)
{
    __asm__ volatile(DOT4_PROLOGUE DOT1_G16("r4", "0", "2") DOT1_G16("r6", "4", "3") DOT1_G16("r8", "8", "4")
                         DOT1_G16("r10", "12", "5") DOT4_EPILOGUE);
}

__attribute__((naked, noinline)) static void dot4_g32(__attribute__((unused)) dot4_args *a)
{
    __asm__ volatile(DOT4_PROLOGUE DOT1_G32("r4", "0", "2") DOT1_G32("r6", "4", "3") DOT1_G32("r8", "8", "4")
                         DOT1_G32("r10", "12", "5") DOT4_EPILOGUE);
}

__attribute__((naked, noinline)) static void dot4_g64(__attribute__((unused)) dot4_args *a)
{
    __asm__ volatile(DOT4_PROLOGUE DOT1_G64("r4", "0", "2") DOT1_G64("r6", "4", "3") DOT1_G64("r8", "8", "4")
                         DOT1_G64("r10", "12", "5") DOT4_EPILOGUE);
}

static void block1_asm(const groups_ctx *c, const int8_t *px, int8_t *out)
{
    void (*const dot4)(dot4_args *) = c->g == 16u ? dot4_g16 : c->g == 32u ? dot4_g32 : dot4_g64;
    uint32_t four[4];
    dot4_args a;
    a.px = px;
    a.w = c->v->weights;
    for (uint32_t o0 = 0; o0 < c->cout; o0 += 4u) {
        const uint32_t n = c->cout - o0 < 4u ? c->cout - o0 : 4u;
        if (n == 4u) {
            a.masks = c->masks + o0;
        } else {
            for (uint32_t k = 0; k < 4u; k++) four[k] = k < n ? c->masks[o0 + k] : 0u;
            a.masks = four;
        }
        dot4(&a);
        finish_quad(c, o0, n, &a.sum, 1u, out);
    }
}

/*
 * Any group size and count, in C: `npix` pixels (4: the block buffer, groups 4*g bytes apart; 1: a pixel
 * read in place, groups g bytes apart), predicated loads (lanes past the group read zeros).
 */
static DTMM_COLD __attribute__((noinline)) void block_any(const groups_ctx *c, const int8_t *buf, uint32_t npix,
                                                          int8_t *out)
{
    const uint32_t g = c->g, nw = c->nw, gstride = npix * g;
    const int8_t *w = c->v->weights;
    const uint32_t *mp = c->masks;
    int32_t sums[4][4];
    for (uint32_t o0 = 0; o0 < c->cout; o0 += 4u) {
        const uint32_t n = c->cout - o0 < 4u ? c->cout - o0 : 4u;
        for (uint32_t k = 0; k < n; k++) {
            int32_t a[4] = {0, 0, 0, 0};
            for (uint32_t word = 0; word < nw; word++) {
                for (uint32_t m = *mp++; m != 0u; m &= m - 1u) {
                    const int8_t *x = buf + (32u * word + (uint32_t)__builtin_ctz(m)) * gstride;
                    for (uint32_t i = 0; i < g; i += 16u) {
                        const mve_pred16_t pr = vctp8q(g - i);
                        const int8x16_t wv = vldrbq_z_s8(w + i, pr);
                        for (uint32_t p = 0; p < npix; p++) a[p] = vmladavaq_s8(a[p], vldrbq_z_s8(x + p * g + i, pr), wv);
                    }
                    w += g;
                }
            }
            for (uint32_t p = 0; p < npix; p++) sums[p][k] = a[p];
        }
        finish_quad(c, o0, n, sums, npix, out);
    }
}

/* The filters' mask words from their bit rows and, when the input offset is not folded into the bias,
 * init[o] = bias + input_offset * (sum of filter o's stored weights); returns init (the blob's bias when
 * the offset is 0). */
static DTMM_COLD __attribute__((noinline)) const int32_t *prepare(const dtmm_fwcs_view *v, int32_t *init,
                                                                  uint32_t *masks, uint32_t nw)
{
    const dtmm_fwcs_header *h = v->hdr;
    const uint32_t g = h->group, row_bytes = ((uint32_t)h->cin / g + 7u) / 8u, cout = h->cout;
    const uint8_t *row = v->index;
    if (row_bytes == 1u) {
        for (uint32_t o = 0; o < cout; o++) masks[o] = row[o];
    } else if (row_bytes == 2u) {
        for (uint32_t o = 0; o < cout; o++, row += 2) masks[o] = (uint32_t)row[0] | ((uint32_t)row[1] << 8);
    } else {
        for (uint32_t o = 0; o < cout; o++, row += row_bytes) {
            for (uint32_t k = 0; k < nw; k++) masks[o * nw + k] = dtmm_groups_row_word(row, row_bytes, k);
        }
    }
    if (h->input_offset == 0) { /* folded into the bias (dtmm pack does): no pass over the weights */
        return v->bias;
    }
    const int8_t *w = v->weights;
    for (uint32_t o = 0; o < cout; o++) {
        uint32_t kept = 0;
        for (uint32_t k = 0; k < nw; k++) {
            for (uint32_t m = masks[o * nw + k]; m != 0u; m &= m - 1u) kept++;
        }
        int32_t sum = 0;
        const uint32_t n = kept * g;
        for (uint32_t k = n / 16u; k != 0u; k--, w += 16) sum = vaddvaq_s8(sum, vldrbq_s8(w));
        if (n % 16u != 0u) {
            const mve_pred16_t pr = vctp8q(n % 16u);
            sum = vaddvaq_p_s8(sum, vldrbq_z_s8(w, pr), pr);
            w += n % 16u;
        }
        init[o] = (int32_t)((uint32_t)v->bias[o] + (uint32_t)h->input_offset * (uint32_t)sum);
    }
    return init;
}

/* Filter o over every pixel in plain C (filters the assembly epilogue cannot requantize). */
static DTMM_COLD __attribute__((noinline)) void slow_filter(const groups_ctx *c, const int8_t *input,
                                                            int8_t *output, uint32_t o, const int8_t *w0)
{
    const dtmm_fwcs_view *v = c->v;
    const dtmm_fwcs_header *h = v->hdr;
    const uint32_t pixels = (uint32_t)h->out_h * h->out_w;
    for (uint32_t q = 0; q < pixels; q++) {
        const int8_t *px = dtmm_groups_pixel(h, input, q), *w = w0;
        int32_t dot = 0;
        for (uint32_t m = c->masks[o]; m != 0u; m &= m - 1u, w += c->g) {
            const int8_t *x = px + c->g * (uint32_t)__builtin_ctz(m);
            for (uint32_t i = 0; i < c->g; i++) dot += w[i] * x[i];
        }
        const int32_t acc =
            dtmm_fp_requantize(dtmm_fp_add_wrap(c->init[o], dot), v->multiplier[o], v->shift[o]) + h->output_offset;
        output[q * h->cout + o] = dtmm_fp_clamp_s8(acc, h->act_min, h->act_max);
    }
}

dtmm_status dtmm_conv_groups_s8_mve(const dtmm_fwcs_view *v, const int8_t *input, int8_t *output, void *scratch)
{
    const dtmm_status status = dtmm_groups_check(v, input, output, scratch);
    if (status != DTMM_OK) {
        return status;
    }
    const dtmm_fwcs_header *h = v->hdr;
    const uint32_t cout = h->cout, g = h->group, n_groups = h->cin / g, nw = dtmm_groups_mask_words(h);
    const uint32_t pixels = (uint32_t)h->out_h * h->out_w;
    int32_t *init = (int32_t *)scratch;
    uint32_t *masks = (uint32_t *)(void *)((uint8_t *)scratch + dtmm_groups_init_bytes(h));
    int8_t *buf = (int8_t *)masks + dtmm_groups_mve_masks_bytes(h);
    uint32_t *rec = (uint32_t *)(void *)(buf + 4u * h->cin); /* the assembly block kernels only */
    const int32_t *init_or_bias = prepare(v, init, masks, nw);
    int right_only = 1;
    for (uint32_t o = 0; o < cout; o++) right_only &= v->shift[o] <= 0;
    const groups_ctx c = {v, init_or_bias, masks, nw, g, cout, right_only};

    const int use_asm = dtmm_groups_mve_asm(h) && pixels >= 4u; /* the assembly block kernels take the layer */
    int any_slow = 0;
    block_call call;
    if (use_asm) {
        for (uint32_t o = 0; o < cout; o++) {
            const int fast = v->shift[o] < 0;
            rec[4u * o] = masks[o]; /* slow filters still walk theirs: the weights pointer must advance */
            rec[4u * o + 1u] = (uint32_t)init_or_bias[o];
            rec[4u * o + 2u] = (uint32_t)v->multiplier[o];
            rec[4u * o + 3u] = (uint32_t)v->shift[o];
            any_slow |= !fast;
        }
        call.rec = rec;
        call.buf = buf;
        call.w = v->weights;
        call.out_off = h->output_offset;
        call.nf = cout;
        for (uint32_t i = 0; i < 4u; i++) {
            call.lo[i] = h->act_min;
            call.hi[i] = h->act_max;
            call.offs[i] = i * cout;
        }
    }
    uint32_t q = 0;
    for (; q + 4u <= pixels; q += 4u) {
        for (uint32_t p = 0; p < 4u; p++) copy_pixel(dtmm_groups_pixel(h, input, q + p), p, g, n_groups, use_asm, buf);
        if (use_asm) {
            call.out = output + q * cout;
            (g == 16u ? block_g16 : g == 32u ? block_g32 : block_g64)(&call);
        } else {
            block_any(&c, buf, 4u, output + q * cout);
        }
    }
    for (; q < pixels; q++) {
        if (dtmm_groups_mve_asm(h)) {
            block1_asm(&c, dtmm_groups_pixel(h, input, q), output + q * cout);
        } else {
            block_any(&c, dtmm_groups_pixel(h, input, q), 1u, output + q * cout);
        }
    }
    if (any_slow) {
        const int8_t *w = v->weights;
        for (uint32_t o = 0; o < cout; o++) {
            if (v->shift[o] >= 0) slow_filter(&c, input, output, o, w);
            w += g * (uint32_t)__builtin_popcount(masks[o]);
        }
    }
    return DTMM_OK;
}

const dtmm_conv_variant dtmm_conv_mve_groups = {DTMM_CONV_V_mve_groups, NULL, dtmm_conv_groups_s8_mve, NULL, NULL};

#else /* no integer MVE: the portable kernel */

dtmm_status dtmm_conv_groups_s8_mve(const dtmm_fwcs_view *v, const int8_t *input, int8_t *output, void *scratch)
{
    return dtmm_conv_groups_s8_c(v, input, output, scratch);
}

#endif
