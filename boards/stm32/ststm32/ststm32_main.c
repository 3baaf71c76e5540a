/*
 * ststm32_main.c - glue for the alternative build on PlatformIO's official ststm32 platform.
 *
 * There, ST's CMSIS start-up brings the vector table (weak handlers that spin) and a reset handler
 * that calls SystemInit, the C library initialisation and main.  The build links with
 * -Wl,--wrap=main, so that call lands in __wrap_main: board init (clocks, console, DWT counter),
 * the application's main (__real_main), then dtmm_exit with its status - what DTMM's own reset
 * handler (boards/cortex_m/startup.c) does.  The fault handlers below replace the weak ones, so a
 * crash prints its name and exits, as on every other DTMM board.
 */
#include "dtmm_board.h"

void HardFault_Handler(void) { dtmm_fault("HardFault"); }
void MemManage_Handler(void) { dtmm_fault("MemManage fault"); }
void BusFault_Handler(void) { dtmm_fault("BusFault"); }
void UsageFault_Handler(void) { dtmm_fault("UsageFault"); }

int __real_main(void);
int __wrap_main(void);

int __wrap_main(void)
{
    dtmm_board_init();
    dtmm_exit(__real_main());
}
