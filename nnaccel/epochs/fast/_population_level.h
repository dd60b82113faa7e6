/* The population kernel for one LEVEL (an instruction-set name), for float and double:
 * population_epoch_f32_LEVEL and population_epoch_f64_LEVEL, each on _sgd_kernel.h's layer
 * functions compiled at the same level. Included by _population.c once per level. */
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
#include "_population_kernel.h"
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
#include "_population_kernel.h"
#undef REAL
#undef NAME
#undef TANH
#undef EXP
#undef SMALLEST
