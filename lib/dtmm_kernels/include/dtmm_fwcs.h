/*
 * dtmm_fwcs.h - the FWCS packed conv layer (docs/fwcs.md) as seen from C.
 *
 * dtmm_fwcs_header mirrors the 80-byte header byte for byte (every field is
 * naturally aligned, little-endian targets only).  Kernels work on a
 * dtmm_fwcs_view: the header plus typed pointers to each section, made by
 * dtmm_fwcs_view_init() from a blob that dtmm_fwcs_validate() accepted (or
 * that the build emitted itself and therefore trusts).
 */
#ifndef DTMM_FWCS_H
#define DTMM_FWCS_H

#include <stdint.h>

#include "dtmm_status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define DTMM_FWCS_MAGIC_0 'F'
#define DTMM_FWCS_MAGIC_1 'W'
#define DTMM_FWCS_MAGIC_2 'C'
#define DTMM_FWCS_MAGIC_3 'S'
#define DTMM_FWCS_VERSION 1u
#define DTMM_FWCS_HEADER_SIZE 80u

#define DTMM_FWCS_ENC_DENSE 0u
#define DTMM_FWCS_ENC_BITMAP 1u
#define DTMM_FWCS_ENC_LIST 2u
#define DTMM_FWCS_ENC_GROUPS 3u /* channel groups of a 1x1 layer; `group` channels per unit */

#define DTMM_FWCS_FLAG_DENSE_FALLBACK 0x0001u

/* Most multiply-accumulates per output, cin * kh * kw: 65,793 products of at most
 * 128 * 255 in magnitude keep every int32 partial sum exact (docs/fwcs.md 10). */
#define DTMM_FWCS_MAX_TAPS 65793u

#define DTMM_FWCS_PADDING_VALID 0u
#define DTMM_FWCS_PADDING_SAME 1u

typedef struct {
    uint8_t magic[4];
    uint8_t version;
    uint8_t encoding;
    uint16_t flags;
    uint16_t cout;
    uint16_t cin;
    uint8_t kh;
    uint8_t kw;
    uint8_t stride_h;
    uint8_t stride_w;
    uint8_t dilation_h;
    uint8_t dilation_w;
    uint8_t padding;
    uint8_t group; /* GROUPS: channels per group (cin % group == 0); 0 otherwise */
    uint16_t in_h;
    uint16_t in_w;
    uint16_t out_h;
    uint16_t out_w;
    uint16_t pad_top;
    uint16_t pad_left;
    int32_t input_offset;
    int32_t output_offset;
    int8_t act_min;
    int8_t act_max;
    uint16_t reserved1;
    uint32_t n_kept;
    uint32_t index_off;
    uint32_t weights_off;
    uint32_t bias_off;
    uint32_t multiplier_off;
    uint32_t shift_off;
    uint32_t total_size;
    uint32_t crc32;
    uint32_t reserved2;
} dtmm_fwcs_header;

typedef char dtmm_fwcs_header_is_80_bytes[(sizeof(dtmm_fwcs_header) == DTMM_FWCS_HEADER_SIZE) ? 1 : -1];

typedef struct {
    const dtmm_fwcs_header *hdr;
    const uint8_t *index;      /* NULL for DENSE */
    const int8_t *weights;     /* n_kept filterlets of cin bytes, (o, kh, kw) order (GROUPS: n_kept groups of
                                  `group` bytes, (o, group) order) */
    const int32_t *bias;       /* [cout] */
    const int32_t *multiplier; /* [cout] */
    const int32_t *shift;      /* [cout] */
} dtmm_fwcs_view;

/*
 * Checks an untrusted blob completely (header fields, geometry, offsets,
 * index consistency, CRC-32) without ever reading outside blob[0, size).
 * Returns DTMM_OK or the first problem found.
 */
dtmm_status dtmm_fwcs_validate(const uint8_t *blob, uint32_t size);

/*
 * Fills *view from a blob already validated (cheap: no checks beyond the
 * magic and version).  The blob must be 16-byte aligned.
 */
dtmm_status dtmm_fwcs_view_init(const uint8_t *blob, dtmm_fwcs_view *view);

/*
 * Kept-position masks of all filters: masks[o] bit p set when filterlet
 * (o, p = kh_i*kw + kw_i) is stored.  Needs kh*kw <= 32.  O(cout) for
 * BITMAP/DENSE; kernels call it once per invocation into scratch memory.
 * For GROUPS (1x1 only) bit 0 says whether the filter stores any group.
 */
dtmm_status dtmm_fwcs_filter_masks(const dtmm_fwcs_view *view, uint32_t *masks);

#ifdef __cplusplus
}
#endif

#endif /* DTMM_FWCS_H */
