/* hello - the smallest DTMM firmware: prints the board and a measured loop. */
#include <stdint.h>

#include "dtmm_board.h"

static uint32_t checksum(uint32_t n)
{
    uint32_t h = 2166136261u;
    for (uint32_t i = 0; i < n; i++) {
        h = (h ^ i) * 16777619u;
    }
    return h;
}

int main(void)
{
    dtmm_printf("hello from DTMM on %s\n", dtmm_board_name());
    uint64_t start = dtmm_measure_begin();
    uint32_t h = checksum(1000);
    uint64_t n = dtmm_measure_end("fnv1a_1000", start);
    dtmm_printf("fnv1a(1000) = 0x%08x in %llu %s\n", (unsigned)h, (unsigned long long)n,
                dtmm_board_counter_unit());
    return 0;
}
