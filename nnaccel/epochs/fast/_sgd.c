/* nnaccel.epochs.fast._sgd: one epoch of mini-batch SGD in C for K networks of one shape, on a CPU.
 *
 * One network is the case K = 1 (c_epoch.py); a population (population_c.py) passes its K
 * members, which share each gathered mini-batch. At mini-batch 10 NumPy spends most of a step
 * in per-call overhead (~20 calls of ~1 µs around two products of ~10 µs); this loop makes
 * none. It is an optional extension: where it was not compiled, nnaccel.epochs.fast falls back
 * to the NumPy fast path and populations to the array-API path. The arithmetic is in
 * _sgd_kernel.h, compiled once for float and once for double; on x86-64 each is cloned for
 * AVX-512, AVX2+FMA and plain SSE2, and the loader picks the clone the CPU runs. Those three
 * agree to rounding; NNACCEL_CPU_LEVEL=portable picks a fourth, fixed-order clone (no FMA,
 * sums in fixed lanes, its own e^x rather than libm's) whose numbers are bit-identical on
 * every x86-64 CPU (tests/epochs/test_fast.py).
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
} sgd_job;

/* The parameter bytes of the members trained side by side (see the epoch in _sgd_kernel.h):
 * half the 1 MB L2 cache of a core of the 2-core EPYC, a quarter of the 2 MB of newer Xeons. */
#define GROUP_BYTES (512 * 1024)

#define ENTRY "nnaccel.epochs.fast._sgd.epoch"

/* The checks' pieces: every ValueError starts with ENTRY and says what was expected. */
static int expect(int ok, const char *what)
{
    if (!ok && !PyErr_Occurred())
        PyErr_Format(PyExc_ValueError, ENTRY ": %s", what);
    return ok;
}

/* *out = a·b + c, or 0 when that overflows Py_ssize_t (all three are ≥ 0). */
static int mul_add(Py_ssize_t a, Py_ssize_t b, Py_ssize_t c, Py_ssize_t *out)
{
    if (a < 0 || b < 0 || c < 0 || (b && a > (PY_SSIZE_T_MAX - c) / b))
        return 0;
    *out = a * b + c;
    return 1;
}

/* Whether a buffer's struct format is one item of the type code ``code`` ("f", "d", "B", "q"),
 * allowing the native byte-order prefixes NumPy may write. */
static int format_is(const Py_buffer *b, char code, Py_ssize_t itemsize)
{
    const char *f = b->format ? b->format : "B";
    if (*f == '@' || *f == '=' || *f == '<')
        f++;
    if (b->itemsize != itemsize || f[0] == '\0' || f[1] != '\0')
        return 0;
    if (code == 'q') /* int64: 'q', or 'l' where long is 64 bits */
        return f[0] == 'q' || (f[0] == 'l' && sizeof(long) == 8);
    return f[0] == code;
}

static int overlap(const Py_buffer *a, const Py_buffer *b)
{
    const char *a0 = a->buf, *b0 = b->buf;
    return a->obj && b->obj && a->len && b->len && a0 < b0 + b->len && b0 < a0 + a->len;
}

/* A C-contiguous buffer of obj with its format, or 0 with a ValueError naming ``what``. */
static int get_buffer(PyObject *obj, Py_buffer *view, int writable, const char *what)
{
    if (PyObject_GetBuffer(obj, view, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | (writable ? PyBUF_WRITABLE : 0)) == 0)
        return 1;
    PyErr_Clear();
    view->obj = NULL;
    PyErr_Format(PyExc_ValueError, ENTRY ": %s must be a C-contiguous%s array", what,
                 writable ? " writable" : "");
    return 0;
}

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
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

/* The best fast level this CPU runs, 2 AVX-512, 1 AVX2 + FMA, 0 plain x86-64, capped by
 * NNACCEL_CPU_LEVEL=avx2 or base (for tests, and to compare). */
static int cpu_level(void)
{
    const char *cap = getenv("NNACCEL_CPU_LEVEL");
    const int max_level = cap && !strcmp(cap, "base") ? 0 : cap && !strcmp(cap, "avx2") ? 1 : 2;
    return max_level >= 2 && has_avx512() ? 2 : max_level >= 1 && has_avx2() ? 1 : 0;
}
#endif

/* NNACCEL_CPU_LEVEL=portable: the fixed-order kernels (FIXED_ORDER in _sgd_kernel.h), whose
 * numbers are the same on every x86-64 CPU; 1 for "portable" (on AVX2 where the CPU has it),
 * 2 for "portable-base" (on SSE2 only: to compare), else 0. */
static int portable_level(void)
{
    const char *cap = getenv("NNACCEL_CPU_LEVEL");
    return !cap ? 0 : !strcmp(cap, "portable") ? 1 : !strcmp(cap, "portable-base") ? 2 : 0;
}

/* The kernels, once for each instruction-set level (see _levels.h). */
#include "_levels.h"

static int (*epoch_f32)(const sgd_job *) = epoch_f32_base;
static int (*epoch_f64)(const sgd_job *) = epoch_f64_base;
static const char *level = "base";

