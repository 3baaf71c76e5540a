/*
 * conv_check - runs every case of a generated conv_cases.h through a conv
 * kernel and compares with the golden output, bit for bit.
 *
 * conv_cases.h comes from support.conv_cases.write_firmware_sources(), which
 * copies this file next to it in a build directory (the cases are never
 * committed).  Per case it prints
 *     @dtmm measure <case> <instructions>            (kernel call only)
 *     @conv PASS <case> ...   or   @conv FAIL <case> <reason>
 * then "@conv done passed=P failed=F skipped=S path=X", and exits with 1 when
 * anything failed.  Each case also checks dtmm_fwcs_validate() on the blob,
 * that the kernel writes nothing outside its output and scratch, and that it
 * works with input and output at odd addresses.
 *
 * -DCONV_CHECK_PATH=N picks the kernel: 0 dtmm_conv_s8 (the dispatching
 * wrapper, default), 1 dtmm_conv_s8_c, 2 dtmm_conv_s8_dsp, 3 dtmm_conv_s8_mve,
 * 4 dtmm_conv_s8_reference (DENSE cases only, the others are skipped).
 */
#include <stdint.h>
#include <string.h>

#include "conv_cases.h"
#include "dtmm_board.h"
#include "dtmm_kernels.h"

#ifndef CONV_CHECK_PATH
#define CONV_CHECK_PATH 0
#endif
#ifndef CONV_SCRATCH_BYTES
#define CONV_SCRATCH_BYTES 16384u
#endif
#define GUARD 16u

static uint8_t input_buf[CONV_MAX_INPUT + 4u] __attribute__((aligned(16)));
static uint8_t output_buf[GUARD + CONV_MAX_OUTPUT + GUARD] __attribute__((aligned(16)));
static uint8_t scratch_buf[CONV_SCRATCH_BYTES + GUARD] __attribute__((aligned(16)));

#if CONV_CHECK_PATH == 0
static const char *path_name(void) { return dtmm_conv_s8_path(); }
#elif CONV_CHECK_PATH == 1
#define PATH_FN dtmm_conv_s8_c
#define PATH_SIZE_FN dtmm_conv_s8_c_get_buffer_size
static const char *path_name(void) { return "c"; }
#elif CONV_CHECK_PATH == 2
#define PATH_FN dtmm_conv_s8_dsp
#define PATH_SIZE_FN dtmm_conv_s8_dsp_get_buffer_size
static const char *path_name(void) { return "dsp"; }
#elif CONV_CHECK_PATH == 3
#define PATH_FN dtmm_conv_s8_mve
#define PATH_SIZE_FN dtmm_conv_s8_mve_get_buffer_size
static const char *path_name(void) { return "mve"; }
#elif CONV_CHECK_PATH == 4
static const char *path_name(void) { return "reference"; }
#else
#error "CONV_CHECK_PATH must be 0..4"
#endif

/* Scratch bytes the chosen kernel needs, or a negative status. */
static int32_t scratch_size(const uint8_t *blob, const dtmm_fwcs_view *v)
{
#if CONV_CHECK_PATH == 0
    (void)v;
    return dtmm_conv_s8_get_buffer_size(blob);
#elif CONV_CHECK_PATH == 4
    (void)blob;
    (void)v;
    return 0;
#else
    (void)blob;
    return PATH_SIZE_FN(v);
#endif
}

static dtmm_status run_kernel(const uint8_t *blob, const dtmm_fwcs_view *v, const int8_t *in, int8_t *out,
                              void *scratch)
{
#if CONV_CHECK_PATH == 0
    (void)v;
    return dtmm_conv_s8(blob, in, out, scratch);
#elif CONV_CHECK_PATH == 4
    (void)blob;
    (void)scratch;
    return dtmm_conv_s8_reference(v, in, out);
#else
    (void)blob;
    return PATH_FN(v, in, out, scratch);
#endif
}

static int all_equal(const uint8_t *p, uint32_t n, uint8_t value)
{
    for (uint32_t i = 0; i < n; i++) {
        if (p[i] != value) return 0;
    }
    return 1;
}

