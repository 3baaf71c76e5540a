/*
 * stm32_clock.c - clock tree of the STM32 boards: oscillator, PLL, flash wait states, bus prescalers.
 *
 * Register addresses and bit positions are those of the reference manuals:
 *   F4 (STM32F405, RM0090): HSE 25 MHz or HSI 16 MHz / M -> 1 MHz, x336 = 336 MHz VCO, /2 = 168 MHz
 *       (/7 = 48 MHz for USB); APB1 /4 = 42 MHz, APB2 /2 = 84 MHz; flash 5 wait states + prefetch,
 *       instruction and data caches.
 *   F7 (STM32F746, RM0385): HSE 25 MHz or HSI / M -> 1 MHz, x432, /2 = 216 MHz with over-drive
 *       (/9 = 48 MHz); APB1 /4 = 54 MHz, APB2 /2 = 108 MHz; flash 7 wait states, ART accelerator and
 *       prefetch; the Cortex-M7 L1 instruction and data caches are switched on.
 *   L4 (STM32L4R5, RM0432): HSI16 / 2 -> 8 MHz, x30 = 240 MHz VCO, /2 = 120 MHz in range 1 boost
 *       mode; APB1 = APB2 = 120 MHz; flash 5 wait states, prefetch, instruction and data caches.
 *       The switch above 80 MHz goes through AHB /2 for at least 1 us, as RM0432 requires.
 *
 * Never hangs: every wait is bounded (dtmm_stm32_wait_bits).  Without the crystal the PLL runs from
 * HSI16; a PLL that does not lock, a flash latency that does not read back or a switch that does not
 * happen leaves the part on its reset clock (F4/F7: HSI 16 MHz, L4: MSI 4 MHz), and the figures
 * returned say so, so the console's baud rate stays right.  QEMU 7.2's netduinoplus2 models none of
 * RCC, PWR or the flash interface (reads 0, writes ignored): there the HSI fallback is what runs.
 */
#include <stdint.h>

#include "board_facts.h"

#define REG(base, offset) (*(volatile uint32_t *)((uintptr_t)(base) + (offset)))

int dtmm_stm32_wait_bits(volatile uint32_t *reg, uint32_t mask, uint32_t want)
{
    for (uint32_t i = 0; i < DTMM_STM32_WAIT_LOOPS; ++i) {
        if ((*reg & mask) == want) {
            return 1;
        }
    }
    return 0;
}

/* A few hundred polls of a register: comfortably more than 1 us at up to 216 MHz. */
static void short_delay(volatile uint32_t *reg)
{
    for (uint32_t i = 0; i < 512u; ++i) {
        (void)*reg;
    }
}

/* Sets the flash wait states (and accelerator bits) and checks that the latency reads back. */
static int set_flash_latency(volatile uint32_t *acr, uint32_t latency_mask, uint32_t value)
{
    *acr = (*acr & ~latency_mask) | value;
    return dtmm_stm32_wait_bits(acr, latency_mask, value & latency_mask);
}

static struct dtmm_stm32_clocks clocks;
static int clocks_ready;

#if defined(DTMM_STM32_F4) || defined(DTMM_STM32_F7)

#define RCC_BASE 0x40023800u
#define RCC_CR REG(RCC_BASE, 0x00u)
#define RCC_PLLCFGR REG(RCC_BASE, 0x04u)
#define RCC_CFGR REG(RCC_BASE, 0x08u)
#define RCC_APB1ENR REG(RCC_BASE, 0x40u)
#define RCC_CR_HSION (1u << 0)
#define RCC_CR_HSIRDY (1u << 1)
#define RCC_CR_HSEON (1u << 16)
#define RCC_CR_HSERDY (1u << 17)
#define RCC_CR_PLLON (1u << 24)
#define RCC_CR_PLLRDY (1u << 25)
#define RCC_PLLCFGR_SRC_HSE (1u << 22)
#define RCC_CFGR_SW_MASK 3u
#define RCC_CFGR_SW_PLL 2u
#define RCC_CFGR_SWS_MASK (3u << 2)
#define RCC_CFGR_SWS_PLL (2u << 2)
#define RCC_CFGR_PPRE1_DIV4 (5u << 10)
#define RCC_CFGR_PPRE2_DIV2 (4u << 13)
#define RCC_CFGR_PRESCALERS_MASK ((0xFu << 4) | (7u << 10) | (7u << 13))
#define RCC_APB1ENR_PWREN (1u << 28)
#define FLASH_ACR REG(0x40023C00u, 0x00u)
#define PWR_CR1 REG(0x40007000u, 0x00u)
#define PWR_CSR1 REG(0x40007000u, 0x04u)

