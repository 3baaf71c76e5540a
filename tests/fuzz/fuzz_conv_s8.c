/*
 * fuzz_conv_s8.c - libFuzzer target: dtmm_conv_s8() on every blob dtmm_fwcs_validate() accepts.
 *
 * The input is a blob (its CRC repaired here, so mutations of the header,
 * index and body reach the kernels).  Whatever the validator accepts runs
 * through the conv entry point of this build with its declared shapes:
 * input, output and scratch are separate exactly-sized heap buffers
 * (scratch of dtmm_conv_s8_get_buffer_size() bytes), so ASan reports any
 * access outside them.  Oracle: the result must equal
 * dtmm_conv_s8_reference() on the same layer made dense (the stored
 * filterlets or channel groups written into a zeroed OHWI tensor), byte for
 * byte, unless the kernel says DTMM_ERR_UNSUPPORTED.  Layers above
 * FUZZ_MAX_WORK multiply-accumulates (or FUZZ_MAX_BYTES of any buffer) are
 * skipped to keep executions fast; they grow no new code paths.
 */
#include "fuzz_support.h"

#define FUZZ_MAX_WORK 2000000u
#define FUZZ_MAX_BYTES (1u << 20)

/* The stored units of any encoding written into a zeroed dense OHWI tensor (docs/fwcs.md section 5). */
static void densify(const dtmm_fwcs_view *v, int8_t *dense)
{
    const dtmm_fwcs_header *h = v->hdr;
    const uint32_t cout = h->cout, cin = h->cin, positions = (uint32_t)h->kh * h->kw;
    const int8_t *w = v->weights;
    if (h->encoding == DTMM_FWCS_ENC_DENSE) {
        memcpy(dense, w, (size_t)cout * positions * cin);
        return;
    }
    memset(dense, 0, (size_t)cout * positions * cin);
    if (h->encoding == DTMM_FWCS_ENC_BITMAP) {
        for (uint32_t b = 0; b < cout * positions; ++b) {
            if (v->index[b / 8u] & (1u << (b % 8u))) {
                memcpy(dense + (size_t)b * cin, w, cin);
                w += cin;
            }
        }
    } else if (h->encoding == DTMM_FWCS_ENC_LIST) {
        const uint8_t *p = v->index;
        for (uint32_t o = 0; o < cout; ++o) {
            uint32_t count = *p++;
            for (uint32_t k = 0; k < count; ++k) {
                memcpy(dense + ((size_t)o * positions + *p++) * cin, w, cin);
                w += cin;
            }
        }
    } else { /* GROUPS */
        const uint32_t g = h->group, n_groups = cin / g, row = (n_groups + 7u) / 8u;
        for (uint32_t o = 0; o < cout; ++o) {
            for (uint32_t j = 0; j < n_groups; ++j) {
                if (v->index[o * row + j / 8u] & (1u << (j % 8u))) {
                    memcpy(dense + (size_t)o * cin + (size_t)j * g, w, g);
                    w += g;
                }
            }
        }
    }
}

static int too_big(const dtmm_fwcs_header *h)
{
    const uint64_t positions = (uint64_t)h->kh * h->kw;
    const uint64_t in_bytes = (uint64_t)h->in_h * h->in_w * h->cin;
    const uint64_t out_bytes = (uint64_t)h->out_h * h->out_w * h->cout;
    const uint64_t dense_bytes = (uint64_t)h->cout * positions * h->cin;
    return in_bytes > FUZZ_MAX_BYTES || out_bytes > FUZZ_MAX_BYTES || dense_bytes > FUZZ_MAX_BYTES ||
           out_bytes * positions * h->cin > FUZZ_MAX_WORK;
}

static void fill_input(int8_t *x, size_t n, uint32_t seed)
{
    uint32_t s = seed | 1u;
    for (size_t i = 0; i < n; ++i) {
        s ^= s << 13;
        s ^= s >> 17;
        s ^= s << 5;
        x[i] = (int8_t)(uint8_t)(s >> 24);
    }
}

static void run_layer(const uint8_t *blob)
{
    dtmm_fwcs_view view;
    if (dtmm_fwcs_view_init(blob, &view) != DTMM_OK) {
        FUZZ_FAIL("dtmm_fwcs_view_init refused a validated blob");
    }
    const dtmm_fwcs_header *h = view.hdr;
    if (too_big(h)) {
        return;
    }
    const size_t in_bytes = (size_t)h->in_h * h->in_w * h->cin;
    const size_t out_bytes = (size_t)h->out_h * h->out_w * h->cout;
    const size_t dense_bytes = (size_t)h->cout * h->kh * h->kw * h->cin;
    const int32_t scratch_bytes = dtmm_conv_s8_get_buffer_size(blob);
    if (scratch_bytes < 0) {
        FUZZ_FAIL("dtmm_conv_s8_get_buffer_size refused a validated blob: %d", (int)scratch_bytes);
    }
    int8_t *input = malloc(in_bytes);
    int8_t *output = malloc(out_bytes);
    int8_t *expected = malloc(out_bytes);
    int8_t *dense = malloc(dense_bytes);
    void *scratch = NULL;
    if (scratch_bytes > 0 && posix_memalign(&scratch, 16, (size_t)scratch_bytes) != 0) {
        abort();
    }
    if (input == NULL || output == NULL || expected == NULL || dense == NULL) {
        abort();
    }
    fill_input(input, in_bytes, h->crc32);
    memset(output, 0x5A, out_bytes);

    const dtmm_status status = dtmm_conv_s8(blob, input, output, scratch);
    if (status != DTMM_OK && status != DTMM_ERR_UNSUPPORTED) {
        FUZZ_FAIL("dtmm_conv_s8 returned %s on a validated blob", dtmm_status_name(status));
    }
    if (status == DTMM_OK) {
        dtmm_fwcs_header dense_header = *h;
        dense_header.encoding = DTMM_FWCS_ENC_DENSE;
        densify(&view, dense);
        dtmm_fwcs_view dense_view = view;
        dense_view.hdr = &dense_header;
        dense_view.index = NULL;
        dense_view.weights = dense;
        if (dtmm_conv_s8_reference(&dense_view, input, expected) != DTMM_OK) {
            FUZZ_FAIL("dtmm_conv_s8_reference refused the dense copy of a validated blob");
        }
        for (size_t i = 0; i < out_bytes; ++i) {
            if (output[i] != expected[i]) {
                FUZZ_FAIL("output byte %zu is %d, the reference says %d (encoding %u, %ux%ux%u -> %u, k %ux%u)", i,
                          output[i], expected[i], h->encoding, h->in_h, h->in_w, h->cin, h->cout, h->kh, h->kw);
            }
        }
    }
    free(input);
    free(output);
    free(expected);
    free(dense);
    free(scratch);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < DTMM_FWCS_HEADER_SIZE || size > 0xFFFFFFFFu) {
        return 0;
    }
    uint8_t *blob = fuzz_aligned_copy(data, size);
    fuzz_store_crc(blob, size);
    if (dtmm_fwcs_validate(blob, (uint32_t)size) == DTMM_OK) {
        run_layer(blob);
    }
    free(blob);
    return 0;
}