PyDoc_STRVAR(epoch_doc,
"epoch(params, velocity, sizes, acts, quadratic, x, pixels, targets, perm, m, eta, lmbda, mu)\n"
"\n"
"One epoch of mini-batch SGD for K networks of one shape (one network: K = 1), updating params\n"
"in place: K rows (float32 or float64), each a flat [w1 b1 w2 b2 ...] followed by any padding,\n"
"and velocity (the same layout and type, not overlapping params) when some mu > 0, else None.\n"
"eta, lmbda, mu are K float64 values, one per member: their length is K. x is (n, sizes[0]) of\n"
"params' type, or uint8 pixels to divide by 255 when pixels is true; targets (n, sizes[-1]) of\n"
"params' type; perm n int64 row indices or None; m is clamped to n; acts one code per layer\n"
"(s sigmoid, t tanh, r relu, l linear; m softmax, last layer only, not with the quadratic cost).\n"
"Every argument's type and size is checked: a mismatch raises ValueError.");

static PyObject *epoch(PyObject *self, PyObject *args)
{
    Py_buffer params = {0}, velocity = {0}, x = {0}, targets = {0}, perm = {0}, eta = {0}, lmbda = {0}, mu = {0};
    PyObject *params_obj, *velocity_obj, *sizes_obj, *x_obj, *targets_obj, *perm_obj, *eta_obj, *lmbda_obj, *mu_obj;
    PyObject *result = NULL;
    const char *acts;
    Py_ssize_t acts_len, m, n = 0, layers = 0, count = 0, widest = 0, work = 0, members = 0, stride = 0;
    int quadratic, pixels, status = 0, ok = 0, momentum = 0;
    Py_ssize_t *sizes = NULL;
    (void)self;

    if (!PyArg_ParseTuple(args, "OOOs#pOpOOnOOO", &params_obj, &velocity_obj, &sizes_obj, &acts, &acts_len,
                          &quadratic, &x_obj, &pixels, &targets_obj, &perm_obj, &m, &eta_obj, &lmbda_obj, &mu_obj))
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

    /* activation codes: one per layer, no NUL, softmax only at the output and not with the quadratic cost */
    ok = ok && expect(acts_len == layers, "need one activation code per layer");
    for (Py_ssize_t l = 0; ok && l < layers; l++)
        ok = expect(acts[l] != '\0' && strchr("strlm", acts[l]) != NULL, "activation codes are s, t, r, l and m")
          && expect(acts[l] != 'm' || l == layers - 1, "softmax (m) is for the output layer only");
    ok = ok && expect(!(quadratic && acts[layers - 1] == 'm'), "the quadratic cost does not go with softmax");
    ok = ok && expect(m >= 1, "need m >= 1");

    /* one η, λ and μ per member: their length is K */
    ok = ok && get_buffer(eta_obj, &eta, 0, "eta") && get_buffer(lmbda_obj, &lmbda, 0, "lmbda")
          && get_buffer(mu_obj, &mu, 0, "mu");
    ok = ok && expect(format_is(&eta, 'd', 8) && format_is(&lmbda, 'd', 8) && format_is(&mu, 'd', 8),
                      "eta, lmbda and mu must be float64 arrays");
    if (ok)
        members = eta.len / 8;
    ok = ok && expect(members >= 1 && lmbda.len == eta.len && mu.len == eta.len,
                      "eta, lmbda and mu need one value per member");
    for (Py_ssize_t i = 0; ok && i < members; i++) {
        const double e = ((double *)eta.buf)[i], lm = ((double *)lmbda.buf)[i], u = ((double *)mu.buf)[i];
        ok = expect(isfinite(e) && isfinite(lm) && u >= 0 && u < 1, "eta and lmbda must be finite, mu in [0, 1)");
        momentum |= u != 0;
    }

    /* buffers: C-contiguous, of the right type and size */
    ok = ok && get_buffer(params_obj, &params, 1, "params");
    const Py_ssize_t item = params.itemsize;
    const char real = item == 4 ? 'f' : 'd';
    ok = ok && expect((item == 4 || item == 8) && format_is(&params, real, item), "params must be float32 or float64");
    if (ok)
        stride = params.len / (members * item);
    ok = ok && expect(params.len == members * stride * item && stride >= count,
                      "params has the wrong length for sizes: one row per member (len(eta) rows), each of at "
                      "least the network's weights and biases");
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
    if (ok && momentum)
        ok = get_buffer(velocity_obj, &velocity, 1, "velocity (needed when some mu > 0)")
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
    Py_ssize_t acts_total = 0, pointers = 0;
    for (Py_ssize_t l = 1; ok && l <= layers; l++)
        ok = expect(mul_add(m, sizes[l], acts_total, &acts_total), "the mini-batch buffers would overflow");
    ok = ok && expect(mul_add(2, acts_total, 0, &work) && mul_add(m, sizes[0] + widest, work, &work)
                      && mul_add(2, widest, work, &work) && mul_add(work, item, 64, &work)
                      && mul_add(m, layers + 1, 0, &pointers) && mul_add(2 * layers, members, 0, &pointers),
                      "the mini-batch buffers would overflow");
    if (!ok)
        goto done;

    Py_BEGIN_ALLOW_THREADS
    sgd_job job = {params.buf, velocity.obj ? velocity.buf : NULL, sizes, acts, quadratic, pixels, x.buf,
                   targets.buf, perm.obj ? perm.buf : NULL, n, m, layers, members, stride,
                   eta.buf, lmbda.buf, mu.buf};
    status = item == 4 ? epoch_f32(&job) : epoch_f64(&job);
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
    .m_name = "_sgd",
    .m_doc = "One epoch of mini-batch SGD for K networks of one shape in C (see _sgd.c).",
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
