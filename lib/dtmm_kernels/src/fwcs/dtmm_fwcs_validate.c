/*
 * dtmm_fwcs_validate.c - complete check of an untrusted FWCS blob.
 *
 * The C twin of tools/dtmm/formats/fwcs/codec.py validate(): the same rules in the same
 * order (docs/fwcs.md section 10), so both reject the same blobs and the
 * first violation maps to one status.  Every read is a byte read below
 * `size`: header fields are checked before any offset is followed, offsets
 * are compared with the canonical layout computed in 64 bits (no overflow),
 * and the blob may have any alignment.
 */
#include <stddef.h>

#include "dtmm_fwcs.h"

static uint32_t rd_u16(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8);
}

static uint32_t rd_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static int32_t rd_i32(const uint8_t *p)
{
    uint32_t u = rd_u32(p);
    /* two's complement without implementation-defined conversion */
    return u <= 0x7FFFFFFFu ? (int32_t)u : -(int32_t)(~u) - 1;
}

/* CRC-32 (reflected 0xEDB88320), four bits at a time: 64 bytes of table. */
static const uint32_t crc_nibble[16] = {
    0x00000000u, 0x1DB71064u, 0x3B6E20C8u, 0x26D930ACu, 0x76DC4190u, 0x6B6B51F4u, 0x4DB26158u, 0x5005713Cu,
    0xEDB88320u, 0xF00F9344u, 0xD6D6A3E8u, 0xCB61B38Cu, 0x9B64C2B0u, 0x86D3D2D4u, 0xA00AE278u, 0xBDBDF21Cu,
};

static uint32_t crc_update(uint32_t crc, uint8_t byte)
{
    crc ^= byte;
    crc = (crc >> 4) ^ crc_nibble[crc & 15u];
    return (crc >> 4) ^ crc_nibble[crc & 15u];
}

/* TFLite's output extent; 0 when a VALID kernel does not fit. */
static int64_t out_size(int64_t in, int64_t k, int64_t stride, int64_t dilation, int same)
{
    int64_t eff = (k - 1) * dilation + 1;
    int64_t n = same ? in + stride - 1 : in - eff + stride;
    return n < 0 ? 0 : n / stride;
}

static int64_t pad_before(int64_t in, int64_t out, int64_t k, int64_t stride, int64_t dilation)
{
    int64_t total = (out - 1) * stride + (k - 1) * dilation + 1 - in;
    return total > 0 ? total / 2 : 0;
}

static dtmm_status check_geometry(const uint8_t *b)
{
    uint32_t cout = rd_u16(b + 8), cin = rd_u16(b + 10);
    uint32_t kh = b[12], kw = b[13], sh = b[14], sw = b[15], dh = b[16], dw = b[17];
    uint32_t in_h = rd_u16(b + 20), in_w = rd_u16(b + 22);
    int same = b[18] == DTMM_FWCS_PADDING_SAME;
    int32_t in_off = rd_i32(b + 32), out_off = rd_i32(b + 36);
    int32_t act_min = (int8_t)b[40], act_max = (int8_t)b[41];

    if (cout == 0 || cin == 0 || in_h == 0 || in_w == 0) return DTMM_ERR_HEADER;
    if (kh == 0 || kw == 0 || sh == 0 || sw == 0 || dh == 0 || dw == 0) return DTMM_ERR_HEADER;
    if (in_off < -127 || in_off > 128 || out_off < -128 || out_off > 127) return DTMM_ERR_HEADER;
    if (act_min > act_max) return DTMM_ERR_HEADER;

    int64_t out_h = out_size(in_h, kh, sh, dh, same), out_w = out_size(in_w, kw, sw, dw, same);
    if (out_h < 1 || out_w < 1) return DTMM_ERR_HEADER;
    int64_t pad_top = pad_before(in_h, out_h, kh, sh, dh), pad_left = pad_before(in_w, out_w, kw, sw, dw);
    if (out_h > 0xFFFF || out_w > 0xFFFF || pad_top > 0xFFFF || pad_left > 0xFFFF) return DTMM_ERR_HEADER;
    if (rd_u16(b + 24) != (uint32_t)out_h || rd_u16(b + 26) != (uint32_t)out_w ||
        rd_u16(b + 28) != (uint32_t)pad_top || rd_u16(b + 30) != (uint32_t)pad_left) {
        return DTMM_ERR_HEADER;
    }
    return DTMM_OK;
}

