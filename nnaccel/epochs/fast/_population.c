/* nnaccel.epochs.fast._population: one epoch of mini-batch SGD for K networks of one shape in C.
 *
 * A population (nnaccel.nets.population) trains many small same-shaped networks on the same
 * mini-batches. This call gathers each mini-batch once and runs every member's step on it
 * with _sgd_kernel.h's layer functions, so member i computes what nnaccel.epochs.fast._sgd would for
 * it alone. Optional like _sgd: without it populations train through the array-API path.
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__GNUC__) || defined(__clang__)
#define INLINE static inline __attribute__((always_inline))
#define PREFETCH(p) __builtin_prefetch(p)
/* _sgd_kernel.h's single-network epochs come along with its layer functions, unused here */
#pragma GCC diagnostic ignored "-Wunused-function"
#else
#define INLINE static inline
#define PREFETCH(p) ((void)0)
#endif

/* _sgd.c's job for one network: _sgd_kernel.h's single-network epoch (unused here) needs it. */
typedef struct {
    void *params, *velocity;
    const Py_ssize_t *sizes;
    const char *acts;
    int quadratic, pixels;
    const void *x, *targets;
    const long long *perm;
    Py_ssize_t n, m, layers;
    double eta, lmbda, mu;
} sgd_job;

/* One epoch's work for K members: params and velocity are K rows of ``stride`` values, each
 * row a flat [w¹ b¹ w² b² …] of float or double; eta, lmbda, mu one per member. */
typedef struct {
    void *params, *velocity;     /* velocity NULL when no member has momentum */
    const Py_ssize_t *sizes;     /* n_0 … n_L */
    const char *acts;            /* one code per layer: s t r l m */
    int quadratic, pixels;       /* multiply δᴸ by f'; inputs are uint8 to divide by 255 */
    const void *x, *targets;     /* (n, n_0) REAL or uint8; (n, n_L) REAL */
    const long long *perm;       /* n row indices, or NULL for the data's order */
    Py_ssize_t n, m, layers, members, stride;
    const double *eta, *lmbda, *mu;
} population_job;

/* The parameter bytes of the members trained side by side (see _population_kernel.h): half
 * the 1 MB L2 cache of a core of the 2-core EPYC, a quarter of the 2 MB of newer Xeons. */
#define GROUP_BYTES (512 * 1024)

#define ENTRY "nnaccel.epochs.fast._population.epoch"
#include "_extension.h"

/* The kernels, once for each instruction-set level (see _levels.h). */
#define LEVEL_HEADER "_population_level.h"
#include "_levels.h"
#undef LEVEL_HEADER

static int (*population_f32)(const population_job *) = population_epoch_f32_base;
static int (*population_f64)(const population_job *) = population_epoch_f64_base;
static const char *level = "base";

PyDoc_STRVAR(epoch_doc,
"epoch(params, velocity, sizes, acts, quadratic, x, pixels, targets, perm, m, eta, lmbda, mu)\n"
"\n"
"One epoch of mini-batch SGD for K networks of one shape, updating params in place: K rows\n"
"(float32 or float64), each a flat [w1 b1 w2 b2 ...] followed by any padding, and velocity\n"
"(the same layout) when some mu > 0, else None. eta, lmbda, mu are K float64 values, one per\n"
"member. x is (n, sizes[0]) of params' type, or uint8 pixels to divide by 255 when pixels is\n"
"true; targets (n, sizes[-1]); perm n int64 row indices or None; acts one code per layer.");

