/*
 * dtmm_cold.h - DTMM_COLD: compile a function for size (-Os) whatever the
 * build's optimisation level (internal).
 *
 * For the per-call setup of a kernel (scratch layout, filter records,
 * pointer tables, parameter checks): it runs once per layer, so its speed
 * hardly shows in the instructions per inference, while at -O2/-O3 GCC
 * unrolls and inlines it into several kilobytes.  Hot loops stay at the
 * build's level (put them in functions without the attribute).  GCC only;
 * other compilers ignore the request.
 */
#ifndef DTMM_COLD_H
#define DTMM_COLD_H

#if defined(__GNUC__) && !defined(__clang__)
#define DTMM_COLD __attribute__((optimize("Os")))
#else
#define DTMM_COLD
#endif

#endif /* DTMM_COLD_H */
