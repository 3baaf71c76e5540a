/*
 * startup.c - vector table and reset handler of every board DTMM's PlatformIO platform builds.
 *
 * Reset copies .data from flash, zeroes .bss, grants FPU/MVE access where the
 * core has them, initialises the board (clocks, console, counter), runs the
 * C++ constructors and main(); main's return value goes to dtmm_exit() (the
 * QEMU exit status, or the "@dtmm exit" line of a real board).  Faults print
 * their name and exit with DTMM_EXIT_FAULT instead of hanging, so a crashed
 * run fails fast.  The table has the 16 system entries and 32 external
 * interrupts, none enabled.  The linker puts the table at the start of flash;
 * the reset handler points VTOR at it (ARMv7-M/v8-M), since the reset value
 * is the boot alias, which differs per part (STM32F7 boots through ITCM at
 * 0x00200000).
 */
#include <stdint.h>
#include <string.h>

#include "dtmm_board.h"

extern uint32_t __data_load__, __data_start__, __data_end__;
extern uint32_t __bss_start__, __bss_end__;
extern uint32_t __stack_top__;
extern void (*__init_array_start[])(void);
extern void (*__init_array_end[])(void);

int main(void);
void Reset_Handler(void);
void SysTick_Handler(void);

#define SCB_CPACR (*(volatile uint32_t *)0xE000ED88u)
#define SCB_SHCSR (*(volatile uint32_t *)0xE000ED24u)
#define SCB_VTOR (*(volatile uint32_t *)0xE000ED08u)

static void NMI_Handler(void) { dtmm_fault("NMI"); }
static void HardFault_Handler(void) { dtmm_fault("HardFault"); }
static void MemManage_Handler(void) { dtmm_fault("MemManage fault"); }
static void BusFault_Handler(void) { dtmm_fault("BusFault"); }
static void UsageFault_Handler(void) { dtmm_fault("UsageFault"); }
static void SecureFault_Handler(void) { dtmm_fault("SecureFault"); }
static void Unexpected_Handler(void) { dtmm_fault("unexpected exception"); }

typedef void (*vector_fn)(void);

__attribute__((section(".vectors"), used)) const vector_fn dtmm_vector_table[16 + 32] = {
    (vector_fn)(uintptr_t)&__stack_top__,
    Reset_Handler,
    NMI_Handler,
    HardFault_Handler,
    MemManage_Handler,
    BusFault_Handler,
    UsageFault_Handler,
    SecureFault_Handler,
    0, 0, 0,
    Unexpected_Handler, /* SVCall */
    Unexpected_Handler, /* DebugMon */
    0,
    Unexpected_Handler, /* PendSV */
    SysTick_Handler,
    /* external interrupts: none are enabled */
    Unexpected_Handler, Unexpected_Handler, Unexpected_Handler, Unexpected_Handler,
    Unexpected_Handler, Unexpected_Handler, Unexpected_Handler, Unexpected_Handler,
    Unexpected_Handler, Unexpected_Handler, Unexpected_Handler, Unexpected_Handler,
    Unexpected_Handler, Unexpected_Handler, Unexpected_Handler, Unexpected_Handler,
    Unexpected_Handler, Unexpected_Handler, Unexpected_Handler, Unexpected_Handler,
    Unexpected_Handler, Unexpected_Handler, Unexpected_Handler, Unexpected_Handler,
    Unexpected_Handler, Unexpected_Handler, Unexpected_Handler, Unexpected_Handler,
    Unexpected_Handler, Unexpected_Handler, Unexpected_Handler, Unexpected_Handler,
};

__attribute__((noreturn, used)) void Reset_Handler(void)
{
    uint32_t *src = &__data_load__;
    for (uint32_t *dst = &__data_start__; dst < &__data_end__;) *dst++ = *src++;
    for (uint32_t *dst = &__bss_start__; dst < &__bss_end__;) *dst++ = 0;

#if defined(__ARM_FP) || defined(__ARM_FEATURE_MVE)
    SCB_CPACR |= (0xFu << 20); /* CP10+CP11 full access: FPU and MVE */
    __asm volatile("dsb\n\tisb" ::: "memory");
#endif
#if !defined(__ARM_ARCH_6M__)
    SCB_VTOR = (uint32_t)(uintptr_t)dtmm_vector_table;
    /* Report MemManage, BusFault, UsageFault (and SecureFault) separately;
     * ARMv6-M has only HardFault. */
    SCB_SHCSR |= (1u << 16) | (1u << 17) | (1u << 18);
#if __ARM_ARCH >= 8
    SCB_SHCSR |= (1u << 19);
#endif
#endif
    dtmm_board_init();
    /* C++ static constructors (and C constructors), after the console is up: TFLM apps need them */
    for (void (**ctor)(void) = __init_array_start; ctor < __init_array_end; ++ctor) (*ctor)();
    dtmm_exit(main());
}
