/*
 * console_cmsdk.c - console on the CMSDK APB UART of the MPS2/MPS3 machines.
 */
#include <stdint.h>

#include "board_config.h"
#include "dtmm_console.h"
#include "dtmm_board.h"

#if defined(DTMM_UART_CMSDK_BASE)

#define UART_DATA (*(volatile uint32_t *)(DTMM_UART_CMSDK_BASE + 0x00u))
#define UART_STATE (*(volatile uint32_t *)(DTMM_UART_CMSDK_BASE + 0x04u))
#define UART_CTRL (*(volatile uint32_t *)(DTMM_UART_CMSDK_BASE + 0x08u))
#define UART_BAUDDIV (*(volatile uint32_t *)(DTMM_UART_CMSDK_BASE + 0x10u))
#define UART_STATE_TX_FULL 1u
#define UART_CTRL_TX_EN 1u

void dtmm_console_init(void)
{
    UART_BAUDDIV = 16u;
    UART_CTRL = UART_CTRL_TX_EN;
}

void dtmm_board_putc(char c)
{
    while (UART_STATE & UART_STATE_TX_FULL) {
    }
    UART_DATA = (uint32_t)(uint8_t)c;
}

#endif /* DTMM_UART_CMSDK_BASE */
