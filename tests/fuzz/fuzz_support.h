/*
 * fuzz_support.h - what the libFuzzer targets of tests/fuzz share (test code, not library code).
 *
 * The fuzzers hand the library exactly-sized heap copies so AddressSanitizer
 * sees the first byte read or written past any buffer, and they repair a
 * mutated blob's CRC-32 so mutations reach the rules behind the checksum
 * instead of dying at it.
 */
#ifndef DTMM_FUZZ_SUPPORT_H
#define DTMM_FUZZ_SUPPORT_H

#define _POSIX_C_SOURCE 200112L /* posix_memalign */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dtmm_kernels.h"

#define FUZZ_CRC_OFFSET 72u

/* Same CRC-32 as docs/fwcs.md section 7 (zlib/IEEE), the crc32 field read as zero. */
static inline uint32_t fuzz_blob_crc(const uint8_t *blob, size_t size)
{
    uint32_t crc = 0xFFFFFFFFu;
    for (size_t i = 0; i < size; ++i) {
        uint8_t byte = (i >= FUZZ_CRC_OFFSET && i < FUZZ_CRC_OFFSET + 4u) ? 0u : blob[i];
        crc ^= byte;
        for (int k = 0; k < 8; ++k) {
            crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
        }
    }
    return crc ^ 0xFFFFFFFFu;
}

static inline void fuzz_store_crc(uint8_t *blob, size_t size)
{
    uint32_t crc = fuzz_blob_crc(blob, size);
    for (unsigned k = 0; k < 4u; ++k) {
        blob[FUZZ_CRC_OFFSET + k] = (uint8_t)(crc >> (8u * k));
    }
}

static inline uint32_t fuzz_stored_crc(const uint8_t *blob)
{
    const uint8_t *p = blob + FUZZ_CRC_OFFSET;
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

/* A 16-byte aligned heap copy of exactly `size` bytes (the kernels need the alignment; ASan the size). */
static inline uint8_t *fuzz_aligned_copy(const uint8_t *data, size_t size)
{
    void *p = NULL;
    if (posix_memalign(&p, 16, size ? size : 1) != 0) {
        abort();
    }
    if (size) {
        memcpy(p, data, size);
    }
    return (uint8_t *)p;
}

/* A finding: one line on stderr, then abort() so libFuzzer saves the input as a crash. */
#define FUZZ_FAIL(...)                                                                                             \
    do {                                                                                                           \
        fprintf(stderr, "fuzz finding: " __VA_ARGS__);                                                             \
        fputc('\n', stderr);                                                                                       \
        abort();                                                                                                   \
    } while (0)

#endif /* DTMM_FUZZ_SUPPORT_H */