#if defined(DTMM_STM32_F4)
#define PLL_N 336u
#define PLL_Q 7u
#define FLASH_LATENCY_MASK 7u
#define FLASH_ACR_VALUE (5u | (1u << 8) | (1u << 9) | (1u << 10)) /* 5 WS, PRFTEN, ICEN, DCEN */
#define PWR_CR_VOS_SCALE1 (1u << 14)
#else
#define PLL_N 432u
#define PLL_Q 9u
#define FLASH_LATENCY_MASK 0xFu
#define FLASH_ACR_VALUE (7u | (1u << 8) | (1u << 9)) /* 7 WS, PRFTEN, ARTEN */
#define PWR_CR1_VOS_SCALE1 (3u << 14)
#define PWR_CR1_ODEN (1u << 16)
#define PWR_CR1_ODSWEN (1u << 17)
#define PWR_CSR1_ODRDY (1u << 16)
#define PWR_CSR1_ODSWRDY (1u << 17)
#endif

#if defined(DTMM_STM32_F7)
/* Cortex-M7 L1 caches (Armv7-M ARM B3.5 / Cortex-M7 TRM): invalidate, then enable. */
#define SCB_CCR REG(0xE000ED00u, 0x14u)
#define SCB_CCSIDR REG(0xE000ED00u, 0x80u)
#define SCB_CSSELR REG(0xE000ED00u, 0x84u)
#define SCB_ICIALLU REG(0xE000EF00u, 0x50u)
#define SCB_DCISW REG(0xE000EF00u, 0x60u)
#define SCB_CCR_DC (1u << 16)
#define SCB_CCR_IC (1u << 17)

static void barriers(void)
{
    __asm volatile("dsb\n\tisb" ::: "memory");
}

static void enable_l1_caches(void)
{
    barriers();
    SCB_ICIALLU = 0u;
    barriers();
    SCB_CCR |= SCB_CCR_IC;
    barriers();

    SCB_CSSELR = 0u; /* level 1 data cache */
    barriers();
    uint32_t ccsidr = SCB_CCSIDR;
    uint32_t line_shift = (ccsidr & 7u) + 4u;
    uint32_t ways = ((ccsidr >> 3) & 0x3FFu) + 1u;
    uint32_t sets = ((ccsidr >> 13) & 0x7FFFu) + 1u;
    uint32_t way_shift = 32u;
    for (uint32_t w = ways - 1u; w != 0u; w >>= 1) {
        way_shift--;
    }
    for (uint32_t set = 0; set < sets; ++set) {
        for (uint32_t way = 0; way < ways; ++way) {
            SCB_DCISW = (set << line_shift) | (ways > 1u ? way << way_shift : 0u);
        }
    }
    barriers();
    SCB_CCR |= SCB_CCR_DC;
    barriers();
}
#endif

