/*
 * board_stm32.c - DTMM board support for the real STM32 boards.
 *
 *   UNTESTED ON HARDWARE.  Written from the reference manuals and board user
 *   manuals; it only compiles here (arm-none-eabi-gcc -fsyntax-only), since
 *   the ststm32 PlatformIO platform cannot be downloaded on the offline
 *   development machine.  Check the console and the counter on a board
 *   before trusting any number it prints.
 *
 * Boards (exactly one DTMM_BOARD_* macro, set by boards/stm32/pio_stm32.py):
 *   DTMM_BOARD_DISCO_F746NG   STM32F746G-DISCO, Cortex-M7
 *       console: USART1, TX on PA9 (AF7), the ST-LINK virtual COM port
 *   DTMM_BOARD_NUCLEO_L4R5ZI  NUCLEO-L4R5ZI, Cortex-M4
 *       console: LPUART1, TX on PG7 (AF8), the ST-LINK virtual COM port;
 *       port G is powered from VDDIO2, which must be declared valid
 *       (PWR_CR2.IOSV) before the pin works.
 *   Both consoles run at 115200 8N1 from the 16 MHz HSI oscillator.
 *
 * Clocks: the core runs at its reset clock (F746: HSI 16 MHz, L4R5: MSI
 * 4 MHz); no PLL is configured, so flash needs no extra wait states and the
 * cycle counts are those of a zero-wait-state memory system.  Caches of the
 * Cortex-M7 are left off.
 *
 * Counter: the DWT cycle counter (CYCCNT, 32 bits), extended to 64 bits in
 * software.  SysTick interrupts every 2^24 cycles only to notice CYCCNT wraps,
 * so the extension never misses one (the interrupt costs a few dozen cycles
 * per 2^24 inside long measurements).  Unit: "cycles".
 *
 * Start-up: the ststm32 CMSIS framework brings its own vector table and reset
 * handler, which call SystemInit, the C library initialisation and main.  The
 * build links with -Wl,--wrap=main, so that call lands in __wrap_main below:
 * it initialises the board, runs the application's main (__real_main) and
 * reports its return value through dtmm_exit().
 *
 * Exit: prints "@dtmm exit <status>", waits for the UART to drain, then stops
 * at a breakpoint when a debugger is attached and sleeps forever otherwise.
 *
 * Registers are accessed by address so this file needs no CMSIS headers.
 */
#include <stdint.h>

#include "dtmm_board.h"

#define REG32(addr) (*(volatile uint32_t *)(uintptr_t)(addr))

#define DTMM_CONSOLE_BAUD 115200u
#define DTMM_HSI_HZ 16000000u

/* ---- per-board facts ----------------------------------------------------- */
#if defined(DTMM_BOARD_DISCO_F746NG)

#define DTMM_BOARD_NAME "disco_f746ng"
#define RCC_BASE 0x40023800u
#define RCC_AHB1ENR REG32(RCC_BASE + 0x30u)
#define RCC_APB2ENR REG32(RCC_BASE + 0x44u)
#define RCC_AHB1ENR_GPIOAEN (1u << 0)
#define RCC_APB2ENR_USART1EN (1u << 4)
#define CONSOLE_GPIO_BASE 0x40020000u /* GPIOA */
#define CONSOLE_PIN 9u
#define CONSOLE_AF 7u
#define CONSOLE_UART_BASE 0x40011000u /* USART1, clocked from PCLK2 = HSI */
/* USART, oversampling by 16: BRR = f_ck / baud, rounded. */
#define CONSOLE_BRR ((DTMM_HSI_HZ + DTMM_CONSOLE_BAUD / 2u) / DTMM_CONSOLE_BAUD)
#define DTMM_CORE_HAS_LAR 1 /* Cortex-M7 DWT has a software lock */

#elif defined(DTMM_BOARD_NUCLEO_L4R5ZI)

