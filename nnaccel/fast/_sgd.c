/* nnaccel.fast._sgd: one epoch of mini-batch SGD in C, for the book's small networks on a CPU.
 *
 * At mini-batch 10 NumPy spends most of a step in per-call overhead (~20 calls of ~1 µs around
 * two products of ~10 µs); this loop makes none. It is an optional extension: where it was not
 * compiled, nnaccel.fast falls back to the NumPy fast path. The arithmetic is in _sgd_kernel.h,
 * compiled once for float and once for double; on x86-64 each is cloned for AVX-512, AVX2+FMA
 * and plain SSE2, and the loader picks the clone the CPU runs.
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(NNACCEL_PROFILE)
#define INLINE static __attribute__((noinline))
#elif defined(__GNUC__) || defined(__clang__)
#define INLINE static inline __attribute__((always_inline))
#else
#define INLINE static inline
#endif
#if defined(__GNUC__) || defined(__clang__)
#define PREFETCH(p) __builtin_prefetch(p)
#else
#define PREFETCH(p) ((void)0)
#endif

/* One epoch's work: params and velocity are flat [w¹ b¹ w² b² …] of float or double. */
typedef struct {
    void *params, *velocity;     /* velocity NULL without momentum */
    const Py_ssize_t *sizes;     /* n_0 … n_L */
    const char *acts;            /* one code per layer: s t r l m */
    int quadratic, pixels;       /* multiply δᴸ by f'; inputs are uint8 to divide by 255 */
    const void *x, *targets;     /* (n, n_0) REAL or uint8; (n, n_L) REAL */
    const long long *perm;       /* n row indices, or NULL for the data's order */
    Py_ssize_t n, m, layers;
    double eta, lmbda, mu;
} sgd_job;

/* The kernels for one instruction-set level: float and double. */
#define LEVEL base
#include "_sgd_level.h"
#undef LEVEL

/* GCC on x86-64 compiles them twice more, for AVX2 + FMA and for AVX-512, and runs the best
 * level the CPU has (wheels are built for plain x86-64, where the book's loops would run
 * at a quarter of the speed). */
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

