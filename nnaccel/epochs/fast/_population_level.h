/* The population kernel for one LEVEL (an instruction-set name), for float and double:
 * population_epoch_f32_LEVEL and population_epoch_f64_LEVEL, each on _sgd_kernel.h's layer
 * functions compiled at the same level (_sgd_level.h's instantiation, with this kernel after
 * each). Included by _population.c once per level. */
#define LEVEL_EXTRA "_population_kernel.h"
#include "_sgd_level.h"
#undef LEVEL_EXTRA
