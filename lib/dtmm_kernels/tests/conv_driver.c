/*
 * conv_driver - host (x86, ASan/UBSan) test driver of the conv kernels and
 * the FWCS validator; tests/test_conv_host.py runs it on files written by
 * support.conv_cases.
 *
 *   conv_driver run CASES OUT PATH...   PATH: c | wrapper | reference
 *       CASES: u32 n, then per case u32 blob_len + blob, u32 in_len + input,
 *       u32 out_len.  OUT gets, per case and PATH: i32 status, i32 scratch
 *       bytes, out_len output bytes.  Every buffer is heap-allocated at its
 *       exact size, so ASan reports any read or write past the blob, input,
 *       output or scratch.  Odd cases put input and output at odd addresses.
 *   conv_driver validate BLOBS
 *       BLOBS: u32 n, then per blob u32 len + bytes.  Prints one
 *       dtmm_status code per line; each blob sits in a buffer of exactly its
 *       length.
 *   conv_driver requant N
 *       Compares dtmm_fp_requantize() (src/dtmm_fixedpoint.h)
 *       with dtmm_requantize() on edge values and N pseudo-random inputs;
 *       prints the number of mismatches.
 *   conv_driver api BLOB
 *       Argument handling of the public conv API on one valid blob file
 *       whose layer needs scratch: prints "name status" lines.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/common/dtmm_fixedpoint.h"
#include "dtmm_kernels.h"

static void die(const char *what)
{
    fprintf(stderr, "conv_driver: %s\n", what);
    exit(2);
}

static uint32_t read_u32(FILE *f)
{
    uint8_t b[4];
    if (fread(b, 1, 4, f) != 4) die("truncated input file");
    return (uint32_t)b[0] | ((uint32_t)b[1] << 8) | ((uint32_t)b[2] << 16) | ((uint32_t)b[3] << 24);
}

/* Exactly n bytes from f in a fresh heap block of n bytes (1 when n == 0). */
static uint8_t *read_block(FILE *f, uint32_t n, uint32_t lead)
{
    uint8_t *p = malloc((size_t)n + lead + (n + lead == 0));
    if (p == NULL) die("out of memory");
    if (n && fread(p + lead, 1, n, f) != n) die("truncated input file");
    return p;
}

static void write_i32(FILE *f, int32_t v)
{
    uint32_t u = (uint32_t)v;
    uint8_t b[4] = {(uint8_t)u, (uint8_t)(u >> 8), (uint8_t)(u >> 16), (uint8_t)(u >> 24)};
    if (fwrite(b, 1, 4, f) != 4) die("write failed");
}

static int cmd_validate(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) die("cannot open blob file");
    uint32_t n = read_u32(f);
    for (uint32_t i = 0; i < n; i++) {
        uint32_t len = read_u32(f);
        uint8_t *blob = read_block(f, len, 0);
        printf("%d\n", (int)dtmm_fwcs_validate(blob, len));
        free(blob);
    }
    fclose(f);
    return 0;
}

static void run_one(const char *path, const uint8_t *blob, const int8_t *in, uint32_t out_len, uint32_t shift,
                    FILE *out_file)
{
    dtmm_fwcs_view view;
    int32_t need = 0;
    dtmm_status st = dtmm_fwcs_view_init(blob, &view);
    if (st == DTMM_OK) {
        if (strcmp(path, "c") == 0) {
            need = dtmm_conv_s8_c_get_buffer_size(&view);
        } else if (strcmp(path, "wrapper") == 0) {
            need = dtmm_conv_s8_get_buffer_size(blob);
        } else if (strcmp(path, "reference") != 0) {
            die("unknown path (c, wrapper, reference)");
        }
    }
    if (need < 0) die("negative scratch size for a valid blob");
    uint8_t *out_block = malloc((size_t)out_len + shift);
    uint8_t *scratch = need > 0 ? malloc((size_t)need) : NULL;
    if (out_block == NULL || (need > 0 && scratch == NULL)) die("out of memory");
    memset(out_block, 0x5A, (size_t)out_len + shift);
    if (scratch) memset(scratch, 0xC3, (size_t)need);
    int8_t *out = (int8_t *)(out_block + shift);

    if (st == DTMM_OK) {
        if (strcmp(path, "c") == 0) {
            st = dtmm_conv_s8_c(&view, in, out, scratch);
        } else if (strcmp(path, "wrapper") == 0) {
            st = dtmm_conv_s8(blob, in, out, scratch);
        } else {
            st = dtmm_conv_s8_reference(&view, in, out);
        }
    }
    write_i32(out_file, (int32_t)st);
    write_i32(out_file, need);
    if (out_len && fwrite(out, 1, out_len, out_file) != out_len) die("write failed");
    free(scratch);
    free(out_block);
}

