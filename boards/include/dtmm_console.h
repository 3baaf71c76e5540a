/*
 * dtmm_console.h - the UART behind dtmm_board_putc(), inside the board support.
 *
 * One implementation per UART family (boards/qemu/console_*.c, boards/stm32/stm32_console.c), each
 * compiled for the boards whose facts name it.  Not part of the application API (dtmm_board.h).
 */
#ifndef DTMM_CONSOLE_H
#define DTMM_CONSOLE_H

/* Sets up what the UART needs (on real parts the clock tree first) and enables the transmitter;
 * dtmm_board_putc() works after it. */
void dtmm_console_init(void);

/* Returns once the last character has left the transmitter (bounded): before a real board stops.
 * Only the consoles of real hardware implement it; under QEMU output is synchronous. */
void dtmm_console_flush(void);

#endif /* DTMM_CONSOLE_H */