static void clock_tree_init(void)
{
    clocks.sysclk_hz = clocks.apb1_hz = clocks.apb2_hz = DTMM_STM32_HSI_HZ; /* the reset clock */

    RCC_CR |= RCC_CR_HSION;
    (void)dtmm_stm32_wait_bits(&RCC_CR, RCC_CR_HSIRDY, RCC_CR_HSIRDY);

    uint32_t pll_in_hz = DTMM_STM32_HSI_HZ;
    uint32_t pll_src = 0u;
    if (DTMM_STM32_HSE_HZ != 0u) {
        RCC_CR |= RCC_CR_HSEON;
        if (dtmm_stm32_wait_bits(&RCC_CR, RCC_CR_HSERDY, RCC_CR_HSERDY)) {
            pll_in_hz = DTMM_STM32_HSE_HZ;
            pll_src = RCC_PLLCFGR_SRC_HSE;
        } else {
            RCC_CR &= ~RCC_CR_HSEON; /* no crystal: the PLL runs from HSI */
        }
    }

    RCC_APB1ENR |= RCC_APB1ENR_PWREN;
    (void)RCC_APB1ENR;
#if defined(DTMM_STM32_F4)
    PWR_CR1 |= PWR_CR_VOS_SCALE1;
#else
    PWR_CR1 |= PWR_CR1_VOS_SCALE1;
#endif

    /* PLL: input / M = 1 MHz; x N; / P = 2; / Q = 48 MHz */
    uint32_t pll_m = pll_in_hz / 1000000u;
    RCC_PLLCFGR = pll_m | (PLL_N << 6) | (0u << 16) | pll_src | (PLL_Q << 24);
    RCC_CR |= RCC_CR_PLLON;
    if (!dtmm_stm32_wait_bits(&RCC_CR, RCC_CR_PLLRDY, RCC_CR_PLLRDY)) {
        RCC_CR &= ~RCC_CR_PLLON;
        return;
    }
#if defined(DTMM_STM32_F7)
    /* 216 MHz needs over-drive (RM0385 5.1.4): enable, then switch, each with its ready flag. */
    PWR_CR1 |= PWR_CR1_ODEN;
    if (!dtmm_stm32_wait_bits(&PWR_CSR1, PWR_CSR1_ODRDY, PWR_CSR1_ODRDY)) {
        RCC_CR &= ~RCC_CR_PLLON;
        return;
    }
    PWR_CR1 |= PWR_CR1_ODSWEN;
    if (!dtmm_stm32_wait_bits(&PWR_CSR1, PWR_CSR1_ODSWRDY, PWR_CSR1_ODSWRDY)) {
        RCC_CR &= ~RCC_CR_PLLON;
        return;
    }
#endif
    if (!set_flash_latency(&FLASH_ACR, FLASH_LATENCY_MASK, FLASH_ACR_VALUE)) {
        RCC_CR &= ~RCC_CR_PLLON;
        return;
    }
    RCC_CFGR = (RCC_CFGR & ~RCC_CFGR_PRESCALERS_MASK) | RCC_CFGR_PPRE1_DIV4 | RCC_CFGR_PPRE2_DIV2;
    RCC_CFGR = (RCC_CFGR & ~RCC_CFGR_SW_MASK) | RCC_CFGR_SW_PLL;
    if (!dtmm_stm32_wait_bits(&RCC_CFGR, RCC_CFGR_SWS_MASK, RCC_CFGR_SWS_PLL)) {
        /* not switched: back to HSI with undivided buses */
        RCC_CFGR &= ~(RCC_CFGR_SW_MASK | RCC_CFGR_PRESCALERS_MASK);
        RCC_CR &= ~RCC_CR_PLLON;
        return;
    }
    clocks.sysclk_hz = DTMM_STM32_SYSCLK_TARGET_HZ;
    clocks.apb1_hz = DTMM_STM32_SYSCLK_TARGET_HZ / 4u;
    clocks.apb2_hz = DTMM_STM32_SYSCLK_TARGET_HZ / 2u;
    short_delay(&RCC_CFGR);
#if defined(DTMM_STM32_F7)
    enable_l1_caches();
#endif
}

#elif defined(DTMM_STM32_L4)

