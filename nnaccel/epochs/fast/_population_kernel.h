/* One epoch of mini-batch SGD for K networks of one shape, for one floating type: included by
 * _population_level.h after _sgd_kernel.h, whose per-layer pieces (forward, activate, back,
 * times_prime, update) it reuses, so each member computes exactly what _sgd's epoch would.
 *
 * What is shared: each mini-batch is gathered (and its uint8 pixels converted) once, then the
 * feedforward, BP1–BP4 and update of every member of a group run on it in turn, through one
 * workspace. Members are independent otherwise: their own parameters, velocity, η, λ and μ.
 * Groups: the members whose parameters fit in GROUP_BYTES together go through the epoch side
 * by side, and the next group after them, so that each member's weights stay in the core's
 * L2 cache from one mini-batch to the next as a single network's do (64 members of
 * [784,30,10] in float32 hold 6 MB; cycled through at every batch they came from L3).
 */

static int NAME(population_epoch)(const population_job *job)
{
    const Py_ssize_t L = job->layers, m = job->m, K = job->members, *sizes = job->sizes, n0 = sizes[0];
    const REAL *const targets = job->targets;
    Py_ssize_t widest = 0, acts_total = 0;
    for (Py_ssize_t l = 0; l <= L; l++)
        widest = sizes[l] > widest ? sizes[l] : widest;
    for (Py_ssize_t l = 1; l <= L; l++)
        acts_total += m * sizes[l];

    /* a[l] and d[l] hold layer l's activations and δ for a batch (l = 1 … L), for the member
     * being trained; xbuf the batch's inputs, shared by all members */
    char *block = PyMem_RawMalloc(sizeof(REAL) * (size_t)(2 * acts_total + m * n0 + m * widest + 2 * widest) + 64);
    REAL **a = PyMem_RawMalloc(sizeof(REAL *) * (size_t)(L + 1)), **d = PyMem_RawMalloc(sizeof(REAL *) * (size_t)(L + 1));
    REAL **wl = PyMem_RawMalloc(sizeof(REAL *) * (size_t)(2 * L * K)), **vl = PyMem_RawMalloc(sizeof(REAL *) * (size_t)(2 * L * K));
    const REAL **rows = PyMem_RawMalloc(sizeof(REAL *) * (size_t)(m * (L + 1)));
    if (!block || !a || !d || !wl || !vl || !rows) {
        PyMem_RawFree(block), PyMem_RawFree(a), PyMem_RawFree(d), PyMem_RawFree(wl), PyMem_RawFree(vl), PyMem_RawFree(rows);
        return -1;
    }
    REAL *xbuf = (REAL *)(block + (64 - (uintptr_t)block % 64) % 64), *p = xbuf + m * n0;
    for (Py_ssize_t l = 1; l <= L; l++) {
        a[l] = p, p += m * sizes[l];
        d[l] = p, p += m * sizes[l];
    }
    REAL *coef = p;
    for (Py_ssize_t i = 0; i < K; i++) { /* member i: wl[2lK…] = wˡ⁺¹, bˡ⁺¹ in its row of params */
        REAL *params = (REAL *)job->params + i * job->stride;
        REAL *velocity = job->velocity ? (REAL *)job->velocity + i * job->stride : NULL;
        REAL **w = wl + 2 * L * i, **v = vl + 2 * L * i;
        Py_ssize_t offset = 0;
        for (Py_ssize_t l = 0; l < L; l++) {
            w[2 * l] = params + offset;
            v[2 * l] = velocity ? velocity + offset : NULL;
            offset += sizes[l + 1] * sizes[l];
            w[2 * l + 1] = params + offset;
            v[2 * l + 1] = velocity ? velocity + offset : NULL;
            offset += sizes[l + 1];
        }
    }
    for (Py_ssize_t e = 0; e < m; e++) /* the batch's inputs, then hidden activations, as rows */
        rows[e] = xbuf + e * n0;
    for (Py_ssize_t l = 1; l < L; l++)
        for (Py_ssize_t e = 0; e < m; e++)
            rows[l * m + e] = a[l] + e * sizes[l];

    const Py_ssize_t row_bytes = n0 * (job->pixels ? 1 : (Py_ssize_t)sizeof(REAL));
    Py_ssize_t count = 0;
    for (Py_ssize_t l = 1; l <= L; l++)
        count += sizes[l] * (sizes[l - 1] + 1);
    const Py_ssize_t per_member = count * (Py_ssize_t)sizeof(REAL) * (job->velocity ? 2 : 1);
    const Py_ssize_t group = per_member >= GROUP_BYTES ? 1 : GROUP_BYTES / per_member;
    for (Py_ssize_t g0 = 0; g0 < K; g0 += group) {
        const Py_ssize_t g1 = g0 + group < K ? g0 + group : K;
        for (Py_ssize_t k = 0; k < job->n; k += m) {
            const Py_ssize_t mb = k + m <= job->n ? m : job->n - k;
            for (Py_ssize_t e = 0; e < m && k + m + e < job->n; e++) { /* the next batch's rows: fetch them now */
                const Py_ssize_t r = job->perm ? (Py_ssize_t)job->perm[k + m + e] : k + m + e;
                const char *row = (const char *)job->x + r * row_bytes;
                for (Py_ssize_t byte = 0; byte < row_bytes; byte += 64)
                    PREFETCH(row + byte);
            }
            for (Py_ssize_t e = 0; e < mb; e++) { /* the batch's inputs, gathered by the permutation: once for the group */
                const Py_ssize_t r = job->perm ? (Py_ssize_t)job->perm[k + e] : k + e;
                REAL *dst = xbuf + e * n0;
                if (job->pixels) {
                    const unsigned char *px = (const unsigned char *)job->x + r * n0;
                    for (Py_ssize_t i = 0; i < n0; i++)
                        dst[i] = (REAL)px[i] / (REAL)255;
                } else {
                    memcpy(dst, (const REAL *)job->x + r * n0, sizeof(REAL) * (size_t)n0);
                }
            }
            for (Py_ssize_t i = g0; i < g1; i++) {
                /* the member's step with its own η, λ, μ (_sgd_kernel.h) */
                NAME(step)(wl + 2 * L * i, vl + 2 * L * i, sizes, L, job->acts, job->quadratic, rows, m, mb, a, d,
                           targets, job->perm, k, job->eta[i], job->lmbda[i], (double)job->n, job->mu[i], coef);
            }
        }
    }
    PyMem_RawFree(block), PyMem_RawFree(a), PyMem_RawFree(d), PyMem_RawFree(wl), PyMem_RawFree(vl), PyMem_RawFree(rows);
    return 0;
}