/* 0 pass, 1 fail, 2 skipped */
static int check_case(uint32_t k, const conv_case *c)
{
    dtmm_fwcs_view v;
    dtmm_status st = dtmm_fwcs_validate(c->blob, c->blob_len);
    if (st != DTMM_OK) {
        dtmm_printf("@conv FAIL %s dtmm_fwcs_validate returned %s\n", c->name, dtmm_status_name(st));
        return 1;
    }
    st = dtmm_fwcs_view_init(c->blob, &v);
    if (st != DTMM_OK) {
        dtmm_printf("@conv FAIL %s dtmm_fwcs_view_init returned %s\n", c->name, dtmm_status_name(st));
        return 1;
    }
#if CONV_CHECK_PATH == 4
    if (v.hdr->encoding != DTMM_FWCS_ENC_DENSE) {
        dtmm_printf("@conv SKIP %s reference needs DENSE\n", c->name);
        return 2;
    }
#endif
    int32_t need = scratch_size(c->blob, &v);
    if (need < 0 || (uint32_t)need > CONV_SCRATCH_BYTES) {
        dtmm_printf("@conv FAIL %s scratch size %d (this firmware has %u)\n", c->name, (int)need,
                    (unsigned)CONV_SCRATCH_BYTES);
        return 1;
    }

    /* odd input/output addresses: kernels must not assume word alignment of activations */
    const uint32_t in_shift = k % 4u, out_shift = (k + 1u) % 4u;
    int8_t *in = (int8_t *)(input_buf + in_shift);
    int8_t *out = (int8_t *)(output_buf + GUARD + out_shift);
    const uint8_t fill = (uint8_t)(0xA5u + k);
    memcpy(in, c->input, c->input_len);
    memset(output_buf, fill, sizeof output_buf);
    memset(scratch_buf, fill, sizeof scratch_buf);
    void *scratch = need > 0 ? scratch_buf : NULL;

    uint64_t start = dtmm_measure_begin();
    st = run_kernel(c->blob, &v, in, out, scratch);
    uint64_t count = dtmm_measure_end(c->name, start);

    if (st != DTMM_OK) {
        dtmm_printf("@conv FAIL %s kernel returned %s\n", c->name, dtmm_status_name(st));
        return 1;
    }
    if (!all_equal(output_buf, GUARD + out_shift, fill) ||
        !all_equal((const uint8_t *)out + c->output_len, GUARD - out_shift, fill)) {
        dtmm_printf("@conv FAIL %s wrote outside its output\n", c->name);
        return 1;
    }
    if (!all_equal(scratch_buf + need, GUARD, fill)) {
        dtmm_printf("@conv FAIL %s wrote past its %d scratch bytes\n", c->name, (int)need);
        return 1;
    }
    uint32_t bad = 0, first = 0;
    for (uint32_t i = 0; i < c->output_len; i++) {
        if ((uint8_t)out[i] != c->expected[i]) {
            if (bad++ == 0) first = i;
        }
    }
    if (bad) {
        dtmm_printf("@conv FAIL %s %u of %u outputs differ, first at %u: got %d want %d\n", c->name,
                    (unsigned)bad, (unsigned)c->output_len, (unsigned)first, (int)out[first],
                    (int)(int8_t)c->expected[first]);
        return 1;
    }
    dtmm_printf("@conv PASS %s macs=%u instructions=%u\n", c->name, (unsigned)c->macs, (unsigned)count);
    return 0;
}

int main(void)
{
    unsigned passed = 0, failed = 0, skipped = 0;
    dtmm_printf("conv_check on %s: %u cases, path %s\n", dtmm_board_name(), (unsigned)CONV_CASE_COUNT,
                path_name());
    for (uint32_t k = 0; k < CONV_CASE_COUNT; k++) {
        int r = check_case(k, &conv_cases[k]);
        passed += r == 0;
        failed += r == 1;
        skipped += r == 2;
    }
    dtmm_printf("@conv done passed=%u failed=%u skipped=%u path=%s\n", passed, failed, skipped, path_name());
    return failed ? 1 : 0;
}
