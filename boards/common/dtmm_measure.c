/*
 * dtmm_measure.c - named measurements over the board counter.
 *
 * Both ends read the raw counter first and convert later, so that only a
 * fixed, data-independent number of instructions of the measurement code
 * itself falls inside the region; dtmm_measure_calibrate() measures an empty
 * region once and that constant is subtracted from every figure.
 */
#include "dtmm_board.h"

static uint64_t measure_overhead;

__attribute__((noinline)) uint64_t dtmm_measure_begin(void)
{
    return dtmm_board_counter_raw();
}

__attribute__((noinline)) uint64_t dtmm_measure_end(const char *name, uint64_t start)
{
    uint64_t end_raw = dtmm_board_counter_raw();
    uint64_t raw_count = dtmm_board_counter_from_raw(end_raw) - dtmm_board_counter_from_raw(start);
    uint64_t count = raw_count > measure_overhead ? raw_count - measure_overhead : 0;
    if (name != 0) {
        dtmm_printf("@dtmm measure %s %llu\n", name, (unsigned long long)count);
    }
    return count;
}

void dtmm_measure_calibrate(void)
{
    measure_overhead = 0;
    uint64_t start = dtmm_measure_begin();
    measure_overhead = dtmm_measure_end(0, start);
    dtmm_printf("@dtmm counter %s\n", dtmm_board_counter_unit());
}
