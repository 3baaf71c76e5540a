/*
 * measure - checks the instruction counter: a loop of exactly two
 * instructions per iteration is measured at several lengths; the host test
 * checks run-to-run identity and the exact slope.
 */
#include <stdint.h>

#include "dtmm_board.h"

/* n >= 1 iterations of "subs; bne": 2 instructions each. */
static __attribute__((noinline)) void spin(uint32_t n)
{
    __asm volatile("1:\n\tsubs %0, %0, #1\n\tbne 1b" : "+r"(n)::"cc");
}

int main(void)
{
    static const uint32_t lengths[] = {1, 10, 100, 1000, 10000, 100000};
    char name[32];
    dtmm_printf("measure selftest on %s\n", dtmm_board_name());
    for (unsigned i = 0; i < sizeof lengths / sizeof lengths[0]; i++) {
        /* names are built by hand: dtmm_printf has no snprintf sibling */
        const char *prefix = "spin_";
        unsigned k = 0;
        while (prefix[k]) { name[k] = prefix[k]; k++; }
        char digits[12];
        unsigned nd = 0;
        uint32_t v = lengths[i];
        do { digits[nd++] = (char)('0' + v % 10); v /= 10; } while (v);
        while (nd) name[k++] = digits[--nd];
        name[k] = '\0';

        uint64_t start = dtmm_measure_begin();
        spin(lengths[i]);
        dtmm_measure_end(name, start);
    }
    uint64_t start = dtmm_measure_begin();
    dtmm_measure_end("empty", start);
    dtmm_puts("measure selftest done");
    return 0;
}
