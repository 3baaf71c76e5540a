/*
 * stm32_console.c - the STM32 boards' console: a U(S)ART transmitter at 115200 baud, 8N1.
 *
 * dtmm_console_init() first sets up the clock tree (stm32_clock.c), because the baud rate divisor
 * depends on the clock the U(S)ART runs from, then turns on the GPIO port and U(S)ART clocks, puts the
 * pins on their alternate function and enables the transmitter.  Two register layouts:
 *   F4 (RM0090 30.6): SR 0x00, DR 0x04, BRR 0x08, CR1 0x0C (UE = bit 13);
 *   F7 / L4 (RM0385 34.8, RM0432 49.8): CR1 0x00 (UE = bit 0), BRR 0x0C, ISR 0x1C, TDR 0x28.
 * USART1 (F4, F7) runs from APB2: BRR = f / baud, oversampling by 16.  LPUART1 (L4) runs from HSI16,
 * whatever the core clock: BRR = 256 f / baud.  Every wait on a flag is bounded, so a console that
 * does not work (no clock, an emulator without the flag) drops characters instead of hanging.
 */
#include <stdint.h>

#include "board_facts.h"
#include "dtmm_board.h"
#include "dtmm_console.h"

#define REG(base, offset) (*(volatile uint32_t *)((uintptr_t)(base) + (offset)))

#define GPIO_MODER REG(DTMM_STM32_CONSOLE_GPIO_BASE, 0x00u)
#define GPIO_OSPEEDR REG(DTMM_STM32_CONSOLE_GPIO_BASE, 0x08u)
#define GPIO_AFR(n) REG(DTMM_STM32_CONSOLE_GPIO_BASE, 0x20u + 4u * (n))
#define GPIO_MODE_AF 2u
#define UART DTMM_STM32_CONSOLE_UART_BASE

#if defined(DTMM_STM32_F4)
#define UART_STATUS REG(UART, 0x00u)
#define UART_TX_DATA REG(UART, 0x04u)
#define UART_BRR REG(UART, 0x08u)
#define UART_CR1 REG(UART, 0x0Cu)
#define UART_CR1_UE (1u << 13)
#else
#define UART_CR1 REG(UART, 0x00u)
#define UART_BRR REG(UART, 0x0Cu)
#define UART_STATUS REG(UART, 0x1Cu)
#define UART_TX_DATA REG(UART, 0x28u)
#define UART_CR1_UE (1u << 0)
#endif
#define UART_CR1_TE (1u << 3)
#define UART_STATUS_TC (1u << 6)
#define UART_STATUS_TXE (1u << 7)

#if defined(DTMM_STM32_L4)
#define RCC_BASE 0x40021000u
#define RCC_AHB2ENR REG(RCC_BASE, 0x4Cu)
#define RCC_APB1ENR1 REG(RCC_BASE, 0x58u)
#define RCC_APB1ENR2 REG(RCC_BASE, 0x5Cu)
#define RCC_CCIPR REG(RCC_BASE, 0x88u)
#define RCC_APB1ENR1_PWREN (1u << 28)
#define RCC_APB1ENR2_LPUART1EN (1u << 0)
#define RCC_CCIPR_LPUART1SEL_MASK (3u << 10)
#define RCC_CCIPR_LPUART1SEL_HSI16 (2u << 10)
#define PWR_CR2 REG(0x40007000u, 0x04u)
#define PWR_CR2_IOSV (1u << 9) /* VDDIO2 valid: port G usable */
#else
#define RCC_BASE 0x40023800u
#define RCC_AHB1ENR REG(RCC_BASE, 0x30u)
#define RCC_APB2ENR REG(RCC_BASE, 0x44u)
#define RCC_APB2ENR_USART1EN (1u << 4)
#endif

static void pin_to_alternate_function(uint32_t pin)
{
    uint32_t shift = 4u * (pin % 8u);
    GPIO_AFR(pin / 8u) = (GPIO_AFR(pin / 8u) & ~(0xFu << shift)) | (DTMM_STM32_CONSOLE_AF << shift);
    GPIO_OSPEEDR |= 3u << (2u * pin);
    GPIO_MODER = (GPIO_MODER & ~(3u << (2u * pin))) | (GPIO_MODE_AF << (2u * pin));
}

void dtmm_console_init(void)
{
    const struct dtmm_stm32_clocks *clocks = dtmm_stm32_clock_init();
    uint32_t brr;
#if defined(DTMM_STM32_L4)
    (void)clocks;
    RCC_APB1ENR1 |= RCC_APB1ENR1_PWREN;
    (void)RCC_APB1ENR1;
    PWR_CR2 |= PWR_CR2_IOSV;
    RCC_AHB2ENR |= 1u << DTMM_STM32_CONSOLE_GPIO_EN_BIT;
    RCC_CCIPR = (RCC_CCIPR & ~RCC_CCIPR_LPUART1SEL_MASK) | RCC_CCIPR_LPUART1SEL_HSI16;
    RCC_APB1ENR2 |= RCC_APB1ENR2_LPUART1EN;
    (void)RCC_APB1ENR2; /* read back: the clock is on before the peripheral is touched */
    brr = (uint32_t)((256ull * DTMM_STM32_HSI_HZ + DTMM_STM32_CONSOLE_BAUD / 2u) / DTMM_STM32_CONSOLE_BAUD);
#else
    RCC_AHB1ENR |= 1u << DTMM_STM32_CONSOLE_GPIO_EN_BIT;
    RCC_APB2ENR |= RCC_APB2ENR_USART1EN;
    (void)RCC_APB2ENR; /* read back: the clock is on before the peripheral is touched */
    brr = (clocks->apb2_hz + DTMM_STM32_CONSOLE_BAUD / 2u) / DTMM_STM32_CONSOLE_BAUD;
#endif
    pin_to_alternate_function(DTMM_STM32_CONSOLE_TX_PIN);
#if defined(DTMM_STM32_CONSOLE_RX_PIN)
    pin_to_alternate_function(DTMM_STM32_CONSOLE_RX_PIN);
#endif
    UART_CR1 = 0u; /* disabled while configuring; 8N1 */
    UART_BRR = brr;
    UART_CR1 = UART_CR1_TE | UART_CR1_UE;
}

void dtmm_board_putc(char c)
{
    (void)dtmm_stm32_wait_bits(&UART_STATUS, UART_STATUS_TXE, UART_STATUS_TXE);
    UART_TX_DATA = (uint32_t)(uint8_t)c;
}

void dtmm_console_flush(void)
{
    (void)dtmm_stm32_wait_bits(&UART_STATUS, UART_STATUS_TC, UART_STATUS_TC);
}
