/* dtmm_sparse_conv_s8.c - unstructured sparse conv on the best path of this build (argument checks here). */
#include <stddef.h>

#include "dtmm_ops.h"

#if defined(DTMM_KERNELS_PORTABLE)
#define DTMM_SPARSE_CONV_S8_IMPL dtmm_sparse_conv_s8_c
#elif defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)
#define DTMM_SPARSE_CONV_S8_IMPL dtmm_sparse_conv_s8_mve
#else
#define DTMM_SPARSE_CONV_S8_IMPL dtmm_sparse_conv_s8_c
#endif

dtmm_status dtmm_sparse_conv_s8(const dtmm_sparse_conv_s8_params *p, const int8_t *input, int8_t *output)
{
    if (p == NULL || input == NULL || output == NULL || p->bias == NULL || p->multiplier == NULL ||
        p->shift == NULL || (p->bitmap == NULL) == (p->counts == NULL) ||
        (p->counts != NULL && (p->cols8 == NULL) == (p->cols16 == NULL))) {
        return DTMM_ERR_ARGUMENT;
    }
    if (p->cin < 1 || p->cout < 1 || p->kh < 1 || p->kw < 1 || p->out_h < 1 || p->out_w < 1) {
        return DTMM_ERR_ARGUMENT;
    }
    return DTMM_SPARSE_CONV_S8_IMPL(p, input, output);
}
