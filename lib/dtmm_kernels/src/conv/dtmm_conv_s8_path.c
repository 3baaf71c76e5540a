/* dtmm_conv_s8_path.c - which conv path this build of the library dispatches to. */
#include "dtmm_conv_s8_dispatch.h"

const char *dtmm_conv_s8_path(void)
{
    return DTMM_CONV_S8_IMPL_NAME;
}