static PyObject *epoch(PyObject *self, PyObject *args)
{
    Py_buffer params = {0}, velocity = {0}, x = {0}, targets = {0}, perm = {0}, eta = {0}, lmbda = {0}, mu = {0};
    PyObject *params_obj, *velocity_obj, *sizes_obj, *x_obj, *targets_obj, *perm_obj, *eta_obj, *lmbda_obj, *mu_obj;
    PyObject *result = NULL;
    const char *acts;
    Py_ssize_t acts_len, m, n = 0, layers = 0, count = 0, members = 0, stride = 0;
    int quadratic, pixels, status = 0, ok = 1, momentum = 0;
    Py_ssize_t *sizes = NULL;
    (void)self;

    if (!PyArg_ParseTuple(args, "OOOs#pOpOOnOOO", &params_obj, &velocity_obj, &sizes_obj, &acts, &acts_len,
                          &quadratic, &x_obj, &pixels, &targets_obj, &perm_obj, &m, &eta_obj, &lmbda_obj, &mu_obj))
        return NULL;
    PyObject *seq = PySequence_Fast(sizes_obj, "sizes must be a sequence of ints");
    if (!seq)
        return NULL;
    layers = PySequence_Fast_GET_SIZE(seq) - 1;
    sizes = layers >= 1 ? PyMem_Malloc(sizeof(Py_ssize_t) * (size_t)(layers + 1)) : NULL;
    ok = expect(layers >= 1, "sizes needs at least two layer sizes") && (sizes || PyErr_NoMemory());
    for (Py_ssize_t l = 0; ok && l <= layers; l++) {
        sizes[l] = PyLong_AsSsize_t(PySequence_Fast_GET_ITEM(seq, l));
        ok = !PyErr_Occurred() && expect(sizes[l] >= 1 && sizes[l] < (1 << 24), "sizes must be positive and below 2**24");
        if (ok && l)
            count += sizes[l] * (sizes[l - 1] + 1);
    }
    Py_DECREF(seq);
    ok = ok && expect(acts_len == layers, "need one activation code per layer");
    for (Py_ssize_t l = 0; ok && l < layers; l++)
        ok = expect(acts[l] != '\0' && strchr("strlm", acts[l]) != NULL, "activation codes are s, t, r, l and m")
          && expect(acts[l] != 'm' || l == layers - 1, "softmax (m) is for the output layer only");
    ok = ok && expect(m >= 1, "need m >= 1");

    ok = ok && get_buffer(eta_obj, &eta, 0, "eta") && get_buffer(lmbda_obj, &lmbda, 0, "lmbda")
          && get_buffer(mu_obj, &mu, 0, "mu");
    ok = ok && expect(format_is(&eta, 'd', 8) && format_is(&lmbda, 'd', 8) && format_is(&mu, 'd', 8),
                      "eta, lmbda and mu must be float64 arrays");
    if (ok)
        members = eta.len / 8;
    ok = ok && expect(members >= 1 && lmbda.len == eta.len && mu.len == eta.len, "eta, lmbda and mu need one value per member");
    for (Py_ssize_t i = 0; ok && i < members; i++) {
        const double e = ((double *)eta.buf)[i], lm = ((double *)lmbda.buf)[i], u = ((double *)mu.buf)[i];
        ok = expect(isfinite(e) && isfinite(lm) && u >= 0 && u < 1, "eta and lmbda must be finite, mu in [0, 1)");
        momentum |= u != 0;
    }

    ok = ok && get_buffer(params_obj, &params, 1, "params");
    const Py_ssize_t item = params.itemsize;
    const char real = item == 4 ? 'f' : 'd';
    ok = ok && expect((item == 4 || item == 8) && format_is(&params, real, item), "params must be float32 or float64")
          && expect(params.len % (members * item) == 0, "params must hold one row per member");
    if (ok)
        stride = params.len / (members * item);
    ok = ok && expect(stride >= count, "params' rows are too short for sizes");
    ok = ok && get_buffer(x_obj, &x, 0, "x")
          && expect(pixels ? format_is(&x, 'B', 1) : format_is(&x, real, item),
                    pixels ? "x must be uint8 pixels when pixels is true" : "x must have params' type")
          && expect(x.ndim == 2 && x.shape[1] == sizes[0], "x must be (n, sizes[0])");
    if (ok)
        n = x.shape[0];
    ok = ok && expect(n > 0, "x holds no rows");
    ok = ok && get_buffer(targets_obj, &targets, 0, "targets")
          && expect(format_is(&targets, real, item) && targets.ndim == 2 && targets.shape[0] == n
                        && targets.shape[1] == sizes[layers], "targets must be (n, sizes[-1]) of params' type");
    if (ok && momentum)
        ok = get_buffer(velocity_obj, &velocity, 1, "velocity (needed when some mu > 0)")
          && expect(format_is(&velocity, real, item) && velocity.len == params.len, "velocity must have params' shape and type")
          && expect(!overlap(&velocity, &params), "velocity and params must not share memory");
    ok = ok && expect(!overlap(&params, &x) && !overlap(&params, &targets) && !overlap(&velocity, &x)
                      && !overlap(&velocity, &targets), "params and velocity must not share memory with the data");
    if (ok && perm_obj != Py_None) {
        ok = get_buffer(perm_obj, &perm, 0, "perm")
          && expect(format_is(&perm, 'q', 8) && perm.len == n * 8, "perm must hold n int64 row indices");
        const long long *r = perm.buf;
        for (Py_ssize_t k = 0; ok && k < n; k++)
            ok = expect(r[k] >= 0 && r[k] < n, "perm holds a row index outside the data");
    }
    m = m < n ? m : n;
    if (!ok)
        goto done;

    Py_BEGIN_ALLOW_THREADS
    population_job job = {params.buf, velocity.obj ? velocity.buf : NULL, sizes, acts, quadratic, pixels, x.buf,
                          targets.buf, perm.obj ? perm.buf : NULL, n, m, layers, members, stride,
                          eta.buf, lmbda.buf, mu.buf};
    status = item == 4 ? population_f32(&job) : population_f64(&job);
    Py_END_ALLOW_THREADS
    if (status)
        PyErr_NoMemory();
    else
        result = Py_NewRef(Py_None);
done:
    PyMem_Free(sizes);
    Py_buffer *views[] = {&params, &velocity, &x, &targets, &perm, &eta, &lmbda, &mu};
    for (size_t i = 0; i < sizeof views / sizeof *views; i++)
        if (views[i]->obj)
            PyBuffer_Release(views[i]);
    return result;
}

static PyMethodDef methods[] = {
    {"epoch", epoch, METH_VARARGS, epoch_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "_population",
    .m_doc = "One epoch of mini-batch SGD for K networks of one shape in C (see _population.c).",
    .m_size = -1,
    .m_methods = methods,
};

PyMODINIT_FUNC PyInit__population(void)
{
    if (portable_level()) {
        population_f32 = population_epoch_f32_portable, population_f64 = population_epoch_f64_portable;
        level = "portable-base";
#if LEVELS == 3
        if (portable_level() == 1 && has_avx2()) {
            population_f32 = population_epoch_f32_portable_avx2, population_f64 = population_epoch_f64_portable_avx2;
            level = "portable-avx2";
        }
#endif
    }
#if LEVELS == 3
    const int best = portable_level() ? -1 : cpu_level();
    if (best == 2) {
        population_f32 = population_epoch_f32_avx512, population_f64 = population_epoch_f64_avx512;
        level = "avx512";
    } else if (best == 1) {
        population_f32 = population_epoch_f32_avx2, population_f64 = population_epoch_f64_avx2;
        level = "avx2";
    }
#endif
    PyObject *mod = PyModule_Create(&module);
    if (mod && PyModule_AddStringConstant(mod, "level", level) < 0)
        Py_CLEAR(mod);
    return mod;
}
