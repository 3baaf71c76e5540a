/*
 * console_stm32.c - clocks and console on the STM32F405 of QEMU's netduinoplus2 machine.
 *
 * Register addresses and bits are those of ST's RM0090 (STM32F405/415
 * reference manual): RCC (section 7), GPIO (8) and USART (30).  The board
 * stays on the 16 MHz HSI oscillator it resets to (no PLL: a measurement
 * board needs no speed, and nothing here depends on the clock but the baud
 * rate), turns on the clocks of GPIOA and USART1, puts PA9/PA10 on alternate
 * function 7 (USART1 TX/RX) and sends at 115200 baud, 8N1.
 *
 * Every wait on a status flag is bounded (DTMM_STM32_WAIT_LOOPS polls): QEMU
 * 7.2 models no RCC (its registers read 0, so HSIRDY never rises) and a real
 * part could misbehave too; when a wait runs out the code carries on with
 * the reset clock, which is the HSI on this part, so the console still works
 * (on QEMU the USART ignores baud rates altogether).
 */
#include <stdint.h>

#include "board_config.h"
#include "console.h"
#include "dtmm_board.h"

#if defined(DTMM_UART_STM32_BASE)

#define REG(base, offset) (*(volatile uint32_t *)((base) + (offset)))

#define RCC_CR REG(DTMM_STM32_RCC_BASE, 0x00u)
#define RCC_CFGR REG(DTMM_STM32_RCC_BASE, 0x08u)
#define RCC_AHB1ENR REG(DTMM_STM32_RCC_BASE, 0x30u)
#define RCC_APB2ENR REG(DTMM_STM32_RCC_BASE, 0x44u)
#define RCC_CR_HSION (1u << 0)
#define RCC_CR_HSIRDY (1u << 1)
#define RCC_CFGR_SW_MASK 3u
#define RCC_CFGR_SWS_MASK (3u << 2)
#define RCC_AHB1ENR_GPIOAEN (1u << 0)
#define RCC_APB2ENR_USART1EN (1u << 4)

#define GPIOA_MODER REG(DTMM_STM32_GPIOA_BASE, 0x00u)
#define GPIOA_AFRH REG(DTMM_STM32_GPIOA_BASE, 0x24u)

#define USART_SR REG(DTMM_UART_STM32_BASE, 0x00u)
#define USART_DR REG(DTMM_UART_STM32_BASE, 0x04u)
#define USART_BRR REG(DTMM_UART_STM32_BASE, 0x08u)
#define USART_CR1 REG(DTMM_UART_STM32_BASE, 0x0Cu)
#define USART_SR_TXE (1u << 7)
#define USART_SR_TC (1u << 6)
#define USART_CR1_UE (1u << 13)
#define USART_CR1_TE (1u << 3)

#define HSI_HZ 16000000u
#define CONSOLE_BAUD 115200u
/* Polls before a wait gives up: far above what any flag takes on hardware (a character at 115200 baud
 * is about 1,400 HSI cycles), small enough that QEMU passes an unmodelled flag in well under a second. */
#define DTMM_STM32_WAIT_LOOPS 100000u

/* Polls until (reg & mask) == want or the bound runs out; returns whether it was met. */
static int wait_bits(volatile uint32_t *reg, uint32_t mask, uint32_t want)
{
    for (uint32_t i = 0; i < DTMM_STM32_WAIT_LOOPS; ++i) {
        if ((*reg & mask) == want) {
            return 1;
        }
    }
    return 0;
}

/* HSI as the system clock (the reset state, made explicit); a missing ready flag is not fatal. */
static void clock_init(void)
{
    RCC_CR |= RCC_CR_HSION;
    (void)wait_bits(&RCC_CR, RCC_CR_HSIRDY, RCC_CR_HSIRDY);
    RCC_CFGR &= ~RCC_CFGR_SW_MASK; /* SW = 00: HSI */
    (void)wait_bits(&RCC_CFGR, RCC_CFGR_SWS_MASK, 0u);
    RCC_AHB1ENR |= RCC_AHB1ENR_GPIOAEN;
    RCC_APB2ENR |= RCC_APB2ENR_USART1EN;
    (void)RCC_APB2ENR; /* read back: the clock is on before the peripheral is touched (RM0090 errata) */
}

void dtmm_console_init(void)
{
    clock_init();
    /* PA9 (TX), PA10 (RX): alternate function mode (MODER = 10), AF7 = USART1 */
    GPIOA_MODER = (GPIOA_MODER & ~((3u << 18) | (3u << 20))) | (2u << 18) | (2u << 20);
    GPIOA_AFRH = (GPIOA_AFRH & ~((0xFu << 4) | (0xFu << 8))) | (7u << 4) | (7u << 8);
    /* oversampling by 16: USARTDIV = f / (16 * baud), rounded to 1/16 */
    USART_BRR = (HSI_HZ + CONSOLE_BAUD / 2u) / CONSOLE_BAUD;
    USART_CR1 = USART_CR1_UE | USART_CR1_TE;
}

void dtmm_board_putc(char c)
{
    (void)wait_bits(&USART_SR, USART_SR_TXE, USART_SR_TXE);
    USART_DR = (uint32_t)(uint8_t)c;
}

#endif /* DTMM_UART_STM32_BASE */
