/* dtmm_status.h - status codes returned by the DTMM kernels and runtime. */
#ifndef DTMM_STATUS_H
#define DTMM_STATUS_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    DTMM_OK = 0,
    DTMM_ERR_ARGUMENT = 1,    /* NULL pointer, misaligned blob, bad size */
    DTMM_ERR_TRUNCATED = 2,   /* blob shorter than its header or total_size says */
    DTMM_ERR_MAGIC = 3,       /* not an FWCS blob */
    DTMM_ERR_VERSION = 4,     /* FWCS version this library does not read */
    DTMM_ERR_HEADER = 5,      /* inconsistent header: sizes, geometry, offsets, flags */
    DTMM_ERR_INDEX = 6,       /* index out of range or inconsistent with n_kept */
    DTMM_ERR_CHECKSUM = 7,    /* CRC-32 mismatch */
    DTMM_ERR_UNSUPPORTED = 8  /* valid, but beyond what this kernel supports */
} dtmm_status;

/* A short constant name for a status, e.g. "DTMM_ERR_CHECKSUM". */
const char *dtmm_status_name(dtmm_status status);

#ifdef __cplusplus
}
#endif

#endif /* DTMM_STATUS_H */
