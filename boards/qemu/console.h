/*
 * console.h - the UART behind dtmm_board_putc() on the QEMU boards.
 *
 * One implementation per UART family, each compiled only for the machines
 * whose board_config.h block names its base address.
 */
#ifndef DTMM_QEMU_CONSOLE_H
#define DTMM_QEMU_CONSOLE_H

/* Enables the transmitter; dtmm_board_putc() works after it. */
void dtmm_console_init(void);

#endif /* DTMM_QEMU_CONSOLE_H */
