/*
 * console_nrf51.c - console on the nRF51 UART0 of the micro:bit machine.
 *
 * Register offsets are those of the nRF51 Series Reference Manual (UART
 * chapter): a byte written to TXD is sent once STARTTX has run, and
 * EVENTS_TXDRDY reports it gone; the firmware waits for it before the next.
 */
#include <stdint.h>

#include "board_config.h"
#include "dtmm_console.h"
#include "dtmm_board.h"

#if defined(DTMM_UART_NRF51_BASE)

#define UART_REG(offset) (*(volatile uint32_t *)(DTMM_UART_NRF51_BASE + (offset)))
#define UART_TASKS_STARTTX UART_REG(0x008u)
#define UART_EVENTS_TXDRDY UART_REG(0x11Cu)
#define UART_ENABLE UART_REG(0x500u)
#define UART_TXD UART_REG(0x51Cu)
#define UART_ENABLE_ENABLED 4u

void dtmm_console_init(void)
{
    UART_ENABLE = UART_ENABLE_ENABLED;
    UART_TASKS_STARTTX = 1u;
}

void dtmm_board_putc(char c)
{
    UART_EVENTS_TXDRDY = 0u;
    UART_TXD = (uint32_t)(uint8_t)c;
    while (UART_EVENTS_TXDRDY == 0u) {
    }
}

#endif /* DTMM_UART_NRF51_BASE */
