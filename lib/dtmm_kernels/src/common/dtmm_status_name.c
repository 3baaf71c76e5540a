/* dtmm_status_name.c - printable names of dtmm_status values. */
#include "dtmm_status.h"

/*
 * The names in status order, NUL-separated, then the one for unknown values: a walk over at most
 * nine strings (only ever on an error path) instead of a pointer table and nine word-aligned
 * strings (234 -> 200 bytes on qemu-m55).
 */
static const char names[] = "DTMM_OK\0"
                            "DTMM_ERR_ARGUMENT\0"
                            "DTMM_ERR_TRUNCATED\0"
                            "DTMM_ERR_MAGIC\0"
                            "DTMM_ERR_VERSION\0"
                            "DTMM_ERR_HEADER\0"
                            "DTMM_ERR_INDEX\0"
                            "DTMM_ERR_CHECKSUM\0"
                            "DTMM_ERR_UNSUPPORTED\0"
                            "DTMM_ERR_UNKNOWN";

const char *dtmm_status_name(dtmm_status status)
{
    unsigned k = (unsigned)status <= (unsigned)DTMM_ERR_UNSUPPORTED ? (unsigned)status : 9u;
    const char *s = names;
    for (; k > 0; --k) {
        while (*s++ != '\0') {
        }
    }
    return s;
}
