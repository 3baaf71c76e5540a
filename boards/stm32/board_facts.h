/*
 * board_facts.h - per-board facts of the STM32 boards: part family, oscillators, console pins.
 *
 * Exactly one board macro is defined by the build (build.extra_flags of the
 * PlatformIO board manifest).  stm32_clock.c and stm32_console.c read these
 * facts; boards/hardware/board_hardware.c reads DTMM_BOARD_NAME of the real
 * boards.  Sources: the parts' reference manuals (RM0090 STM32F405, RM0385
 * STM32F746, RM0432 STM32L4R5) and the boards' user manuals / schematics.
 *
 * Family (one of): DTMM_STM32_F4, DTMM_STM32_F7, DTMM_STM32_L4.
 * DTMM_STM32_HSE_HZ: the crystal on the HSE pins, 0 = none (the PLL runs from HSI16).
 * DTMM_STM32_SYSCLK_TARGET_HZ: the core clock the clock tree is set up for.
 * Console: DTMM_STM32_CONSOLE_{UART_BASE, LPUART, GPIO_BASE, TX_PIN, RX_PIN, AF}.
 */
#ifndef DTMM_STM32_BOARD_FACTS_H
#define DTMM_STM32_BOARD_FACTS_H

#include <stdint.h>

#if defined(DTMM_BOARD_NETDUINOPLUS2) || defined(DTMM_BOARD_QEMU_STM32F405)
/* Netduino Plus 2: STM32F405RG, 25 MHz crystal.  QEMU's netduinoplus2 machine connects USART1 to its
 * -serial; on the real board PA9/PA10 need a 3.3 V USB-serial adapter (the board has no ST-LINK). */
#if defined(DTMM_BOARD_NETDUINOPLUS2)
#define DTMM_BOARD_NAME "netduinoplus2"
#endif
#define DTMM_STM32_F4 1
#define DTMM_STM32_HSE_HZ 25000000u
#define DTMM_STM32_SYSCLK_TARGET_HZ 168000000u
#define DTMM_STM32_CONSOLE_UART_BASE 0x40011000u /* USART1 on APB2 */
#define DTMM_STM32_CONSOLE_LPUART 0
#define DTMM_STM32_CONSOLE_GPIO_BASE 0x40020000u /* GPIOA */
#define DTMM_STM32_CONSOLE_TX_PIN 9u
#define DTMM_STM32_CONSOLE_RX_PIN 10u
#define DTMM_STM32_CONSOLE_AF 7u
#define DTMM_STM32_CONSOLE_GPIO_EN_BIT 0u /* RCC_AHB1ENR.GPIOAEN */

#elif defined(DTMM_BOARD_DISCO_F746NG)
/* 32F746G-DISCOVERY: STM32F746NG, 25 MHz crystal; USART1 TX PA9 / RX PB7 go to the ST-LINK virtual COM
 * port.  Only TX is needed by the firmware, so only PA9 is configured. */
#define DTMM_BOARD_NAME "disco_f746ng"
#define DTMM_STM32_F7 1
#define DTMM_STM32_HSE_HZ 25000000u
#define DTMM_STM32_SYSCLK_TARGET_HZ 216000000u
#define DTMM_STM32_CONSOLE_UART_BASE 0x40011000u /* USART1 on APB2 */
#define DTMM_STM32_CONSOLE_LPUART 0
#define DTMM_STM32_CONSOLE_GPIO_BASE 0x40020000u /* GPIOA */
#define DTMM_STM32_CONSOLE_TX_PIN 9u
#define DTMM_STM32_CONSOLE_AF 7u
#define DTMM_STM32_CONSOLE_GPIO_EN_BIT 0u /* RCC_AHB1ENR.GPIOAEN */

#elif defined(DTMM_BOARD_NUCLEO_L4R5ZI)
/* NUCLEO-L4R5ZI (MB1312): STM32L4R5ZI; no HSE crystal fitted by default, so the PLL runs from HSI16.
 * LPUART1 TX PG7 / RX PG8 go to the ST-LINK virtual COM port; port G is powered from VDDIO2. */
#define DTMM_BOARD_NAME "nucleo_l4r5zi"
#define DTMM_STM32_L4 1
#define DTMM_STM32_HSE_HZ 0u
#define DTMM_STM32_SYSCLK_TARGET_HZ 120000000u
#define DTMM_STM32_CONSOLE_UART_BASE 0x40008000u /* LPUART1, clocked from HSI16 */
#define DTMM_STM32_CONSOLE_LPUART 1
#define DTMM_STM32_CONSOLE_GPIO_BASE 0x48001800u /* GPIOG */
#define DTMM_STM32_CONSOLE_TX_PIN 7u
#define DTMM_STM32_CONSOLE_RX_PIN 8u
#define DTMM_STM32_CONSOLE_AF 8u
#define DTMM_STM32_CONSOLE_GPIO_EN_BIT 6u /* RCC_AHB2ENR.GPIOGEN */

#else
#error "define one of DTMM_BOARD_NETDUINOPLUS2, DTMM_BOARD_QEMU_STM32F405, DTMM_BOARD_DISCO_F746NG, DTMM_BOARD_NUCLEO_L4R5ZI"
#endif

#define DTMM_STM32_HSI_HZ 16000000u
#define DTMM_STM32_CONSOLE_BAUD 115200u

/* Polls before a wait on a status flag gives up.  Far above what any flag takes on hardware (the PLL locks
 * in well under 1 ms; a character at 115200 baud is about 1,400 cycles at 16 MHz), small enough that an
 * emulator without the flag passes in well under a second. */
#define DTMM_STM32_WAIT_LOOPS 100000u

/* The clocks stm32_clock.c ended up with (the target, or the HSI fallback). */
struct dtmm_stm32_clocks {
    uint32_t sysclk_hz;
    uint32_t apb1_hz;
    uint32_t apb2_hz;
};

/* Sets up the clock tree (oscillator, PLL, flash wait states, bus prescalers; caches on the F7) once;
 * later calls return the same figures.  Never hangs: every wait is bounded, and a step that does not
 * complete leaves the part on its reset clock, and the figures returned say so. */
const struct dtmm_stm32_clocks *dtmm_stm32_clock_init(void);

/* Polls until (*reg & mask) == want or DTMM_STM32_WAIT_LOOPS polls have passed; 1 = met. */
int dtmm_stm32_wait_bits(volatile uint32_t *reg, uint32_t mask, uint32_t want);

#endif /* DTMM_STM32_BOARD_FACTS_H */
