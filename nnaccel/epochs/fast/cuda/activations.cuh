/* What both kernels (epoch.cu, register_epoch.cu) share: the activation codes, a = f(z) and
 * f'(z) from a, and the float/double overloads they are written with.
 *
 * Both kernels name it in an include line; nnaccel.epochs.fast.persistent_epoch.source puts
 * this text in place of that line, so NVRTC (and CuPy's cache, keyed by the source text), the
 * CPU shim and the SASS model all receive one self-contained translation unit.
 */
#ifndef NNACCEL_ACTIVATIONS_CUH /* (an include guard: #pragma once warns in the file it is put into) */
#define NNACCEL_ACTIVATIONS_CUH

#ifndef DYNAMIC_SHARED /* the block's dynamic shared memory (tests/cuda_shim gives each block its own) */
#define DYNAMIC_SHARED(name) extern __shared__ __align__(16) unsigned char name[]
#endif

enum Activation { SIGMOID = 0, TANH = 1, RELU = 2, LINEAR = 3, SOFTMAX = 4 }; /* persistent_epoch.CODES */

#define WARP 32

__device__ __forceinline__ float exp_(float z) { return expf(z); }
__device__ __forceinline__ double exp_(double z) { return exp(z); }
__device__ __forceinline__ float tanh_(float z) { return tanhf(z); }
__device__ __forceinline__ double tanh_(double z) { return tanh(z); }
__device__ __forceinline__ float fma_(float a, float b, float c) { return fmaf(a, b, c); }
__device__ __forceinline__ double fma_(double a, double b, double c) { return fma(a, b, c); }
__device__ __forceinline__ float lowest(float) { return -3.402823466e38f; }
__device__ __forceinline__ double lowest(double) { return -1.7976931348623157e308; }

/* a = f(z) for the elementwise activations (softmax needs the whole row: see the kernels). */
template <typename T>
__device__ __forceinline__ T activate(int act, T z)
{
    switch (act) {
    case SIGMOID: /* activations.py's form: no overflow, and exactly 0 or 1 when saturated */
        return T(0.5) * (T(1) + tanh_(T(0.5) * z));
    case TANH:
        return tanh_(z);
    case RELU:
        return z > T(0) ? z : T(0);
    default: /* LINEAR */
        return z;
    }
}

/* f'(z), from a = f(z): σ' = a(1 − a), tanh' = 1 − a², relu' = [a > 0], linear' = 1. */
template <typename T>
__device__ __forceinline__ T prime(int act, T a)
{
    switch (act) {
    case SIGMOID:
        return a * (T(1) - a);
    case TANH:
        return T(1) - a * a;
    case RELU:
        return a > T(0) ? T(1) : T(0);
    default: /* LINEAR */
        return T(1);
    }
}

#endif
