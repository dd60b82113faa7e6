/* What nnaccel's C extensions share: the checks of their entry point's arguments, and which
 * instruction-set level this CPU runs. Define ENTRY, the entry point's name as a string
 * literal, before including: every ValueError starts with it. */

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
