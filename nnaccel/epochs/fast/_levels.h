/* Compile the kernel's per-level file, _sgd_level.h, once for each instruction-set level, with
 * LEVEL naming the clone: base (plain x86-64, or whatever the compiler targets); the portable
 * level, the same operations in the same order on every CPU (no FMA, sums in fixed lanes),
 * compiled for SSE2 and, on x86-64, for AVX2 (the same numbers, faster); and with GCC on
 * x86-64, avx2 (+ FMA) and avx512, the best of which the CPU has runs (wheels are built for
 * plain x86-64, where the book's loops would run at a quarter of the speed). Defines LEVELS:
 * 3 where the avx2 and avx512 clones exist, else 1. Included by _sgd.c. */

#define LEVEL base
#include "_sgd_level.h"
#undef LEVEL

#define FIXED_ORDER
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC push_options
#pragma GCC optimize("fp-contract=off")
#endif
#define LEVEL portable
#include "_sgd_level.h"
#undef LEVEL
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#pragma GCC target("avx2")
#define LEVEL portable_avx2
#include "_sgd_level.h"
#undef LEVEL
#endif
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC pop_options
#endif
#undef FIXED_ORDER

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#pragma GCC push_options
#pragma GCC target("avx2", "fma")
#define LEVEL avx2
#include "_sgd_level.h"
#undef LEVEL
#pragma GCC pop_options
#pragma GCC push_options
#pragma GCC target("avx2", "fma", "avx512f", "avx512vl", "avx512bw", "avx512dq", "prefer-vector-width=512")
#define LEVEL avx512
#include "_sgd_level.h"
#undef LEVEL
#pragma GCC pop_options

#define LEVELS 3
#else
#define LEVELS 1
#endif