static dtmm_status check_bitmap(const uint8_t *idx, uint32_t n_bits, uint32_t n_kept)
{
    uint32_t n_bytes = (n_bits + 7u) / 8u;
    uint32_t count = 0;
    for (uint32_t i = 0; i < n_bytes; i++) {
        uint32_t byte = idx[i];
        if (i == n_bytes - 1u && (n_bits & 7u) != 0 && (byte >> (n_bits & 7u)) != 0) {
            return DTMM_ERR_INDEX; /* padding bits past cout*kh*kw */
        }
        while (byte) {
            byte &= byte - 1u;
            count++;
        }
    }
    return count == n_kept ? DTMM_OK : DTMM_ERR_INDEX;
}

/* GROUPS: one bit row of row_bytes per filter, bits past n_groups zero, n_kept bits set in all. */
static dtmm_status check_group_rows(const uint8_t *idx, uint32_t cout, uint32_t n_groups, uint32_t n_kept)
{
    const uint32_t row_bytes = (n_groups + 7u) / 8u;
    uint32_t count = 0;
    for (uint32_t o = 0; o < cout; o++, idx += row_bytes) {
        for (uint32_t i = 0; i < row_bytes; i++) {
            uint32_t byte = idx[i];
            if (i == row_bytes - 1u && (n_groups & 7u) != 0 && (byte >> (n_groups & 7u)) != 0) {
                return DTMM_ERR_INDEX; /* padding bits of the row */
            }
            while (byte) {
                byte &= byte - 1u;
                count++;
            }
        }
    }
    return count == n_kept ? DTMM_OK : DTMM_ERR_INDEX;
}

/* Walks the LIST strictly inside its n_bytes = cout + n_kept bytes. */
static dtmm_status check_list(const uint8_t *idx, uint32_t n_bytes, uint32_t cout, uint32_t positions)
{
    uint32_t p = 0;
    for (uint32_t o = 0; o < cout; o++) {
        if (p >= n_bytes) return DTMM_ERR_INDEX;
        uint32_t count = idx[p++];
        if (count > positions || count > n_bytes - p) return DTMM_ERR_INDEX;
        for (uint32_t k = 0; k < count; k++) {
            uint32_t pos = idx[p + k];
            if (pos >= positions) return DTMM_ERR_INDEX;
            if (k > 0 && pos <= idx[p + k - 1]) return DTMM_ERR_INDEX;
        }
        p += count;
    }
    return p == n_bytes ? DTMM_OK : DTMM_ERR_INDEX;
}

