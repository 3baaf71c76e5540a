/* dtmm_conv_portable.c - the portable conv variant: what every path runs for the layers its kernels decline. */
#include "dtmm_conv_variant_internal.h"

const dtmm_conv_variant dtmm_conv_portable = {DTMM_CONV_V_portable, NULL, dtmm_conv_s8_c, NULL, NULL};
