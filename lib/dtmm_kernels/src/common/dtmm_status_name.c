/* dtmm_status_name.c - printable names of dtmm_status values. */
#include "dtmm_status.h"

const char *dtmm_status_name(dtmm_status status)
{
    switch (status) {
    case DTMM_OK: return "DTMM_OK";
    case DTMM_ERR_ARGUMENT: return "DTMM_ERR_ARGUMENT";
    case DTMM_ERR_TRUNCATED: return "DTMM_ERR_TRUNCATED";
    case DTMM_ERR_MAGIC: return "DTMM_ERR_MAGIC";
    case DTMM_ERR_VERSION: return "DTMM_ERR_VERSION";
    case DTMM_ERR_HEADER: return "DTMM_ERR_HEADER";
    case DTMM_ERR_INDEX: return "DTMM_ERR_INDEX";
    case DTMM_ERR_CHECKSUM: return "DTMM_ERR_CHECKSUM";
    case DTMM_ERR_UNSUPPORTED: return "DTMM_ERR_UNSUPPORTED";
    }
    return "DTMM_ERR_UNKNOWN";
}
