/* One epoch of mini-batch SGD for K networks of one shape and one floating type, included
 * twice per instruction-set level by _sgd_level.h: REAL is float or double, NAME(x) appends
 * the type's and the level's suffix.
 *
 * The formulas are network.backprop's and optimizers.sgd_update's, over the whole
 * mini-batch: for each layer z = w·a + b, a = f(z); BP1 δᴸ = (aᴸ − y) [⊙ f'(zᴸ) for the
 * quadratic cost]; BP2 δˡ = (wˡ⁺¹ᵀ δˡ⁺¹) ⊙ f'(zˡ); BP3/BP4 ∂C/∂b = Σδ, ∂C/∂w = Σ δ aᵀ; then
 * w → (1 − ηλ/n)w − (η/m)Σ δ aᵀ, b → b − (η/m)Σδ, or with momentum v → μv − η∇C, w → w + v.
 * f' is written from a = f(z): σ' = a(1 − a), tanh' = 1 − a², relu' = [a > 0].
 */

#ifdef FIXED_ORDER
/* LANES values of REAL in one 32-byte vector: a GCC/Clang generic vector, which each level
 * splits into the registers it has (elsewhere an array of the same lanes); madd adds p·q lane
 * by lane, read from any address; hsum sums the lanes in a fixed pairwise order. */
#define VBYTES 32
#define LANES ((Py_ssize_t)(VBYTES / sizeof(REAL)))
#if defined(__GNUC__) || defined(__clang__)
typedef REAL NAME(vec) __attribute__((vector_size(VBYTES)));

INLINE void NAME(madd)(NAME(vec) *acc, const REAL *p, const REAL *q)
{
    NAME(vec) x, y;
    memcpy(&x, p, sizeof x);
    memcpy(&y, q, sizeof y);
    *acc += x * y;
}
#else
typedef struct { REAL lane[VBYTES / sizeof(REAL)]; } NAME(vec);

INLINE void NAME(madd)(NAME(vec) *acc, const REAL *p, const REAL *q)
{
    for (Py_ssize_t i = 0; i < LANES; i++)
        acc->lane[i] += p[i] * q[i];
}
#endif

INLINE REAL NAME(hsum)(const NAME(vec) *v)
{
    REAL x[VBYTES / sizeof(REAL)];
    memcpy(x, v, sizeof x);
    for (Py_ssize_t half = LANES / 2; half; half /= 2)
        for (Py_ssize_t i = 0; i < half; i++)
            x[i] += x[i + half];
    return x[0];
}

/* e^x from + − × ÷ and an exact scaling alone: libm's exp differs in the last bit between
 * library versions and between its FMA and plain builds (glibc picks one by CPU), so the
 * portable level computes its own, in double: Taylor to r¹³/13! for double (the rest < 1e-17),
 * to r⁸/8! for float (< 3e-10, below float's rounding), each in the same order everywhere. */
