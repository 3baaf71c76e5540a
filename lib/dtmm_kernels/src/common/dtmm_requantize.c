/* dtmm_requantize.c - TFLite-exact fixed-point requantization of one value. */
#include "dtmm_kernels.h"

static int32_t saturating_rounding_doubling_high_mul(int32_t a, int32_t b)
{
    if (a == INT32_MIN && b == INT32_MIN) {
        return INT32_MAX; /* the only product that overflows */
    }
    /* The reference's (ab + nudge) / 2^31, truncated toward zero with nudge = 2^30 or 1 - 2^30 by the
     * sign of ab, is floor((ab + 2^30) / 2^31) for either sign (for ab < 0: trunc(y / 2^31) =
     * ceil(y / 2^31) = floor((y + 2^31 - 1) / 2^31), y = ab + 1 - 2^30): one add and an arithmetic
     * shift instead of a signed 64-bit division (GCC's >> of a negative value is arithmetic). */
    return (int32_t)(((int64_t)a * (int64_t)b + (1ll << 30)) >> 31);
}

static int32_t rounding_divide_by_pot(int32_t x, int32_t exponent)
{
    if (exponent == 0) {
        return x;
    }
    int32_t mask = (int32_t)((1ll << exponent) - 1);
    int32_t remainder = x & mask;
    int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
    return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

int32_t dtmm_requantize(int32_t acc, int32_t multiplier, int32_t shift)
{
    int32_t left = shift > 0 ? shift : 0;
    int32_t right = shift > 0 ? 0 : -shift;
    int32_t scaled = (int32_t)((uint32_t)acc << left);
    return rounding_divide_by_pot(saturating_rounding_doubling_high_mul(scaled, multiplier), right);
}
