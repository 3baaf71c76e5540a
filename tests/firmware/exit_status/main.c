/* exit_status - returns a fixed non-zero status: checks that it reaches the host. */
#include "dtmm_board.h"

int main(void)
{
    dtmm_puts("exiting with status 42");
    return 42;
}
