/* hang - never exits: checks that `dtmm run --timeout` stops it with a clear error. */
#include "dtmm_board.h"

int main(void)
{
    dtmm_puts("about to hang");
    for (;;) {
        __asm volatile("nop");
    }
}