INLINE double NAME(fixed_exp)(double x)
{
    if (x != x || x > 709.78)
        return x + x; /* NaN, or +inf */
    if (x < -745.2)
        return 0;
    const double ln2_hi = 6.93147180369123816490e-01, ln2_lo = 1.90821492927058770002e-10;
    const long long k = (long long)(x * 1.44269504088896338700 + (x < 0 ? -0.5 : 0.5));
    const double r = (x - (double)k * ln2_hi) - (double)k * ln2_lo; /* x = k·ln 2 + r, |r| ≤ ln 2 / 2 */
    static const double c[14] = {1.0 / 6227020800.0, 1.0 / 479001600.0, 1.0 / 39916800.0, 1.0 / 3628800.0,
                                 1.0 / 362880.0, 1.0 / 40320.0, 1.0 / 5040.0, 1.0 / 720.0, 1.0 / 120.0,
                                 1.0 / 24.0, 1.0 / 6.0, 0.5, 1.0, 1.0};
    const int first = sizeof(REAL) == 4 ? 5 : 0;
    double p = c[first];
    for (int i = first + 1; i < 14; i++)
        p = p * r + c[i];
    /* × 2^k, built from its bits (exact); below 2^−1000 in two steps, rounded once */
    long long e = k;
    if (e > 1023) { /* e^709.4… and above: 2^1024 is not a double */
        p *= 2;
        e -= 1;
    }
    if (e < -1000) {
        const uint64_t low = (uint64_t)(1023 - 600) << 52;
        double s;
        memcpy(&s, &low, sizeof s);
        p *= s;
        e += 600;
    }
    const uint64_t bits = (uint64_t)(e + 1023) << 52;
    double scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

/* tanh(x) = sign(x)·(1 − e^−2|x|)/(1 + e^−2|x|), on fixed_exp. */
INLINE double NAME(fixed_tanh)(double x)
{
    const double t = NAME(fixed_exp)(-2.0 * (x < 0 ? -x : x)), y = (1.0 - t) / (1.0 + t);
    return x < 0 ? -y : x > 0 ? y : x;
}
#define KEXP(x) ((REAL)NAME(fixed_exp)((double)(x)))
#define KTANH(x) ((REAL)NAME(fixed_tanh)((double)(x)))

/* s[r·E + c] = w_r·a_c for J rows of w (n apart) and E inputs, J·E ≤ 8: up to eight independent
 * sums keep both vector units busy (one sum would wait on its own latency at every step), and
 * each value loaded serves several sums. J and E are constants where this is inlined.
 * FIXED_ORDER (the "portable" level): each sum has LANES partial sums, one per position modulo
 * LANES, added pairwise at the end and then the scalar tail, with no FMA (fp-contract=off) and
 * its own e^x: the same operations in the same order whatever the CPU's vector width (a 32-byte
 * vector is one AVX2 register or two SSE ones), so a seed gives bit-identical numbers on any x86-64. */
INLINE void NAME(dots)(const int J, const int E, const REAL *w, const REAL *const *a, Py_ssize_t n, REAL *s)
{
#define W(k) (w + ((k) / E) * n)
#define A(k) (a[(k) % E])
    const REAL *w0 = W(0), *w1 = W(1), *w2 = W(2), *w3 = W(3), *w4 = W(4), *w5 = W(5), *w6 = W(6), *w7 = W(7);
    const REAL *a0 = A(0), *a1 = A(1), *a2 = A(2), *a3 = A(3), *a4 = A(4), *a5 = A(5), *a6 = A(6), *a7 = A(7);
#undef W
#undef A
    const int K = J * E;
    NAME(vec) v[8];
    memset(v, 0, sizeof v);
    Py_ssize_t i = 0;
    for (; i + LANES <= n; i += LANES) {
        NAME(madd)(&v[0], w0 + i, a0 + i);
        if (K > 1) NAME(madd)(&v[1], w1 + i, a1 + i);
        if (K > 2) NAME(madd)(&v[2], w2 + i, a2 + i);
        if (K > 3) NAME(madd)(&v[3], w3 + i, a3 + i);
        if (K > 4) NAME(madd)(&v[4], w4 + i, a4 + i);
        if (K > 5) NAME(madd)(&v[5], w5 + i, a5 + i);
        if (K > 6) NAME(madd)(&v[6], w6 + i, a6 + i);
        if (K > 7) NAME(madd)(&v[7], w7 + i, a7 + i);
    }
    REAL t0 = 0, t1 = 0, t2 = 0, t3 = 0, t4 = 0, t5 = 0, t6 = 0, t7 = 0;
    for (; i < n; i++) { /* the tail, in order */
        t0 += w0[i] * a0[i];
        if (K > 1) t1 += w1[i] * a1[i];
        if (K > 2) t2 += w2[i] * a2[i];
        if (K > 3) t3 += w3[i] * a3[i];
        if (K > 4) t4 += w4[i] * a4[i];
        if (K > 5) t5 += w5[i] * a5[i];
        if (K > 6) t6 += w6[i] * a6[i];
        if (K > 7) t7 += w7[i] * a7[i];
    }
    const REAL t[8] = {t0, t1, t2, t3, t4, t5, t6, t7};
    for (int k = 0; k < 8; k++)
        s[k] = k < K ? NAME(hsum)(&v[k]) + t[k] : 0;
}

#else
#define KEXP(x) EXP(x)
#define KTANH(x) TANH(x)
/* s[r·E + c] = w_r·a_c for J rows of w (n apart) and E inputs, J·E ≤ 8: up to eight independent
 * sums keep both FMA units busy (one sum would wait on its own latency at every step), and
 * each value loaded serves several sums. J and E are constants where this is inlined. The
 * vector width (and FMA) of each level sets the order of the additions: levels agree to rounding. */
INLINE void NAME(dots)(const int J, const int E, const REAL *w, const REAL *const *a, Py_ssize_t n, REAL *s)
{
#define W(k) (w + ((k) / E) * n)
#define A(k) (a[(k) % E])
    const REAL *w0 = W(0), *w1 = W(1), *w2 = W(2), *w3 = W(3), *w4 = W(4), *w5 = W(5), *w6 = W(6), *w7 = W(7);
    const REAL *a0 = A(0), *a1 = A(1), *a2 = A(2), *a3 = A(3), *a4 = A(4), *a5 = A(5), *a6 = A(6), *a7 = A(7);
#undef W
#undef A
    const int K = J * E;
    REAL s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0, s6 = 0, s7 = 0;
#pragma omp simd reduction(+ : s0, s1, s2, s3, s4, s5, s6, s7)
    for (Py_ssize_t i = 0; i < n; i++) {
        s0 += w0[i] * a0[i];
        if (K > 1) s1 += w1[i] * a1[i];
        if (K > 2) s2 += w2[i] * a2[i];
        if (K > 3) s3 += w3[i] * a3[i];
        if (K > 4) s4 += w4[i] * a4[i];
        if (K > 5) s5 += w5[i] * a5[i];
        if (K > 6) s6 += w6[i] * a6[i];
        if (K > 7) s7 += w7[i] * a7[i];
    }
    s[0] = s0, s[1] = s1, s[2] = s2, s[3] = s3, s[4] = s4, s[5] = s5, s[6] = s6, s[7] = s7;
}

#endif

/* zₑ[j] = b[j] + w_j·inₑ for every row j and E examples, in blocks of J rows. */
INLINE void NAME(forward_block)(const int J, const int E, const REAL *w, const REAL *b, Py_ssize_t n_out,
                                Py_ssize_t n_in, const REAL *const *in, REAL *out)
{
    REAL s[8];
    Py_ssize_t j = 0;
    for (; j + J <= n_out; j += J) {
        NAME(dots)(J, E, w + j * n_in, in, n_in, s);
        for (int r = 0; r < J; r++)
            for (int c = 0; c < E; c++)
                out[c * n_out + j + r] = b[j + r] + s[r * E + c];
    }
    for (; j < n_out; j++) { /* the rows left over */
        NAME(dots)(1, E, w + j * n_in, in, n_in, s);
        for (int c = 0; c < E; c++)
            out[c * n_out + j] = b[j] + s[c];
    }
}

/* zₑ = b + w·inₑ for the mb examples of a batch (out is mb × n_out, the layer's z). */
INLINE void NAME(forward)(const REAL *w, const REAL *b, Py_ssize_t n_out, Py_ssize_t n_in,
                          const REAL *const *in, Py_ssize_t mb, REAL *out)
{
    Py_ssize_t e = 0;
    for (; e + 4 <= mb; e += 4)
        NAME(forward_block)(2, 4, w, b, n_out, n_in, in + e, out + e * n_out);
    if (mb - e == 3)
        NAME(forward_block)(2, 3, w, b, n_out, n_in, in + e, out + e * n_out);
    else if (mb - e == 2)
        NAME(forward_block)(4, 2, w, b, n_out, n_in, in + e, out + e * n_out);
    else if (mb - e == 1)
        NAME(forward_block)(8, 1, w, b, n_out, n_in, in + e, out + e * n_out);
}

/* a = f(z) in place, row by row (softmax needs the row). */
INLINE void NAME(activate)(char act, REAL *z, Py_ssize_t mb, Py_ssize_t n)
{
    Py_ssize_t total = mb * n;
    switch (act) {
    case 's': /* σ(z) = 1/(1 + e^−z), 0 below the smallest normal number: activations.py's tanh
               * form gives 0 there too, and a subnormal σ would slow every product it enters.
               * (e^−z is +inf for very negative z, and 1/inf is 0.) The exp form: libm's tanh
               * took a fifth of an epoch of [784,30,10]. */
        for (Py_ssize_t k = 0; k < total; k++) {
            const REAL s = (REAL)1 / ((REAL)1 + KEXP(-z[k]));
            z[k] = s < SMALLEST ? 0 : s;
        }
        break;
    case 't':
        for (Py_ssize_t k = 0; k < total; k++)
            z[k] = KTANH(z[k]);
        break;
    case 'r':
        for (Py_ssize_t k = 0; k < total; k++)
            z[k] = z[k] > 0 ? z[k] : 0;
        break;
    case 'm': /* softmax, shifted by the row's maximum so that exp cannot overflow */
        for (Py_ssize_t e = 0; e < mb; e++) {
            REAL *row = z + e * n, top = row[0], sum = 0;
            for (Py_ssize_t k = 1; k < n; k++)
                top = row[k] > top ? row[k] : top;
            for (Py_ssize_t k = 0; k < n; k++) {
                row[k] = KEXP(row[k] - top);
                sum += row[k];
            }
            for (Py_ssize_t k = 0; k < n; k++)
                row[k] /= sum;
        }
        break;
    default: /* 'l': linear */
        break;
    }
}

/* delta ⊙= f'(z), from a = f(z). */
INLINE void NAME(times_prime)(char act, REAL *delta, const REAL *a, Py_ssize_t total)
{
    switch (act) {
    case 's':
        for (Py_ssize_t k = 0; k < total; k++)
            delta[k] *= a[k] * ((REAL)1 - a[k]);
        break;
    case 't':
        for (Py_ssize_t k = 0; k < total; k++)
            delta[k] *= (REAL)1 - a[k] * a[k];
        break;
    case 'r':
        for (Py_ssize_t k = 0; k < total; k++)
            delta[k] = a[k] > 0 ? delta[k] : 0;
        break;
    default:
        break;
    }
}

/* BP2 without f': prev[e] = wᵀ·delta[e], as rows of w scaled and added (vectorised over n_in). */
INLINE void NAME(back)(const REAL *w, Py_ssize_t n_out, Py_ssize_t n_in,
                       const REAL *delta, Py_ssize_t mb, REAL *prev)
{
    for (Py_ssize_t e = 0; e < mb; e++) {
        REAL *p = prev + e * n_in;
        const REAL *d = delta + e * n_out;
        for (Py_ssize_t i = 0; i < n_in; i++)
            p[i] = 0;
        for (Py_ssize_t j = 0; j < n_out; j++) {
            const REAL dj = d[j], *wj = w + j * n_in;
#pragma omp simd
            for (Py_ssize_t i = 0; i < n_in; i++)
                p[i] += dj * wj[i];
        }
    }
}

/* out_r ← keep·out_r + Σₖ coef[r·mb + k]·x_k for R rows of out and E inputs: each input value
 * loaded serves R rows, each row loaded and stored once per E inputs. */
#define AXPY(R, E)                                                                                 \
    INLINE void NAME(axpy##R##x##E)(REAL *out, Py_ssize_t n, const REAL *coef, Py_ssize_t mb,    \
                                    const REAL *const *x, REAL keep)                              \
    {                                                                                              \
        REAL c[R][E];                                                                              \
        const REAL *xk[E];                                                                         \
        for (int k = 0; k < E; k++) {                                                              \
            xk[k] = x[k];                                                                          \
            for (int r = 0; r < R; r++)                                                            \
                c[r][k] = coef[r * mb + k];                                                        \
        }                                                                                          \
        _Pragma("omp simd") for (Py_ssize_t i = 0; i < n; i++)                                     \
        {                                                                                          \
            for (int r = 0; r < R; r++) {                                                          \
                REAL acc = out[r * n + i] * keep;                                                  \
                for (int k = 0; k < E; k++)                                                        \
                    acc += c[r][k] * xk[k][i];                                                     \
                out[r * n + i] = acc;                                                              \
            }                                                                                      \
        }                                                                                          \
    }
AXPY(2, 8) AXPY(2, 4) AXPY(2, 2) AXPY(2, 1)
AXPY(1, 8) AXPY(1, 4) AXPY(1, 2) AXPY(1, 1)
#undef AXPY

/* rows of out (R = 2 or 1, n wide) ← keep·out + coefᵀ-weighted sum of the mb inputs, in chunks of 8, 4, 2, 1. */
INLINE void NAME(accumulate)(int R, REAL *out, Py_ssize_t n, const REAL *coef, Py_ssize_t mb,
                             const REAL *const *in, REAL keep)
{
    Py_ssize_t e = 0;
    for (; e + 8 <= mb; e += 8, keep = 1)
        R == 2 ? NAME(axpy2x8)(out, n, coef + e, mb, in + e, keep) : NAME(axpy1x8)(out, n, coef + e, mb, in + e, keep);
    if (e + 4 <= mb) {
        R == 2 ? NAME(axpy2x4)(out, n, coef + e, mb, in + e, keep) : NAME(axpy1x4)(out, n, coef + e, mb, in + e, keep);
        e += 4, keep = 1;
    }
    if (e + 2 <= mb) {
        R == 2 ? NAME(axpy2x2)(out, n, coef + e, mb, in + e, keep) : NAME(axpy1x2)(out, n, coef + e, mb, in + e, keep);
        e += 2, keep = 1;
    }
    if (e < mb)
        R == 2 ? NAME(axpy2x1)(out, n, coef + e, mb, in + e, keep) : NAME(axpy1x1)(out, n, coef + e, mb, in + e, keep);
}

/* The update of layer w (n_out × n_in) from its δ (mb × n_out) and inputs. g = Σₑ δₑ[j]·inₑ is
 * BP4 summed over the batch (row j of δᵀ·a), made two rows at a time;
 * plain SGD:  w → (1 − ηλ/n)·w − (η/m)·g,   b → b − (η/m)·Σₑ δₑ   (g added straight into w);
 * momentum:   v → μv − η(g/m + (λ/n)·w), w → w + v; the biases without the λ term. */
INLINE void NAME(update)(REAL *w, REAL *b, REAL *vw, REAL *vb, Py_ssize_t n_out, Py_ssize_t n_in,
                         const REAL *delta, const REAL *const *in, Py_ssize_t mb,
                         double eta, double lmbda, double n, double mu, REAL *coef)
{
    const REAL scale = mu == 0 ? (REAL)(-eta / (double)mb) : (REAL)1;
    const REAL decay = (REAL)(1.0 - eta * (lmbda / n)), inv_m = (REAL)(1.0 / (double)mb);
    const REAL l2 = (REAL)(lmbda / n), mu_ = (REAL)mu, eta_ = (REAL)eta;
    for (Py_ssize_t j = 0; j < n_out; j++) { /* coef = δᵀ, scaled by −η/m for plain SGD; BP3 */
        REAL sb = 0;
        for (Py_ssize_t e = 0; e < mb; e++)
            sb += coef[j * mb + e] = scale * delta[e * n_out + j];
        if (mu == 0) {
            b[j] += sb;
        } else {
            vb[j] = mu_ * vb[j] - eta_ * (sb * inv_m);
            b[j] += vb[j];
        }
    }
    for (Py_ssize_t j = 0; j < n_out; j += 2) {
        const int R = j + 2 <= n_out ? 2 : 1;
        REAL *wj = w + j * n_in;
        if (mu == 0) {
            NAME(accumulate)(R, wj, n_in, coef + j * mb, mb, in, decay);
            continue;
        }
        REAL *vj = vw + j * n_in, *g = coef + n_out * mb; /* g: R rows after δᵀ */
        for (Py_ssize_t i = 0; i < R * n_in; i++)
            g[i] = 0;
        NAME(accumulate)(R, g, n_in, coef + j * mb, mb, in, 1);
#pragma omp simd
        for (Py_ssize_t i = 0; i < R * n_in; i++) {
            vj[i] = mu_ * vj[i] - eta_ * (g[i] * inv_m + l2 * wj[i]);
            wj[i] += vj[i];
        }
    }
}

/* One mini-batch of mb examples (rows: the inputs of each layer, m pointers per layer) through
 * the network whose weights and biases w (and velocities v) alternate wˡ, bˡ: the feedforward
 * into a, BP1 into d[L] with the targets of rows k… of the permutation, BP2 down to d[1] before
 * any parameter changes, then BP3 + BP4 and the update, layer by layer. */
INLINE void NAME(step)(REAL *const *w, REAL *const *v, const Py_ssize_t *sizes, Py_ssize_t L, const char *acts,
                       int quadratic, const REAL **rows, Py_ssize_t m, Py_ssize_t mb, REAL *const *a,
                       REAL *const *d, const REAL *targets, const long long *perm, Py_ssize_t k,
                       double eta, double lmbda, double n, double mu, REAL *coef)
{
    const Py_ssize_t nL = sizes[L];
    for (Py_ssize_t l = 1; l <= L; l++) { /* feedforward */
        NAME(forward)(w[2 * (l - 1)], w[2 * l - 1], sizes[l], sizes[l - 1], rows + (l - 1) * m, mb, a[l]);
        NAME(activate)(acts[l - 1], a[l], mb, sizes[l]);
    }
    for (Py_ssize_t e = 0; e < mb; e++) { /* BP1: δᴸ = aᴸ − y … */
        const Py_ssize_t r = perm ? (Py_ssize_t)perm[k + e] : k + e;
        const REAL *y = targets + r * nL;
        for (Py_ssize_t j = 0; j < nL; j++)
            d[L][e * nL + j] = a[L][e * nL + j] - y[j];
    }
    if (quadratic) /* … ⊙ f'(zᴸ) for the quadratic cost */
        NAME(times_prime)(acts[L - 1], d[L], a[L], mb * nL);
    for (Py_ssize_t l = L; l > 1; l--) { /* BP2, before any parameter changes */
        NAME(back)(w[2 * (l - 1)], sizes[l], sizes[l - 1], d[l], mb, d[l - 1]);
        NAME(times_prime)(acts[l - 2], d[l - 1], a[l - 1], mb * sizes[l - 1]);
    }
    for (Py_ssize_t l = 1; l <= L; l++) /* BP3 + BP4 and the update, layer by layer */
        NAME(update)(w[2 * (l - 1)], w[2 * l - 1], v[2 * (l - 1)], v[2 * l - 1], sizes[l], sizes[l - 1],
                     d[l], rows + (l - 1) * m, mb, eta, lmbda, n, mu, coef);
}

/* The first layer's inputs in[0 … mb) for the batch of rows k … k + mb − 1 (through the
 * permutation): uint8 pixels converted into xbuf; float rows read in place where they start on
 * a cache line, else copied to one in xbuf (misaligned vector loads cost an epoch 15 %); and
 * the next batch's rows and targets fetched meanwhile. */
INLINE void NAME(gather)(const sgd_job *job, Py_ssize_t k, Py_ssize_t mb, REAL *xbuf, const REAL **in)
{
    const Py_ssize_t m = job->m, n0 = job->sizes[0], nL = job->sizes[job->layers];
    const Py_ssize_t row_bytes = n0 * (job->pixels ? 1 : (Py_ssize_t)sizeof(REAL));
    for (Py_ssize_t e = 0; e < m && k + m + e < job->n; e++) { /* the next batch's rows: fetch them now */
        const Py_ssize_t r = job->perm ? (Py_ssize_t)job->perm[k + m + e] : k + m + e;
        const char *row = (const char *)job->x + r * row_bytes;
        for (Py_ssize_t byte = 0; byte < row_bytes; byte += 64)
            PREFETCH(row + byte);
        PREFETCH((const REAL *)job->targets + r * nL);
    }
    for (Py_ssize_t e = 0; e < mb; e++) {
        const Py_ssize_t r = job->perm ? (Py_ssize_t)job->perm[k + e] : k + e;
        if (job->pixels) {
            const unsigned char *px = (const unsigned char *)job->x + r * n0;
            REAL *dst = xbuf + e * n0;
            for (Py_ssize_t i = 0; i < n0; i++)
                dst[i] = (REAL)px[i] / (REAL)255;
            in[e] = dst;
        } else {
            const REAL *src = (const REAL *)job->x + r * n0;
            if ((uintptr_t)src % 64 == 0) {
                in[e] = src;
            } else {
                memcpy(xbuf + e * n0, src, sizeof(REAL) * (size_t)n0);
                in[e] = xbuf + e * n0;
            }
        }
    }
}

/* One epoch for the job's K members (one network: K = 1). Each mini-batch is gathered (and its
 * uint8 pixels converted) once, then the feedforward, BP1–BP4 and update of every member of a
 * group run on it in turn, through one workspace; members are otherwise independent: their own
 * parameters, velocity, η, λ and μ. Groups: the members whose parameters fit in GROUP_BYTES
 * together go through the epoch side by side, then the next group, so that each member's
 * weights stay in the core's L2 cache from one mini-batch to the next as a single network's do
 * (64 members of [784,30,10] in float32 hold 6 MB; cycled through at every batch they came
 * from L3). Returns 0, or −1 when the workspace cannot be allocated (PyMem_Raw: safe without
 * the GIL, and seen by tracemalloc, so benchmarks/test_memory.py counts it). */
static int NAME(epoch)(const sgd_job *job)
{
    const Py_ssize_t L = job->layers, m = job->m, K = job->members, *sizes = job->sizes, n0 = sizes[0];
    const REAL *const targets = job->targets;
    Py_ssize_t widest = 0, acts_total = 0, count = 0;
    for (Py_ssize_t l = 0; l <= L; l++)
        widest = sizes[l] > widest ? sizes[l] : widest;
    for (Py_ssize_t l = 1; l <= L; l++) {
        acts_total += m * sizes[l];
        count += sizes[l] * (sizes[l - 1] + 1);
    }

    /* a[l] and d[l] hold layer l's activations and δ for a batch (l = 1 … L), for the member
     * being trained; xbuf the batch's inputs where they are copied, shared by all members */
    char *block = PyMem_RawMalloc(sizeof(REAL) * (size_t)(2 * acts_total + m * n0 + m * widest + 2 * widest) + 64);
    REAL **a = PyMem_RawMalloc(sizeof(REAL *) * (size_t)(L + 1)), **d = PyMem_RawMalloc(sizeof(REAL *) * (size_t)(L + 1));
    REAL **wl = PyMem_RawMalloc(sizeof(REAL *) * (size_t)(2 * L * K)), **vl = PyMem_RawMalloc(sizeof(REAL *) * (size_t)(2 * L * K));
    const REAL **rows = PyMem_RawMalloc(sizeof(REAL *) * (size_t)(m * (L + 1)));
    if (!block || !a || !d || !wl || !vl || !rows) {
        PyMem_RawFree(block), PyMem_RawFree(a), PyMem_RawFree(d), PyMem_RawFree(wl), PyMem_RawFree(vl), PyMem_RawFree(rows);
        return -1;
    }
    /* the batch's inputs first, on a cache line: rows of 784 values then all start on one */
    REAL *xbuf = (REAL *)(block + (64 - (uintptr_t)block % 64) % 64), *p = xbuf + m * n0;
    for (Py_ssize_t l = 1; l <= L; l++) {
        a[l] = p, p += m * sizes[l];
        d[l] = p, p += m * sizes[l];
    }
    REAL *coef = p;
    for (Py_ssize_t i = 0; i < K; i++) { /* member i: wl[2Li + 2l] = wˡ⁺¹, wl[2Li + 2l + 1] = bˡ⁺¹ in its row */
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
    for (Py_ssize_t l = 1; l < L; l++) /* hidden activations as rows: the next layer's inputs */
        for (Py_ssize_t e = 0; e < m; e++)
            rows[l * m + e] = a[l] + e * sizes[l];

    const Py_ssize_t per_member = count * (Py_ssize_t)sizeof(REAL) * (job->velocity ? 2 : 1);
    const Py_ssize_t group = per_member >= GROUP_BYTES ? 1 : GROUP_BYTES / per_member;
    for (Py_ssize_t g0 = 0; g0 < K; g0 += group) {
        const Py_ssize_t g1 = g0 + group < K ? g0 + group : K;
        for (Py_ssize_t k = 0; k < job->n; k += m) {
            const Py_ssize_t mb = k + m <= job->n ? m : job->n - k;
            NAME(gather)(job, k, mb, xbuf, rows);
            for (Py_ssize_t i = g0; i < g1; i++) /* each member's step, with its own η, λ, μ */
                NAME(step)(wl + 2 * L * i, vl + 2 * L * i, sizes, L, job->acts, job->quadratic, rows, m, mb, a, d,
                           targets, job->perm, k, job->eta[i], job->lmbda[i], (double)job->n, job->mu[i], coef);
        }
    }
    PyMem_RawFree(block), PyMem_RawFree(a), PyMem_RawFree(d), PyMem_RawFree(wl), PyMem_RawFree(vl), PyMem_RawFree(rows);
    return 0;
}
#ifdef FIXED_ORDER
#undef LANES
#undef VBYTES
#endif
#undef KEXP
#undef KTANH
