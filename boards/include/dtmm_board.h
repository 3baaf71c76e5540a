/*
 * dtmm_board.h - the small board API every DTMM firmware uses.
 *
 * One header for emulated (QEMU) and real boards: console output, a
 * deterministic instruction counter, named measurements and exit with a
 * status code.  Implementations: boards/qemu (emulated boards), boards/hardware
 * with boards/stm32 (real boards), boards/common (all boards).
 */
#ifndef DTMM_BOARD_H
#define DTMM_BOARD_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Exit status used when the firmware dies on a fault exception. */
#define DTMM_EXIT_FAULT 99

/* ---- implemented per board -------------------------------------------- */

/* Called by the startup code before main(); sets up console and counter. */
void dtmm_board_init(void);

/* Writes one character to the console (UART). */
void dtmm_board_putc(char c);

/*
 * Monotonic 64-bit count since dtmm_board_init(): retired instructions under
 * QEMU (exact, see docs/measurement.md), core clock cycles on real boards.
 */
uint64_t dtmm_board_counter(void);

/*
 * The same counter in the board's raw timer units, cheap and of constant
 * cost to read; dtmm_board_counter_from_raw() converts.  Measurements read
 * raw values at both ends and convert afterwards, so the conversion (a
 * 64-bit division of data-dependent length) stays outside the measured code.
 */
uint64_t dtmm_board_counter_raw(void);
uint64_t dtmm_board_counter_from_raw(uint64_t raw);

/* What dtmm_board_counter() counts: "instructions" or "cycles". */
const char *dtmm_board_counter_unit(void);

/* Name of the board, e.g. "qemu-m4". */
const char *dtmm_board_name(void);

/* Ends the program with a status code (QEMU exits with it). */
void dtmm_exit(int status) __attribute__((noreturn));

/* ---- common to all boards (boards/common) ------------------------------ */

/* printf subset: %d %i %u %x %X %c %s %% with l/ll/z, width and '0'/'-' flags. */
int dtmm_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int dtmm_vprintf(const char *fmt, va_list ap);
/* the same into buf (at most size - 1 characters and a NUL); returns the length it would have had */
int dtmm_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
void dtmm_puts(const char *s);

/* Reports a fault exception ("*** <what>", with CFSR where the core has one) and exits with
 * DTMM_EXIT_FAULT: the exception handlers call it so that a crash ends the run instead of hanging. */
void dtmm_fault(const char *what) __attribute__((noreturn));

/*
 * Measurements.  dtmm_measure_begin() returns a start mark;
 * dtmm_measure_end() returns the count from the begin call's return to the
 * end call's entry, with the fixed cost of the two calls themselves removed
 * (calibrated once at start-up), and prints the line
 *     @dtmm measure <name> <count>
 * that `dtmm run` collects into its "measurements" object.
 */
uint64_t dtmm_measure_begin(void);
uint64_t dtmm_measure_end(const char *name, uint64_t start);
/* Measures the calls' own cost once and prints "@dtmm counter <unit>" (dtmm_board_counter_unit()),
 * so every record of the run can name its unit. */
void dtmm_measure_calibrate(void);

#ifdef __cplusplus
}
#endif

#endif /* DTMM_BOARD_H */