#define DTMM_BOARD_NAME "nucleo_l4r5zi"
#define RCC_BASE 0x40021000u
#define RCC_CR REG32(RCC_BASE + 0x00u)
#define RCC_AHB2ENR REG32(RCC_BASE + 0x4Cu)
#define RCC_APB1ENR1 REG32(RCC_BASE + 0x58u)
#define RCC_APB1ENR2 REG32(RCC_BASE + 0x5Cu)
#define RCC_CCIPR REG32(RCC_BASE + 0x88u)
#define RCC_CR_HSION (1u << 8)
#define RCC_CR_HSIRDY (1u << 10)
#define RCC_AHB2ENR_GPIOGEN (1u << 6)
#define RCC_APB1ENR1_PWREN (1u << 28)
#define RCC_APB1ENR2_LPUART1EN (1u << 0)
#define RCC_CCIPR_LPUART1SEL_SHIFT 10u
#define RCC_CCIPR_LPUART1SEL_HSI16 2u
#define PWR_CR2 REG32(0x40007000u + 0x04u)
#define PWR_CR2_IOSV (1u << 9)
#define CONSOLE_GPIO_BASE 0x48001800u /* GPIOG */
#define CONSOLE_PIN 7u
#define CONSOLE_AF 8u
#define CONSOLE_UART_BASE 0x40008000u /* LPUART1, clocked from HSI16 */
/* LPUART: BRR = 256 * f_ck / baud, rounded (needs 3*baud <= f_ck <= 4096*baud). */
#define CONSOLE_BRR \
    ((uint32_t)((256ull * DTMM_HSI_HZ + DTMM_CONSOLE_BAUD / 2u) / DTMM_CONSOLE_BAUD))
#define DTMM_CORE_HAS_LAR 0

#else
#error "define one of DTMM_BOARD_DISCO_F746NG, DTMM_BOARD_NUCLEO_L4R5ZI"
#endif

/* ---- GPIO and U(S)ART (same register layout on F7 and L4) ---------------- */
#define GPIO_MODER REG32(CONSOLE_GPIO_BASE + 0x00u)
#define GPIO_OSPEEDR REG32(CONSOLE_GPIO_BASE + 0x08u)
#define GPIO_AFR(n) REG32(CONSOLE_GPIO_BASE + 0x20u + 4u * (n))
#define GPIO_MODE_AF 2u

#define UART_CR1 REG32(CONSOLE_UART_BASE + 0x00u)
#define UART_BRR REG32(CONSOLE_UART_BASE + 0x0Cu)
#define UART_ISR REG32(CONSOLE_UART_BASE + 0x1Cu)
#define UART_TDR REG32(CONSOLE_UART_BASE + 0x28u)
#define UART_CR1_UE (1u << 0)
#define UART_CR1_TE (1u << 3)
#define UART_ISR_TC (1u << 6)
#define UART_ISR_TXE (1u << 7)

/* ---- Cortex-M core registers --------------------------------------------- */
#define SYST_CSR REG32(0xE000E010u)
#define SYST_RVR REG32(0xE000E014u)
#define SYST_CVR REG32(0xE000E018u)
#define SCB_CFSR REG32(0xE000ED28u)
#define DHCSR REG32(0xE000EDF0u)
#define DEMCR REG32(0xE000EDFCu)
#define DWT_CTRL REG32(0xE0001000u)
#define DWT_CYCCNT REG32(0xE0001004u)
#define DWT_LAR REG32(0xE0001FB0u)
#define DEMCR_TRCENA (1u << 24)
#define DWT_CTRL_CYCCNTENA (1u << 0)
#define DWT_LAR_KEY 0xC5ACCE55u
#define DHCSR_C_DEBUGEN (1u << 0)
#define SYST_CSR_ENABLE 1u
#define SYST_CSR_TICKINT 2u
#define SYST_CSR_CLKSOURCE_CPU 4u

static int console_ready;