dtmm_status dtmm_fwcs_validate(const uint8_t *blob, uint32_t size)
{
    if (blob == NULL) return DTMM_ERR_ARGUMENT;

    /* 1. magic, version, header length */
    if (size < 4) return DTMM_ERR_TRUNCATED;
    if (blob[0] != DTMM_FWCS_MAGIC_0 || blob[1] != DTMM_FWCS_MAGIC_1 || blob[2] != DTMM_FWCS_MAGIC_2 ||
        blob[3] != DTMM_FWCS_MAGIC_3) {
        return DTMM_ERR_MAGIC;
    }
    if (size < 5) return DTMM_ERR_TRUNCATED;
    if (blob[4] != DTMM_FWCS_VERSION) return DTMM_ERR_VERSION;
    if (size < DTMM_FWCS_HEADER_SIZE) return DTMM_ERR_TRUNCATED;

    /* 2. codes, flags, reserved fields */
    const uint32_t enc = blob[5];
    const uint32_t flags = rd_u16(blob + 6);
    if (enc > DTMM_FWCS_ENC_GROUPS) return DTMM_ERR_HEADER;
    if (flags & ~DTMM_FWCS_FLAG_DENSE_FALLBACK) return DTMM_ERR_HEADER;
    const uint32_t group = blob[19]; /* GROUPS only; reserved (0) for the other encodings */
    if ((group != 0 && enc != DTMM_FWCS_ENC_GROUPS) || rd_u16(blob + 42) != 0 || rd_u32(blob + 76) != 0) {
        return DTMM_ERR_HEADER;
    }
    if (blob[18] > DTMM_FWCS_PADDING_SAME) return DTMM_ERR_HEADER;

    /* 3. geometry and quantization */
    dtmm_status status = check_geometry(blob);
    if (status != DTMM_OK) return status;

    /* 4. n_kept against the encoding */
    const uint32_t cout = rd_u16(blob + 8), cin = rd_u16(blob + 10);
    const uint32_t positions = (uint32_t)blob[12] * blob[13];
    const uint64_t n_filterlets = (uint64_t)cout * positions;
    const uint32_t n_kept = rd_u32(blob + 44);
    uint32_t n_groups = 0;
    if (enc == DTMM_FWCS_ENC_GROUPS) {
        if (positions != 1u || group == 0 || group > cin || cin % group != 0) return DTMM_ERR_HEADER;
        n_groups = cin / group;
        if (n_kept > (uint64_t)cout * n_groups) return DTMM_ERR_HEADER;
    } else if (enc == DTMM_FWCS_ENC_DENSE ? n_kept != n_filterlets : n_kept > n_filterlets) {
        return DTMM_ERR_HEADER;
    }
    if (enc == DTMM_FWCS_ENC_LIST && positions > 255u) return DTMM_ERR_HEADER;
    if ((flags & DTMM_FWCS_FLAG_DENSE_FALLBACK) && enc != DTMM_FWCS_ENC_DENSE) return DTMM_ERR_HEADER;

    /* 5. canonical layout (64-bit: n_kept * cin can exceed 32 bits) */
    const uint64_t bias_off = DTMM_FWCS_HEADER_SIZE;
    const uint64_t mult_off = bias_off + 4u * (uint64_t)cout;
    const uint64_t shift_off = mult_off + 4u * (uint64_t)cout;
    const uint64_t index_start = shift_off + 4u * (uint64_t)cout;
    uint64_t index_bytes = 0;
    if (enc == DTMM_FWCS_ENC_BITMAP) index_bytes = (n_filterlets + 7u) / 8u;
    if (enc == DTMM_FWCS_ENC_LIST) index_bytes = (uint64_t)cout + n_kept;
    if (enc == DTMM_FWCS_ENC_GROUPS) index_bytes = (uint64_t)cout * ((n_groups + 7u) / 8u);
    const uint64_t index_end = index_start + index_bytes;
    const uint64_t weights_off = (index_end + 15u) & ~(uint64_t)15u;
    const uint64_t total = weights_off + (uint64_t)n_kept * (enc == DTMM_FWCS_ENC_GROUPS ? group : cin);
    const uint64_t index_off = enc == DTMM_FWCS_ENC_DENSE ? 0u : index_start;
    if (rd_u32(blob + 48) != index_off || rd_u32(blob + 52) != weights_off || rd_u32(blob + 56) != bias_off ||
        rd_u32(blob + 60) != mult_off || rd_u32(blob + 64) != shift_off || rd_u32(blob + 68) != total) {
        return DTMM_ERR_HEADER;
    }
    /* From here on total == total_size < 2^32 and every section lies inside it. */
    if (size < total) return DTMM_ERR_TRUNCATED;
    if (size > total) return DTMM_ERR_ARGUMENT; /* trailing bytes: the size passed is not the blob's */

    /* 6. checksum over the whole blob with the crc32 field read as zero */
    uint32_t crc = 0xFFFFFFFFu;
    for (uint32_t i = 0; i < size; i++) {
        crc = crc_update(crc, (i - 72u < 4u) ? 0u : blob[i]);
    }
    if ((crc ^ 0xFFFFFFFFu) != rd_u32(blob + 72)) return DTMM_ERR_CHECKSUM;

    /* 7. index content */
    if (enc == DTMM_FWCS_ENC_BITMAP) {
        status = check_bitmap(blob + index_start, (uint32_t)n_filterlets, n_kept);
    } else if (enc == DTMM_FWCS_ENC_LIST) {
        status = check_list(blob + index_start, (uint32_t)index_bytes, cout, positions);
    } else if (enc == DTMM_FWCS_ENC_GROUPS) {
        status = check_group_rows(blob + index_start, cout, n_groups, n_kept);
    }
    if (status != DTMM_OK) return status;

    /* 8. padding before the weights, requantization ranges, DENSE_FALLBACK */
    for (uint64_t i = index_end; i < weights_off; i++) {
        if (blob[i] != 0) return DTMM_ERR_HEADER;
    }
    for (uint32_t o = 0; o < cout; o++) {
        int32_t m = rd_i32(blob + mult_off + 4u * o);
        int32_t s = rd_i32(blob + shift_off + 4u * o);
        if (m < 0) return DTMM_ERR_HEADER;
        if (s < -31 || s > 30) return DTMM_ERR_HEADER;
    }
    if (enc == DTMM_FWCS_ENC_DENSE) {
        /* the flag must say exactly whether some stored filterlet is all zero */
        uint32_t has_zero = 0;
        const uint8_t *w = blob + weights_off;
        for (uint32_t k = 0; k < n_kept && !has_zero; k++, w += cin) {
            uint32_t any = 0;
            for (uint32_t c = 0; c < cin; c++) any |= w[c];
            has_zero = any == 0;
        }
        if (has_zero != ((flags & DTMM_FWCS_FLAG_DENSE_FALLBACK) != 0)) return DTMM_ERR_HEADER;
    }

    /* 9. a layer whose int32 sums could overflow is valid but cannot run exactly */
    if ((uint64_t)cin * positions > DTMM_FWCS_MAX_TAPS) return DTMM_ERR_UNSUPPORTED;
    return DTMM_OK;
}
