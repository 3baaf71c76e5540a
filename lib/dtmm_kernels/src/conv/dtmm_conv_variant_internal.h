/*
 * dtmm_conv_variant_internal.h - what a conv kernel variant is (internal).
 *
 * The public header names the variants (DTMM_CONV_VARIANTS); each path
 * file defines the objects of its own variants next to their code, and its
 * selection rule (a pure function of the blob, in the path's internal
 * header, shared with the host probe of `dtmm pack`) returns an id.  A
 * path's _with() entry looks the id up in the caller's list and runs only
 * what it finds there.
 */
#ifndef DTMM_CONV_VARIANT_INTERNAL_H
#define DTMM_CONV_VARIANT_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "dtmm_kernels.h"

/* Variant ids: the enumerators DTMM_CONV_V_<name>. */
#define DTMM_CONV_VARIANT_ENUM_(id, name) DTMM_CONV_V_##name = id,
enum { DTMM_CONV_VARIANTS(DTMM_CONV_VARIANT_ENUM_) DTMM_CONV_V_COUNT_ };
#undef DTMM_CONV_VARIANT_ENUM_

typedef dtmm_status (*dtmm_conv_layer_fn)(const dtmm_fwcs_view *v, const int8_t *input, int8_t *output,
                                          void *scratch);

struct dtmm_conv_variant {
    uint32_t id;
    void (*kernel)(const void *args); /* an inner kernel of its path (its own argument block), or NULL */
    dtmm_conv_layer_fn layer;         /* a whole-layer routine, or NULL */
    void (*tail)(const void *args);   /* MVE generic kernels: their row-tail kernel (1..3 last pixels), or NULL */
    /* MVE generic kernels and item mode: the builder of their filter records (dtmm_conv_s8_mve_with.c),
     * or NULL */
    uint32_t *(*records)(const dtmm_fwcs_view *v, uint32_t *masks, uint32_t *r, uint8_t *list,
                         const uint8_t *dummy_list, const int8_t *zero);
};

/* The entry of `list` with this id, or NULL (one look when the list is in id order, as the paths'
 * all-variant lists are; a model's few variants are scanned). */
static inline const dtmm_conv_variant *dtmm_conv_variant_find(const dtmm_conv_variant *const *list, uint32_t n,
                                                              uint32_t id)
{
    if (list == NULL) {
        return NULL;
    }
    if (id < n && list[id] != NULL && list[id]->id == id) {
        return list[id];
    }
    for (uint32_t k = 0; k < n; k++) {
        if (list[k] != NULL && list[k]->id == id) {
            return list[k];
        }
    }
    return NULL;
}

#endif /* DTMM_CONV_VARIANT_INTERNAL_H */
