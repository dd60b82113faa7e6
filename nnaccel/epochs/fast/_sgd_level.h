/* The kernel of _sgd_kernel.h for one LEVEL (an instruction-set name), for float and double:
 * epoch_f32_LEVEL and epoch_f64_LEVEL. Included once per level by _levels.h. */
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
#undef REAL
#undef NAME
#undef TANH
#undef EXP
#undef SMALLEST