static void console_init(void)
{
#if defined(DTMM_BOARD_DISCO_F746NG)
    RCC_AHB1ENR |= RCC_AHB1ENR_GPIOAEN;
    RCC_APB2ENR |= RCC_APB2ENR_USART1EN;
    (void)RCC_APB2ENR; /* read back: the clock is on before the first access */
#else
    RCC_CR |= RCC_CR_HSION;
    while (!(RCC_CR & RCC_CR_HSIRDY)) {
    }
    RCC_APB1ENR1 |= RCC_APB1ENR1_PWREN;
    (void)RCC_APB1ENR1;
    PWR_CR2 |= PWR_CR2_IOSV; /* VDDIO2 valid: port G usable */
    RCC_AHB2ENR |= RCC_AHB2ENR_GPIOGEN;
    RCC_CCIPR = (RCC_CCIPR & ~(3u << RCC_CCIPR_LPUART1SEL_SHIFT)) |
                (RCC_CCIPR_LPUART1SEL_HSI16 << RCC_CCIPR_LPUART1SEL_SHIFT);
    RCC_APB1ENR2 |= RCC_APB1ENR2_LPUART1EN;
    (void)RCC_APB1ENR2;
#endif
    /* TX pin: alternate function, high speed. */
    GPIO_AFR(CONSOLE_PIN / 8u) = (GPIO_AFR(CONSOLE_PIN / 8u) & ~(0xFu << (4u * (CONSOLE_PIN % 8u)))) |
                                 (CONSOLE_AF << (4u * (CONSOLE_PIN % 8u)));
    GPIO_OSPEEDR |= 3u << (2u * CONSOLE_PIN);
    GPIO_MODER = (GPIO_MODER & ~(3u << (2u * CONSOLE_PIN))) | (GPIO_MODE_AF << (2u * CONSOLE_PIN));

    UART_CR1 = 0u; /* disabled while configuring; 8N1, oversampling by 16 */
    UART_BRR = CONSOLE_BRR;
    UART_CR1 = UART_CR1_TE | UART_CR1_UE;
    console_ready = 1;
}

void dtmm_board_putc(char c)
{
    if (!console_ready) {
        return;
    }
    while (!(UART_ISR & UART_ISR_TXE)) {
    }
    UART_TDR = (uint32_t)(uint8_t)c;
}

/* ---- 64-bit cycle counter ------------------------------------------------ */
static volatile uint32_t cyccnt_high;
static volatile uint32_t cyccnt_last;
static uint64_t cycles_origin;

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
#if DTMM_CORE_HAS_LAR
    DWT_LAR = DWT_LAR_KEY;
#endif
    DWT_CYCCNT = 0u;
    DWT_CTRL |= DWT_CTRL_CYCCNTENA;
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
    if (console_ready) {
        while (!(UART_ISR & UART_ISR_TC)) {
        }
    }
    irq_save();
    SYST_CSR = 0u;
    if (DHCSR & DHCSR_C_DEBUGEN) {
        __asm volatile("bkpt #0");
    }
    for (;;) {
        __asm volatile("wfi");
    }
}

/* ---- faults: report and exit instead of hanging silently ------------------ */
static void fault(const char *what)
{
    dtmm_printf("\n*** %s (CFSR=0x%08x)\n", what, (unsigned)SCB_CFSR);
    dtmm_exit(DTMM_EXIT_FAULT);
}

void HardFault_Handler(void) { fault("HardFault"); }
void MemManage_Handler(void) { fault("MemManage fault"); }
void BusFault_Handler(void) { fault("BusFault"); }
void UsageFault_Handler(void) { fault("UsageFault"); }

/* ---- start-up hook ----------------------------------------------------------- */
void dtmm_board_init(void)
{
    console_init();
    counter_init();
    dtmm_measure_calibrate();
}

int __real_main(void);
int __wrap_main(void);

/* The framework's reset handler calls main; --wrap=main routes it here. */
int __wrap_main(void)
{
    dtmm_board_init();
    dtmm_exit(__real_main());
}