static int cmd_run(const char *cases_path, const char *out_path, int n_paths, char **paths)
{
    FILE *f = fopen(cases_path, "rb");
    FILE *o = fopen(out_path, "wb");
    if (f == NULL || o == NULL) die("cannot open case or output file");
    uint32_t n = read_u32(f);
    for (uint32_t k = 0; k < n; k++) {
        uint32_t blob_len = read_u32(f);
        uint8_t *blob = read_block(f, blob_len, 0);
        if (((uintptr_t)blob & 15u) != 0) die("malloc did not return a 16-byte aligned block");
        if (dtmm_fwcs_validate(blob, blob_len) != DTMM_OK) die("a case blob fails dtmm_fwcs_validate");
        const uint32_t shift = k & 1u;
        uint32_t in_len = read_u32(f);
        uint8_t *in_block = read_block(f, in_len, shift);
        uint32_t out_len = read_u32(f);
        for (int p = 0; p < n_paths; p++) {
            run_one(paths[p], blob, (const int8_t *)(in_block + shift), out_len, shift, o);
        }
        free(in_block);
        free(blob);
    }
    fclose(f);
    if (fclose(o) != 0) die("write failed");
    return 0;
}

static uint32_t lcg(uint32_t *state)
{
    *state = *state * 1664525u + 1013904223u;
    return *state;
}

static int cmd_requant(long n)
{
    static const int32_t accs[] = {0, 1, -1, 2, -2, 3, 127, -128, 0x7FFFFFFF, -0x7FFFFFFF - 1, 0x40000000,
                                   -0x40000000, 1 << 20, -(1 << 20) - 7, 12345, -12345};
    static const int32_t mults[] = {0, 1, 1 << 30, 0x7FFFFFFF, 1518500250, 1073741825, -0x7FFFFFFF - 1};
    long bad = 0;
    for (unsigned a = 0; a < sizeof accs / sizeof accs[0]; a++) {
        for (unsigned m = 0; m < sizeof mults / sizeof mults[0]; m++) {
            for (int32_t s = -31; s <= 30; s++) {
                bad += dtmm_fp_requantize(accs[a], mults[m], s) != dtmm_requantize(accs[a], mults[m], s);
            }
        }
    }
    uint32_t state = 12345u;
    for (long i = 0; i < n; i++) {
        int32_t acc = (int32_t)lcg(&state);
        if (i & 1) acc >>= (lcg(&state) % 31u); /* small and large magnitudes */
        int32_t mult = (int32_t)(lcg(&state) >> 1);
        int32_t shift = (int32_t)(lcg(&state) % 62u) - 31;
        bad += dtmm_fp_requantize(acc, mult, shift) != dtmm_requantize(acc, mult, shift);
    }
    printf("%ld\n", bad);
    return 0;
}

