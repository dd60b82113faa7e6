/* nnaccel.epochs.fast._sgd: one epoch of mini-batch SGD in C, for the book's small networks on a CPU.
 *
 * At mini-batch 10 NumPy spends most of a step in per-call overhead (~20 calls of ~1 µs around
 * two products of ~10 µs); this loop makes none. It is an optional extension: where it was not
 * compiled, nnaccel.epochs.fast falls back to the NumPy fast path. The arithmetic is in _sgd_kernel.h,
 * compiled once for float and once for double; on x86-64 each is cloned for AVX-512, AVX2+FMA
 * and plain SSE2, and the loader picks the clone the CPU runs. Those three agree to rounding;
 * NNACCEL_CPU_LEVEL=portable picks a fourth, fixed-order clone (no FMA, sums in fixed lanes,
 * its own e^x rather than libm's) whose numbers are bit-identical on every x86-64 CPU
 * (tests/test_fast.py).
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

#define ENTRY "nnaccel.epochs.fast._sgd.epoch"
#include "_extension.h"

/* The kernels, once for each instruction-set level (see _levels.h). */
#define LEVEL_HEADER "_sgd_level.h"
#include "_levels.h"
#undef LEVEL_HEADER

static int (*epoch_f32)(const sgd_job *) = epoch_f32_base;
static int (*epoch_f64)(const sgd_job *) = epoch_f64_base;
static const char *level = "base";

PyDoc_STRVAR(epoch_doc,
"epoch(params, velocity, sizes, acts, quadratic, x, pixels, targets, perm, m, eta, lmbda, mu)\n"
"\n"
"One epoch of mini-batch SGD, updating the flat buffer params = [w1 b1 w2 b2 ...] (float32 or\n"
"float64) in place, and velocity (the same layout and type, not overlapping params) when mu > 0.\n"
"x is (n, sizes[0]) of params' type, or uint8 pixels to divide by 255 when pixels is true;\n"
"targets (n, sizes[-1]) of params' type; perm n int64 row indices or None; m is clamped to n;\n"
"acts one code per layer (s sigmoid, t tanh, r relu, l linear; m softmax, last layer only).\n"
"Every buffer's type and size is checked: a mismatch raises ValueError.");