#define RCC_BASE 0x40021000u
#define RCC_CR REG(RCC_BASE, 0x00u)
#define RCC_CFGR REG(RCC_BASE, 0x08u)
#define RCC_PLLCFGR REG(RCC_BASE, 0x0Cu)
#define RCC_APB1ENR1 REG(RCC_BASE, 0x58u)
#define RCC_CR_HSION (1u << 8)
#define RCC_CR_HSIRDY (1u << 10)
#define RCC_CR_PLLON (1u << 24)
#define RCC_CR_PLLRDY (1u << 25)
#define RCC_CFGR_SW_MASK 3u
#define RCC_CFGR_SW_PLL 3u
#define RCC_CFGR_SWS_MASK (3u << 2)
#define RCC_CFGR_SWS_PLL (3u << 2)
#define RCC_CFGR_HPRE_MASK (0xFu << 4)
#define RCC_CFGR_HPRE_DIV2 (8u << 4)
#define RCC_CFGR_PPRE_MASK ((7u << 8) | (7u << 11))
#define RCC_PLLCFGR_SRC_HSI16 2u
#define RCC_PLLCFGR_M_DIV2 (1u << 4)
#define RCC_PLLCFGR_N(n) ((n) << 8)
#define RCC_PLLCFGR_REN (1u << 24) /* PLLR = 00: / 2 */
#define RCC_APB1ENR1_PWREN (1u << 28)
#define PWR_CR1 REG(0x40007000u, 0x00u)
#define PWR_SR2 REG(0x40007000u, 0x14u)
#define PWR_CR5 REG(0x40007000u, 0x80u)
#define PWR_CR1_VOS_MASK (3u << 9)
#define PWR_CR1_VOS_RANGE1 (1u << 9)
#define PWR_SR2_VOSF (1u << 10)
#define PWR_CR5_R1MODE (1u << 8)
#define FLASH_ACR REG(0x40022000u, 0x00u)
#define FLASH_LATENCY_MASK 0xFu
#define FLASH_ACR_VALUE (5u | (1u << 8) | (1u << 9) | (1u << 10)) /* 5 WS, PRFTEN, ICEN, DCEN */
#define MSI_RESET_HZ 4000000u

static void clock_tree_init(void)
{
    clocks.sysclk_hz = clocks.apb1_hz = clocks.apb2_hz = MSI_RESET_HZ; /* the reset clock */

    RCC_CR |= RCC_CR_HSION; /* also the LPUART1 kernel clock */
    if (!dtmm_stm32_wait_bits(&RCC_CR, RCC_CR_HSIRDY, RCC_CR_HSIRDY)) {
        return;
    }
    RCC_APB1ENR1 |= RCC_APB1ENR1_PWREN;
    (void)RCC_APB1ENR1;
    /* range 1 (the reset range), then boost mode for more than 80 MHz */
    PWR_CR1 = (PWR_CR1 & ~PWR_CR1_VOS_MASK) | PWR_CR1_VOS_RANGE1;
    (void)dtmm_stm32_wait_bits(&PWR_SR2, PWR_SR2_VOSF, 0u);
    PWR_CR5 &= ~PWR_CR5_R1MODE;

    RCC_PLLCFGR = RCC_PLLCFGR_SRC_HSI16 | RCC_PLLCFGR_M_DIV2 | RCC_PLLCFGR_N(30u) | RCC_PLLCFGR_REN;
    RCC_CR |= RCC_CR_PLLON;
    if (!dtmm_stm32_wait_bits(&RCC_CR, RCC_CR_PLLRDY, RCC_CR_PLLRDY)) {
        RCC_CR &= ~RCC_CR_PLLON;
        return;
    }
    if (!set_flash_latency(&FLASH_ACR, FLASH_LATENCY_MASK, FLASH_ACR_VALUE)) {
        RCC_CR &= ~RCC_CR_PLLON;
        return;
    }
    /* RM0432: above 80 MHz, switch with AHB / 2, wait at least 1 us, then AHB / 1 */
    RCC_CFGR = (RCC_CFGR & ~(RCC_CFGR_HPRE_MASK | RCC_CFGR_PPRE_MASK)) | RCC_CFGR_HPRE_DIV2;
    RCC_CFGR = (RCC_CFGR & ~RCC_CFGR_SW_MASK) | RCC_CFGR_SW_PLL;
    if (!dtmm_stm32_wait_bits(&RCC_CFGR, RCC_CFGR_SWS_MASK, RCC_CFGR_SWS_PLL)) {
        RCC_CFGR &= ~(RCC_CFGR_SW_MASK | RCC_CFGR_HPRE_MASK);
        RCC_CR &= ~RCC_CR_PLLON;
        return;
    }
    short_delay(&RCC_CFGR);
    RCC_CFGR &= ~RCC_CFGR_HPRE_MASK;
    clocks.sysclk_hz = clocks.apb1_hz = clocks.apb2_hz = DTMM_STM32_SYSCLK_TARGET_HZ;
}

#endif

const struct dtmm_stm32_clocks *dtmm_stm32_clock_init(void)
{
    if (!clocks_ready) {
        clock_tree_init();
        clocks_ready = 1;
    }
    return &clocks;
}
