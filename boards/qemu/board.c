/*
 * board.c - console, instruction counter and exit for the QEMU boards.
 *
 * Console: the machine's UART0 (QEMU connects it to -serial): console_cmsdk.c
 *   on the MPS2/MPS3 machines, console_nrf51.c on the micro:bit.
 * Counter: SysTick on the core clock, extended to 64 bits in its interrupt.
 *   QEMU runs with -icount shift=7, so virtual time advances exactly 128 ns
 *   per retired instruction and SysTick ticks r = SYSCLK_HZ * 128e-9 times
 *   per instruction (3.2 at 25 MHz, 2.56 at 20 MHz, 4.096 at 32 MHz).
 *   The difference T of two tick reads N instructions apart is within one
 *   tick of r * N, so rounding T / r gives N exactly because r >= 2.
 *   docs/measurement.md has the derivation and the limits.
 * Exit: Arm semihosting SYS_EXIT_EXTENDED, which QEMU turns into its own exit
 *   status (needs -semihosting-config enable=on,target=native).
 */
#include <stdint.h>

#include "board_config.h"
#include "dtmm_console.h"
#include "dtmm_board.h"

/* ---- SysTick counter ---------------------------------------------------- */
#define SYST_CSR (*(volatile uint32_t *)0xE000E010u)
#define SYST_RVR (*(volatile uint32_t *)0xE000E014u)
#define SYST_CVR (*(volatile uint32_t *)0xE000E018u)
#define SCB_ICSR (*(volatile uint32_t *)0xE000ED04u)
#define SYST_CSR_ENABLE 1u
#define SYST_CSR_TICKINT 2u
#define SYST_CSR_CLKSOURCE_CPU 4u
#define SCB_ICSR_PENDSTSET (1u << 26)
#define SYSTICK_PERIOD 0x1000000ull /* 24-bit counter */

static volatile uint32_t systick_wraps;

void SysTick_Handler(void)
{
    systick_wraps++;
}

/* ticks_per_instruction = num / den, reduced (e.g. 16/5 at 25 MHz). */
static uint64_t ratio_num;
static uint64_t ratio_den;
/* Raw tick count read once at init: counts are taken relative to it. */
static uint64_t ticks_origin;

static uint64_t gcd_u64(uint64_t a, uint64_t b)
{
    while (b != 0) {
        uint64_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

uint64_t dtmm_board_counter_raw(void)
{
    uint32_t primask;
    __asm volatile("mrs %0, primask\n\tcpsid i" : "=r"(primask)::"memory");
    uint32_t wraps = systick_wraps;
    uint32_t value = SYST_CVR;
    if (SCB_ICSR & SCB_ICSR_PENDSTSET) {
        /* Wrapped but the interrupt has not run yet: count it here, and
         * re-read so the value is certainly from after the wrap. */
        wraps++;
        value = SYST_CVR;
    }
    __asm volatile("msr primask, %0" ::"r"(primask) : "memory");
    return (uint64_t)wraps * SYSTICK_PERIOD + (SYSTICK_PERIOD - 1u - value);
}

uint64_t dtmm_board_counter_from_raw(uint64_t raw)
{
    /*
     * QEMU's virtual clock starts at an arbitrary offset, so absolute ticks
     * have an arbitrary phase against the instruction grid; a difference of
     * two reads is within one tick of r * instructions, and rounding it
     * recovers the instruction count exactly because r >= 2.
     * round(ticks / r) = (ticks * den + num / 2) / num
     */
    uint64_t ticks = raw - ticks_origin;
    return (ticks * ratio_den + ratio_num / 2u) / ratio_num;
}

uint64_t dtmm_board_counter(void)
{
    return dtmm_board_counter_from_raw(dtmm_board_counter_raw());
}

const char *dtmm_board_counter_unit(void)
{
    return "instructions";
}

const char *dtmm_board_name(void)
{
    return DTMM_BOARD_NAME;
}

/* ---- semihosting exit --------------------------------------------------- */
#define SEMIHOSTING_SYS_EXIT_EXTENDED 0x20u
#define ADP_STOPPED_APPLICATION_EXIT 0x20026u

void dtmm_exit(int status)
{
    volatile uint32_t block[2] = {ADP_STOPPED_APPLICATION_EXIT, (uint32_t)status};
    register uint32_t r0 __asm__("r0") = SEMIHOSTING_SYS_EXIT_EXTENDED;
    register const volatile uint32_t *r1 __asm__("r1") = block;
    __asm volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
    for (;;) {
    }
}

void dtmm_board_init(void)
{
    dtmm_console_init();

    uint64_t num = (uint64_t)DTMM_SYSCLK_HZ << DTMM_ICOUNT_SHIFT;
    uint64_t den = 1000000000ull;
    uint64_t g = gcd_u64(num, den);
    ratio_num = num / g;
    ratio_den = den / g;

    SYST_RVR = (uint32_t)(SYSTICK_PERIOD - 1u);
    SYST_CVR = 0u;
    SYST_CSR = SYST_CSR_CLKSOURCE_CPU | SYST_CSR_TICKINT | SYST_CSR_ENABLE;
    ticks_origin = dtmm_board_counter_raw();
    dtmm_measure_calibrate();
}
