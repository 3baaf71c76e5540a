/* Test driver: reads "acc multiplier shift" lines, prints dtmm_requantize() of each. */
#include <inttypes.h>
#include <stdio.h>

#include "dtmm_kernels.h"

int main(void)
{
    long long acc, multiplier, shift;
    while (scanf("%lld %lld %lld", &acc, &multiplier, &shift) == 3) {
        printf("%" PRId32 "\n", dtmm_requantize((int32_t)acc, (int32_t)multiplier, (int32_t)shift));
    }
    return 0;
}
