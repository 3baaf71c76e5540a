/*
 * board_hardware.c - counter, exit and start-up of the real (not emulated) boards.
 *
 *   UNTESTED ON HARDWARE: built and linked here for every real board, never run on one.  Check the
 *   console and the counter on a board before trusting any number it prints.
 *
 * Counter: the DWT cycle counter (CYCCNT, 32 bits) of the Cortex-M4/M7/M33/M55, extended to 64 bits
 *   in software.  SysTick interrupts every 2^24 cycles only to notice CYCCNT wraps, so the extension
 *   never misses one (the interrupt costs a few dozen cycles per 2^24 inside long measurements).
 *   Unit: "cycles" - core clock cycles at the clock stm32_clock.c set up, printed once at start-up
 *   (`@dtmm counter cycles`, `@dtmm clock <Hz>`).
 * Exit: prints "@dtmm exit <status>" (the line `dtmm run --port` waits for), lets the UART drain,
 *   then stops at a breakpoint when a debugger is attached and sleeps forever otherwise (a BKPT
 *   without a debugger would be a HardFault).
 * Board facts (name, console): the vendor directory's board_facts.h (boards/stm32).
 */
#include <stdint.h>

#include "board_facts.h"
#include "dtmm_board.h"
#include "dtmm_console.h"

#define REG32(addr) (*(volatile uint32_t *)(uintptr_t)(addr))

#define SYST_CSR REG32(0xE000E010u)
#define SYST_RVR REG32(0xE000E014u)
#define SYST_CVR REG32(0xE000E018u)
#define DHCSR REG32(0xE000EDF0u)
#define DEMCR REG32(0xE000EDFCu)
#define DWT_CTRL REG32(0xE0001000u)
#define DWT_CYCCNT REG32(0xE0001004u)
#define DWT_LAR REG32(0xE0001FB0u)
#define DEMCR_TRCENA (1u << 24)
#define DWT_CTRL_CYCCNTENA (1u << 0)
#define DWT_CTRL_NOCYCCNT (1u << 25)
#define DWT_LAR_KEY 0xC5ACCE55u
#define DHCSR_C_DEBUGEN (1u << 0)
#define SYST_CSR_ENABLE 1u
#define SYST_CSR_TICKINT 2u
#define SYST_CSR_CLKSOURCE_CPU 4u

/* ---- 64-bit cycle counter ------------------------------------------------ */
static volatile uint32_t cyccnt_high;
static volatile uint32_t cyccnt_last;
static uint64_t cycles_origin;

static inline uint32_t irq_save(void)
{
    uint32_t primask;
    __asm volatile("mrs %0, primask\n\tcpsid i" : "=r"(primask)::"memory");
    return primask;
}

static inline void irq_restore(uint32_t primask)
{
    __asm volatile("msr primask, %0" ::"r"(primask) : "memory");
}

/* Caller has interrupts masked. */
static uint64_t cyccnt_extend(void)
{
    uint32_t now = DWT_CYCCNT;
    if (now < cyccnt_last) {
        cyccnt_high++;
    }
    cyccnt_last = now;
    return ((uint64_t)cyccnt_high << 32) | now;
}

/* Every 2^24 cycles: far more often than CYCCNT wraps (2^32 cycles). */
void SysTick_Handler(void)
{
    uint32_t primask = irq_save();
    (void)cyccnt_extend();
    irq_restore(primask);
}

uint64_t dtmm_board_counter_raw(void)
{
    uint32_t primask = irq_save();
    uint64_t value = cyccnt_extend();
    irq_restore(primask);
    return value;
}

uint64_t dtmm_board_counter_from_raw(uint64_t raw)
{
    return raw - cycles_origin;
}

uint64_t dtmm_board_counter(void)
{
    return dtmm_board_counter_from_raw(dtmm_board_counter_raw());
}

const char *dtmm_board_counter_unit(void)
{
    return "cycles";
}

const char *dtmm_board_name(void)
{
    return DTMM_BOARD_NAME;
}

static void counter_init(void)
{
    DEMCR |= DEMCR_TRCENA;
    DWT_LAR = DWT_LAR_KEY; /* Cortex-M7 locks the DWT; elsewhere the write is ignored */
    if (DWT_CTRL & DWT_CTRL_NOCYCCNT) {
        dtmm_printf("@dtmm error this core has no DWT cycle counter\n");
        dtmm_exit(DTMM_EXIT_FAULT);
    }
    DWT_CYCCNT = 0u;
    DWT_CTRL |= DWT_CTRL_CYCCNTENA;
    uint32_t before = DWT_CYCCNT;
    for (volatile int i = 0; i < 16; ++i) {
    }
    if (DWT_CYCCNT == before) {
        /* locked by a debugger's settings, or an emulator without a DWT (QEMU): say so once */
        dtmm_printf("@dtmm warning the DWT cycle counter does not advance: every count reads 0\n");
    }
    cyccnt_high = 0u;
    cyccnt_last = 0u;

    SYST_RVR = 0x00FFFFFFu;
    SYST_CVR = 0u;
    SYST_CSR = SYST_CSR_CLKSOURCE_CPU | SYST_CSR_TICKINT | SYST_CSR_ENABLE;
    cycles_origin = dtmm_board_counter_raw();
}

/* ---- exit ------------------------------------------------------------------ */
void dtmm_exit(int status)
{
    dtmm_printf("@dtmm exit %d\n", status);
    dtmm_console_flush();
    irq_save();
    SYST_CSR = 0u;
    if (DHCSR & DHCSR_C_DEBUGEN) {
        __asm volatile("bkpt #0");
    }
    for (;;) {
        __asm volatile("wfi");
    }
}

/* ---- start-up hook (called by the reset handler before main) ----------------- */
void dtmm_board_init(void)
{
    dtmm_console_init();
    counter_init();
    dtmm_measure_calibrate();
    dtmm_printf("@dtmm clock %lu\n", (unsigned long)dtmm_stm32_clock_init()->sysclk_hz);
}