static PyObject *epoch(PyObject *self, PyObject *args)
{
    Py_buffer params = {0}, velocity = {0}, x = {0}, targets = {0}, perm = {0};
    PyObject *params_obj, *velocity_obj, *sizes_obj, *x_obj, *targets_obj, *perm_obj, *result = NULL;
    const char *acts;
    Py_ssize_t acts_len, m, n = 0, layers = 0, count = 0, widest = 0, work = 0;
    int quadratic, pixels, status = 0, ok = 0;
    double eta, lmbda, mu;
    Py_ssize_t *sizes = NULL;
    (void)self;

    if (!PyArg_ParseTuple(args, "OOOs#pOpOOnddd", &params_obj, &velocity_obj, &sizes_obj, &acts, &acts_len,
                          &quadratic, &x_obj, &pixels, &targets_obj, &perm_obj, &m, &eta, &lmbda, &mu))
        return NULL;

    /* sizes: at least two positive numbers, validated before any is read */
    PyObject *seq = PySequence_Fast(sizes_obj, "sizes must be a sequence of ints");
    if (!seq)
        return NULL;
    layers = PySequence_Fast_GET_SIZE(seq) - 1;
    if (!expect(layers >= 1, "sizes needs at least two layer sizes (inputs and outputs)")) {
        Py_DECREF(seq);
        return NULL;
    }
    sizes = PyMem_Malloc(sizeof(Py_ssize_t) * (size_t)(layers + 1));
    if (!sizes) {
        Py_DECREF(seq);
        return PyErr_NoMemory();
    }
    ok = 1;
    for (Py_ssize_t l = 0; ok && l <= layers; l++) {
        sizes[l] = PyLong_AsSsize_t(PySequence_Fast_GET_ITEM(seq, l));
        ok = !PyErr_Occurred() && expect(sizes[l] >= 1, "sizes must be positive");
        widest = ok && sizes[l] > widest ? sizes[l] : widest;
    }
    Py_DECREF(seq);
    for (Py_ssize_t l = 1; ok && l <= layers; l++) /* every weight and bias, checked for overflow */
        ok = expect(mul_add(sizes[l], sizes[l - 1] + 1, count, &count), "sizes overflow: the network is too large");

    /* activation codes: one per layer, no NUL, softmax only at the output */
    ok = ok && expect(acts_len == layers, "need one activation code per layer");
    for (Py_ssize_t l = 0; ok && l < layers; l++)
        ok = expect(acts[l] != '\0' && strchr("strlm", acts[l]) != NULL, "activation codes are s, t, r, l and m")
          && expect(acts[l] != 'm' || l == layers - 1, "softmax (m) is for the output layer only");
    ok = ok && expect(!(quadratic && acts[layers - 1] == 'm'), "the quadratic cost does not go with softmax");
    ok = ok && expect(m >= 1, "need m >= 1");

    /* buffers: C-contiguous, of the right type and size */
    ok = ok && get_buffer(params_obj, &params, 1, "params");
    const Py_ssize_t item = params.itemsize;
    const char real = item == 4 ? 'f' : 'd';
    ok = ok && expect((item == 4 || item == 8) && format_is(&params, real, item), "params must be float32 or float64")
          && expect(params.len == count * item, "params has the wrong length for sizes");
    ok = ok && get_buffer(x_obj, &x, 0, "x")
          && expect(pixels ? format_is(&x, 'B', 1) : format_is(&x, real, item),
                    pixels ? "x must be uint8 pixels when pixels is true" : "x must have params' type (float32 or float64)")
          && expect(x.ndim == 2 && x.shape[1] == sizes[0], "x must hold whole rows of sizes[0] values: shape (n, sizes[0])");
    if (ok)
        n = x.shape[0];
    ok = ok && expect(n > 0, "x holds no rows");
    ok = ok && get_buffer(targets_obj, &targets, 0, "targets")
          && expect(format_is(&targets, real, item), "targets must have params' type (float32 or float64)")
          && expect(targets.ndim == 2 && targets.shape[0] == n && targets.shape[1] == sizes[layers],
                    "targets must be (n, sizes[-1]) like params");
    if (ok && mu != 0.0)
        ok = get_buffer(velocity_obj, &velocity, 1, "velocity (needed when mu > 0)")
          && expect(format_is(&velocity, real, item) && velocity.len == params.len,
                    "velocity must have params' shape and type")
          && expect(!overlap(&velocity, &params), "velocity and params must not share memory");
    ok = ok && expect(!overlap(&params, &x) && !overlap(&params, &targets) && !overlap(&velocity, &x)
                      && !overlap(&velocity, &targets), "params and velocity must not share memory with the data");
    if (ok && perm_obj != Py_None) {
        ok = get_buffer(perm_obj, &perm, 0, "perm")
          && expect(format_is(&perm, 'q', 8) && perm.len == n * 8, "perm must hold n int64 row indices");
        const long long *rows = perm.buf;
        for (Py_ssize_t k = 0; ok && k < n; k++)
            ok = expect(rows[k] >= 0 && rows[k] < n, "perm holds a row index outside the data");
    }

    /* a mini-batch larger than the data is the whole data: the workspace is sized by m */
    m = m < n ? m : n;
    Py_ssize_t acts_total = 0;
    for (Py_ssize_t l = 1; ok && l <= layers; l++)
        ok = expect(mul_add(m, sizes[l], acts_total, &acts_total), "the mini-batch buffers would overflow");
    ok = ok && expect(mul_add(2, acts_total, 0, &work) && mul_add(m, sizes[0] + widest, work, &work)
                      && mul_add(2, widest, work, &work) && mul_add(work, item, 64, &work)
                      && mul_add(m, layers + 1, 0, &acts_total), "the mini-batch buffers would overflow");
    if (!ok)
        goto done;

    Py_BEGIN_ALLOW_THREADS
    sgd_job job = {params.buf, velocity.obj ? velocity.buf : NULL, sizes, acts, quadratic, pixels, x.buf,
                   targets.buf, perm.obj ? perm.buf : NULL, n, m, layers, eta, lmbda, mu};
    status = item == 4 ? epoch_f32(&job) : epoch_f64(&job);
    Py_END_ALLOW_THREADS
    if (status)
        PyErr_NoMemory();
    else
        result = Py_NewRef(Py_None);
done:
    PyMem_Free(sizes);
    if (params.obj)
        PyBuffer_Release(&params);
    if (x.obj)
        PyBuffer_Release(&x);
    if (targets.obj)
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
    if (portable_level()) {
        epoch_f32 = epoch_f32_portable, epoch_f64 = epoch_f64_portable;
        level = "portable-base";
#if LEVELS == 3
        if (portable_level() == 1 && has_avx2()) {
            epoch_f32 = epoch_f32_portable_avx2, epoch_f64 = epoch_f64_portable_avx2;
            level = "portable-avx2";
        }
#endif
    }
#if LEVELS == 3
    const int best = portable_level() ? -1 : cpu_level();
    if (best == 2) {
        epoch_f32 = epoch_f32_avx512, epoch_f64 = epoch_f64_avx512;
        level = "avx512";
    } else if (best == 1) {
        epoch_f32 = epoch_f32_avx2, epoch_f64 = epoch_f64_avx2;
        level = "avx2";
    }
#endif
    PyObject *m = PyModule_Create(&module);
    if (m && PyModule_AddStringConstant(m, "level", level) < 0)
        Py_CLEAR(m);
    return m;
}
