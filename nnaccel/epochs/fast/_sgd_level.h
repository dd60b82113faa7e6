/* The kernels of _sgd_kernel.h for one LEVEL (an instruction-set name), for float and double:
 * epoch_f32_LEVEL, epoch_f64_LEVEL and their job types, each followed by LEVEL_EXTRA where that
 * names a header built on them (the population kernel). Included once per level by _levels.h. */
#ifndef PASTE
#define PASTE_(a, b) a##_##b
#define PASTE(a, b) PASTE_(a, b)
#endif

#define REAL float
#define NAME(x) PASTE(x##_f32, LEVEL)
#define TANH tanhf
#define EXP expf
#define SMALLEST FLT_MIN
#include "_sgd_kernel.h"
#ifdef LEVEL_EXTRA
#include LEVEL_EXTRA
#endif
#undef REAL
#undef NAME
#undef TANH
#undef EXP
#undef SMALLEST

#define REAL double
#define NAME(x) PASTE(x##_f64, LEVEL)
#define TANH tanh
#define EXP exp
#define SMALLEST DBL_MIN
#include "_sgd_kernel.h"
#ifdef LEVEL_EXTRA
#include LEVEL_EXTRA
#endif
#undef REAL
#undef NAME
#undef TANH
#undef EXP
#undef SMALLEST