static int has_avx2(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

static int has_avx512(void)
{
    return has_avx2() && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
           __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq");
}
#define LEVELS 3
#else
#define LEVELS 1
#endif

static int (*epoch_f32)(const sgd_job *) = epoch_f32_base;
static int (*epoch_f64)(const sgd_job *) = epoch_f64_base;
static const char *level = "base";

static int expect(int ok, const char *what)
{
    if (!ok)
        PyErr_Format(PyExc_ValueError, "nnaccel.fast._sgd.epoch: %s", what);
    return ok;
}

PyDoc_STRVAR(epoch_doc,
"epoch(params, velocity, sizes, acts, quadratic, x, pixels, targets, perm, m, eta, lmbda, mu)\n"
"\n"
"One epoch of mini-batch SGD, updating the flat buffer params = [w1 b1 w2 b2 ...] (and\n"
"velocity, the same layout, when mu > 0) in place. x is (n, sizes[0]) of params' type, or\n"
"uint8 pixels to divide by 255 when pixels is true; targets (n, sizes[-1]); perm int64 row\n"
"order or None; acts one code per layer (s sigmoid, t tanh, r relu, l linear, m softmax).");

static PyObject *epoch(PyObject *self, PyObject *args)
{
    Py_buffer params = {0}, velocity = {0}, x = {0}, targets = {0}, perm = {0};
    PyObject *velocity_obj, *perm_obj, *sizes_obj, *result = NULL;
    const char *acts;
    Py_ssize_t acts_len, m, n = 0, layers = 0, count = 0;
    int quadratic, pixels, status = 0;
    double eta, lmbda, mu;
    Py_ssize_t *sizes = NULL;
    (void)self;

    if (!PyArg_ParseTuple(args, "w*OOs#py*py*Onddd", &params, &velocity_obj, &sizes_obj, &acts, &acts_len,
                          &quadratic, &x, &pixels, &targets, &perm_obj, &m, &eta, &lmbda, &mu))
        return NULL;
    const Py_ssize_t item = params.itemsize;
    PyObject *seq = PySequence_Fast(sizes_obj, "sizes must be a sequence of ints");
    if (!seq)
        goto done;
    layers = PySequence_Fast_GET_SIZE(seq) - 1;
    sizes = PyMem_Malloc(sizeof(Py_ssize_t) * (size_t)(layers + 1));
    if (!sizes) {
        Py_DECREF(seq);
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t l = 0; l <= layers; l++) {
        sizes[l] = PyLong_AsSsize_t(PySequence_Fast_GET_ITEM(seq, l));
        if (sizes[l] == -1 && PyErr_Occurred())
            break;
        if (l)
            count += sizes[l] * sizes[l - 1] + sizes[l];
    }
    Py_DECREF(seq);
    if (PyErr_Occurred())
        goto done;
    int ok = expect(layers >= 1 && acts_len == layers && m >= 1, "need one activation code per layer and m >= 1")
          && expect(item == 4 || item == 8, "params must be float32 or float64")
          && expect(params.len == count * item, "params has the wrong length for sizes");
    for (Py_ssize_t l = 0; ok && l <= layers; l++)
        ok = expect(sizes[l] >= 1, "sizes must be positive");
    for (Py_ssize_t l = 0; ok && l < layers; l++)
        ok = expect(strchr("strlm", acts[l]) != NULL, "activation codes are s, t, r, l and m");
    const Py_ssize_t per_row = sizes[0] * (pixels ? 1 : item);
    if (ok && expect(x.len % per_row == 0, "x does not hold whole rows of sizes[0] values"))
        n = x.len / per_row;
    ok = ok && n > 0 && expect(targets.len == n * sizes[layers] * item, "targets must be (n, sizes[-1]) like params");
    if (ok && mu != 0.0) {
        if (PyObject_GetBuffer(velocity_obj, &velocity, PyBUF_WRITABLE | PyBUF_C_CONTIGUOUS) < 0)
            goto done;
        ok = expect(velocity.len == params.len, "velocity must have params' shape and type");
    }
    if (ok && perm_obj != Py_None) {
        if (PyObject_GetBuffer(perm_obj, &perm, PyBUF_C_CONTIGUOUS) < 0)
            goto done;
        ok = expect(perm.len == n * 8, "perm must hold n int64 row indices");
        const long long *rows = perm.buf;
        for (Py_ssize_t k = 0; ok && k < n; k++)
            ok = expect(rows[k] >= 0 && rows[k] < n, "perm holds a row index outside the data");
    }
    if (!ok)
        goto done;

    Py_BEGIN_ALLOW_THREADS
    sgd_job job = {params.buf, velocity.buf, sizes, acts, quadratic, pixels, x.buf, targets.buf,
                   perm.buf, n, m, layers, eta, lmbda, mu};
    status = item == 4 ? epoch_f32(&job) : epoch_f64(&job);
    Py_END_ALLOW_THREADS
    if (status)
        PyErr_NoMemory();
    else
        result = Py_NewRef(Py_None);
done:
    PyMem_Free(sizes);
    PyBuffer_Release(&params);
    PyBuffer_Release(&x);
    PyBuffer_Release(&targets);
    if (velocity.obj)
        PyBuffer_Release(&velocity);
    if (perm.obj)
        PyBuffer_Release(&perm);
    return result;
}

static PyMethodDef methods[] = {
    {"epoch", epoch, METH_VARARGS, epoch_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "_sgd",
    .m_doc = "One epoch of mini-batch SGD in C (see _sgd.c).",
    .m_size = -1,
    .m_methods = methods,
};

PyMODINIT_FUNC PyInit__sgd(void)
{
#if LEVELS == 3
    /* NNACCEL_CPU_LEVEL=avx2 or base caps the level (for tests, and to compare) */
    const char *cap = getenv("NNACCEL_CPU_LEVEL");
    const int max_level = cap && !strcmp(cap, "base") ? 0 : cap && !strcmp(cap, "avx2") ? 1 : 2;
    if (max_level >= 2 && has_avx512()) {
        epoch_f32 = epoch_f32_avx512, epoch_f64 = epoch_f64_avx512;
        level = "avx512";
    } else if (max_level >= 1 && has_avx2()) {
        epoch_f32 = epoch_f32_avx2, epoch_f64 = epoch_f64_avx2;
        level = "avx2";
    }
#endif
    PyObject *m = PyModule_Create(&module);
    if (m && PyModule_AddStringConstant(m, "level", level) < 0)
        Py_CLEAR(m);
    return m;
}
