// What an ElementwiseKernel body sees of the math library on a GPU, for the host compiler.
// CUDA C++ overloads the math functions for float (tanh(float) is tanhf) and double in the
// global namespace, as <cmath> does in std: bring std's overloads into the global namespace,
// so that tanh of a float stays float here too. Arithmetic, literals, integer division and
// comparisons are the language's own and need nothing.
#pragma once
#include <cmath>

using std::abs;
using std::exp;
using std::fabs;
using std::fmax;
using std::fmin;
using std::log;
using std::log1p;
using std::expm1;
using std::pow;
using std::sqrt;
using std::tanh;