static int cmd_api(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) die("cannot open blob file");
    uint32_t len = read_u32(f);
    uint8_t *blob = read_block(f, len, 0);
    fclose(f);
    if (len < 96) die("api needs a blob of at least 96 bytes");
    /* a misaligned copy of the blob */
    uint8_t *odd_block = malloc((size_t)len + 1);
    if (odd_block == NULL) die("out of memory");
    memcpy(odd_block + 1, blob, len);
    static int8_t in[1 << 16], out[1 << 16];
    static int32_t scratch[1 << 14];
    dtmm_fwcs_view view;
    uint8_t bad_magic[96] __attribute__((aligned(16)));
    memcpy(bad_magic, blob, sizeof bad_magic);
    bad_magic[0] = 'X';

    printf("path %s\n", dtmm_conv_s8_path());
    printf("validate_null %d\n", (int)dtmm_fwcs_validate(NULL, len));
    printf("validate_ok %d\n", (int)dtmm_fwcs_validate(blob, len));
    printf("validate_misaligned %d\n", (int)dtmm_fwcs_validate(odd_block + 1, len));
    printf("conv_null_blob %d\n", (int)dtmm_conv_s8(NULL, in, out, scratch));
    printf("conv_null_input %d\n", (int)dtmm_conv_s8(blob, NULL, out, scratch));
    printf("conv_null_output %d\n", (int)dtmm_conv_s8(blob, in, NULL, scratch));
    printf("conv_null_scratch %d\n", (int)dtmm_conv_s8(blob, in, out, NULL));
    printf("conv_misaligned_scratch %d\n", (int)dtmm_conv_s8(blob, in, out, (uint8_t *)scratch + 2));
    printf("conv_misaligned_blob %d\n", (int)dtmm_conv_s8(odd_block + 1, in, out, scratch));
    printf("conv_bad_magic %d\n", (int)dtmm_conv_s8(bad_magic, in, out, scratch));
    printf("conv_ok %d\n", (int)dtmm_conv_s8(blob, in, out, scratch));
    printf("size_ok %d\n", (int)dtmm_conv_s8_get_buffer_size(blob));
    printf("size_null %d\n", (int)dtmm_conv_s8_get_buffer_size(NULL));
    printf("size_bad_magic %d\n", (int)dtmm_conv_s8_get_buffer_size(bad_magic));
    printf("c_size_null %d\n", (int)dtmm_conv_s8_c_get_buffer_size(NULL));
    printf("c_null_view %d\n", (int)dtmm_conv_s8_c(NULL, in, out, scratch));
    if (dtmm_fwcs_view_init(blob, &view) != DTMM_OK) die("view_init failed");
    printf("reference_packed %d\n", (int)dtmm_conv_s8_reference(&view, in, out));
    printf("reference_null %d\n", (int)dtmm_conv_s8_reference(&view, NULL, out));
    /* variant lists: the portable path runs only when its variant is listed */
    static const dtmm_conv_variant *const portable[] = {&dtmm_conv_portable};
    printf("variant %d\n", (int)dtmm_conv_s8_variant(blob));
    printf("variant_bad_magic %d\n", (int)dtmm_conv_s8_variant(bad_magic));
    printf("with_ok %d\n", (int)dtmm_conv_s8_with(blob, in, out, scratch, portable, 1u));
    printf("with_empty %d\n", (int)dtmm_conv_s8_with(blob, in, out, scratch, portable, 0u));
    printf("with_null_list %d\n", (int)dtmm_conv_s8_with(blob, in, out, scratch, NULL, 1u));
    printf("with_null_input %d\n", (int)dtmm_conv_s8_with(blob, NULL, out, scratch, portable, 1u));
    free(odd_block);
    free(blob);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "api") == 0) return cmd_api(argv[2]);
    if (argc == 3 && strcmp(argv[1], "requant") == 0) return cmd_requant(strtol(argv[2], NULL, 10));
    if (argc == 3 && strcmp(argv[1], "validate") == 0) return cmd_validate(argv[2]);
    if (argc >= 5 && strcmp(argv[1], "run") == 0) return cmd_run(argv[2], argv[3], argc - 4, argv + 4);
    fprintf(stderr, "usage: conv_driver run CASES OUT PATH... | validate BLOBS | api BLOB | requant N\n");
    return 2;
}
