/*
 * fuzz_fwcs_validate.c - libFuzzer target: dtmm_fwcs_validate() on arbitrary bytes.
 *
 * Each input is validated twice: as given (the checksum rule), and with its
 * crc32 field repaired (every rule behind the checksum).  Findings: any
 * sanitizer report (a read outside the blob, undefined behaviour), a status
 * outside the enum, a verdict that changes between two calls, a blob
 * accepted with a wrong CRC, and an accepted blob that
 * dtmm_fwcs_view_init() or dtmm_conv_s8_get_buffer_size() then refuses.
 */
#include "fuzz_support.h"

static dtmm_status checked_validate(const uint8_t *blob, size_t size)
{
    dtmm_status first = dtmm_fwcs_validate(blob, (uint32_t)size);
    if ((unsigned)first > (unsigned)DTMM_ERR_UNSUPPORTED) {
        FUZZ_FAIL("dtmm_fwcs_validate returned %d, not a dtmm_status", (int)first);
    }
    if (dtmm_fwcs_validate(blob, (uint32_t)size) != first) {
        FUZZ_FAIL("dtmm_fwcs_validate gave two verdicts on the same %zu bytes", size);
    }
    return first;
}

static void check_accepted(const uint8_t *blob, size_t size)
{
    if (fuzz_blob_crc(blob, size) != fuzz_stored_crc(blob)) {
        FUZZ_FAIL("a blob with a wrong CRC-32 was accepted");
    }
    dtmm_fwcs_view view;
    dtmm_status s = dtmm_fwcs_view_init(blob, &view);
    if (s != DTMM_OK) {
        FUZZ_FAIL("dtmm_fwcs_view_init refused a validated blob: %s", dtmm_status_name(s));
    }
    int32_t scratch = dtmm_conv_s8_get_buffer_size(blob);
    if (scratch < 0) {
        FUZZ_FAIL("dtmm_conv_s8_get_buffer_size refused a validated blob: %d", (int)scratch);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 0xFFFFFFFFu) {
        return 0;
    }
    uint8_t *blob = fuzz_aligned_copy(data, size);
    if (checked_validate(blob, size) == DTMM_OK) {
        check_accepted(blob, size);
    }
    if (size >= DTMM_FWCS_HEADER_SIZE) {
        fuzz_store_crc(blob, size);
        if (checked_validate(blob, size) == DTMM_OK) {
            check_accepted(blob, size);
        }
    }
    free(blob);
    return 0;
}
