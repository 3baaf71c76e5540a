/*
 * board_config.h - per-machine facts for the QEMU boards.
 *
 * Exactly one DTMM_BOARD_QEMU_* macro is defined by the build (PlatformIO
 * board manifest or the test build).  Addresses are the secure aliases on the
 * TrustZone machines (AN505, AN547), where the core starts in secure state.
 * Keep in sync with tools/dtmm/targets/boards.py (tests/test_boards.py checks).
 */
#ifndef DTMM_QEMU_BOARD_CONFIG_H
#define DTMM_QEMU_BOARD_CONFIG_H

/* QEMU runs with -icount shift=7: 128 ns of virtual time per instruction. */
#define DTMM_ICOUNT_SHIFT 7

#if defined(DTMM_BOARD_QEMU_M0)
#define DTMM_BOARD_NAME "qemu-m0"
#define DTMM_UART_NRF51_BASE 0x40002000u /* nRF51 UART0 */
#define DTMM_SYSCLK_HZ 16000000u
#elif defined(DTMM_BOARD_QEMU_M3)
#define DTMM_BOARD_NAME "qemu-m3"
#define DTMM_UART_CMSDK_BASE 0x40004000u
#define DTMM_SYSCLK_HZ 25000000u
#elif defined(DTMM_BOARD_QEMU_M4)
#define DTMM_BOARD_NAME "qemu-m4"
#define DTMM_UART_CMSDK_BASE 0x40004000u
#define DTMM_SYSCLK_HZ 25000000u
#elif defined(DTMM_BOARD_QEMU_M7)
#define DTMM_BOARD_NAME "qemu-m7"
#define DTMM_UART_CMSDK_BASE 0x40004000u
#define DTMM_SYSCLK_HZ 25000000u
#elif defined(DTMM_BOARD_QEMU_M33)
#define DTMM_BOARD_NAME "qemu-m33"
#define DTMM_UART_CMSDK_BASE 0x50200000u /* secure alias of 0x40200000 */
#define DTMM_SYSCLK_HZ 20000000u
#elif defined(DTMM_BOARD_QEMU_M55)
#define DTMM_BOARD_NAME "qemu-m55"
#define DTMM_UART_CMSDK_BASE 0x59303000u /* secure alias of 0x49303000 */
#define DTMM_SYSCLK_HZ 32000000u
#elif defined(DTMM_BOARD_QEMU_STM32F405)
/* Netduino Plus 2 (STM32F405RG): clocks and console are the real board's (boards/stm32), on the USART1
 * QEMU connects to -serial. */
#define DTMM_BOARD_NAME "qemu-stm32f405"
/* SysTick runs on QEMU's netduinoplus2 CPU clock, 168 MHz, whatever RCC is told (QEMU 7.2 does not
 * model RCC): 21.5 ticks per instruction at -icount shift=7. */
#define DTMM_SYSCLK_HZ 168000000u
#else
#error "define one of DTMM_BOARD_QEMU_M0/M3/M4/M7/M33/M55/STM32F405"
#endif

#endif /* DTMM_QEMU_BOARD_CONFIG_H */
