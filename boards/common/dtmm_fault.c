/*
 * dtmm_fault.c - what every board does on a fault exception: say which, then exit.
 */
#include <stdint.h>

#include "dtmm_board.h"

#define SCB_CFSR (*(volatile uint32_t *)0xE000ED28u)

void dtmm_fault(const char *what)
{
#if defined(__ARM_ARCH_6M__)
    /* ARMv6-M has no fault status registers: every fault is a HardFault. */
    dtmm_printf("\n*** %s\n", what);
#else
    dtmm_printf("\n*** %s (CFSR=0x%08x)\n", what, (unsigned)SCB_CFSR);
#endif
    dtmm_exit(DTMM_EXIT_FAULT);
}
