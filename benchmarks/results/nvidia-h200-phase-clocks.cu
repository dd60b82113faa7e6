/* One epoch of mini-batch SGD in one launch, for the book's small networks: the first layer's
 * weights live in registers for the whole epoch.
 *
 * For networks [n_in, n_hidden, n_out] with n_hidden ≤ 32 and n_out ≤ 32 ([784,30,10] is the
 * book's), beside epoch.cu's general kernel (any depth, weights in shared or global memory).
 * The formulas and the per-member η, λ, μ are epoch.cu's (see its header): feedforward,
 * BP1–BP4, plain SGD with L2 or momentum; m is this mini-batch's size; K blocks train K networks
 * on the same data in the host's permutation order.
 *
 * Block: W = blockDim.x / 32 warps (at most 256 threads: __launch_bounds__). Warp c owns the
 * input columns k ∈ [c·CAP, (c+1)·CAP) (the "chunk"); its lane l = 8g + r owns quarter g of them
 * (CAP/4 columns from c·CAP + g·CAP/4) for the four hidden neurons r, r + 8, r + 16, r + 24:
 * thread (c, l) holds those 4 × CAP/4 values of w¹ in registers, from the first mini-batch to
 * the last, and only it ever reads or writes them. So each a⁰ quad a thread reads feeds 16 FMAs
 * (four rows): a warp issues a quarter as many 16-byte loads of a⁰ as it has FMAs to feed. Columns past n_in are zero weights facing zero inputs, rows past n_hidden zero weights.
 * The mini-batch is a register tile of exactly M examples (a template parameter: the host picks
 * M = 10 for m = 10); a mini-batch of m > M runs in ⌈m/M⌉ passes and a short last mini-batch
 * leaves its padded rows at δ = 0, so they add nothing.
 *
 * Dynamic shared memory, as offsets (in T) from the one extern __shared__ base, never as
 * pointer tables (so no local memory: a 0-byte stack frame); nnaccel.epochs.fast.register_epoch.layout
 * computes them and passes them in, each region starting at a multiple of 4 values:
 *   A0   W × rows × CAP   the mini-batch's inputs a⁰, chunk by chunk (columns past n_in zero),
 *                         so a thread's loads are one base register plus constant offsets
 *   ZP   W × M × 32       each warp's partial sums zⱼ over its chunk, for one pass
 *   A1   rows × n_hidden  a¹;   D1 rows × n_hidden δ¹;   D2 rows × n_out δ²
 *   SP   b¹ w² b²         the small parameters, in the global row's order, on-chip all epoch
 *   VS                    their velocities (momentum only)
 *   V1   W · CAP · 32     w¹'s velocity, interleaved so that a warp's 16-byte loads of one
 *                         quad of its registers are 512 consecutive bytes (momentum only)
 *   PM   rows ints        the mini-batch's rows of x (the host's permutation), read ahead
 *   ZO   2 × rows × n_out the slice's partial sums of z² (clusters only)
 * with rows = ⌈m/M⌉·M.
 *
 * Wider hidden layers, n_hidden ≤ 32·CL (sm_90): sgd_epoch_registers<…, CL> trains one network
 * with a cluster of CL blocks, block r holding the hidden neurons [r·S, r·S + S) of S = ⌈n_hidden/CL⌉
 * (their rows of w¹, their b¹ and their columns of w²) and a copy of b². Each block gathers
 * the whole mini-batch and runs the kernel above on its slice; the one exchange is z² =
 * Σ_r (w² a¹ over slice r) + b²: each block writes its partial sums to ZO (two halves, used in
 * turn by consecutive mini-batches), one cluster barrier, then every block adds the CL
 * partials from the blocks' shared memory in rank order, so each has the same z², a², δ²
 * and b² bit for bit. δ¹ and every update are the slice's own. A block reads a peer's ZO
 * only between that mini-batch's barrier and the next one's, which the peer must reach
 * before it writes that half again; a last barrier keeps each block's memory alive until
 * its peers' last reads.
 *
 * Only what NVRTC compiles without headers, and what tests/cuda_shim emulates on the CPU.
 * Each phase starts at a `// PHASE` line; loops whose trip count depends on the sizes carry a
 * `// TRIPS` expression (per execution of what encloses them; M and CAP as the host picks them)
 * and the momentum blocks a `// TAKEN`, for benchmarks/gpu_model.py.
 */

#ifndef DYNAMIC_SHARED /* the block's dynamic shared memory (tests/cuda_shim gives each block its own) */
#define DYNAMIC_SHARED(name) extern __shared__ __align__(16) unsigned char name[]
#endif

enum Activation { SIGMOID = 0, TANH = 1, RELU = 2, LINEAR = 3, SOFTMAX = 4 };

#define WARP 32
#define MAX_THREADS 256 /* register budget: CAP values of w¹ a thread take ~180-255 registers (ptxas) */
#define QUARTER 8 /* lanes per quarter warp: lane l holds rows l % QUARTER + QUARTER·i, i < ROWS */
#define ROWS 4 /* rows of w¹ a lane holds (ROWS × QUARTER = 32 hidden neurons) */

__device__ __forceinline__ float exp_(float z) { return expf(z); }
__device__ __forceinline__ double exp_(double z) { return exp(z); }
__device__ __forceinline__ float tanh_(float z) { return tanhf(z); }
__device__ __forceinline__ double tanh_(double z) { return tanh(z); }
__device__ __forceinline__ float fma_(float a, float b, float c) { return fmaf(a, b, c); }
__device__ __forceinline__ double fma_(double a, double b, double c) { return fma(a, b, c); }
__device__ __forceinline__ float lowest(float) { return -3.402823466e38f; }
__device__ __forceinline__ double lowest(double) { return -1.7976931348623157e308; }

template <typename T>
__device__ __forceinline__ T activate(int act, T z)
{
    switch (act) {
    case SIGMOID: /* activations.py's form */
        return T(0.5) * (T(1) + tanh_(T(0.5) * z));
    case TANH:
        return tanh_(z);
    case RELU:
        return z > T(0) ? z : T(0);
    default: /* LINEAR */
        return z;
    }
}

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
    default:
        return T(1);
    }
}

/* A cluster's primitives (sm_90; the shim's on the CPU). Before sm_90 there are no clusters:
 * only CL = 1 is instantiated there, which never calls these. On sm_90 CL = 1 is a cluster of
 * one block (__cluster_dims__ takes only a constant: one kernel serves both). */
#if !defined(__CUDA_ARCH__) || __CUDA_ARCH__ >= 900
#define CLUSTER_DIMS(n) __cluster_dims__(n, 1, 1)
__device__ __forceinline__ int cluster_rank() { return int(__clusterRelativeBlockRank()); }
__device__ __forceinline__ void cluster_sync()
{
    __cluster_barrier_arrive(); /* release: this block's writes to its shared memory … */
    __cluster_barrier_wait();   /* acquire: … are seen by the cluster's blocks after it */
}
template <typename T>
__device__ __forceinline__ const T *in_block(T *p, int rank) /* p's place in block `rank`'s shared memory */
{
    return static_cast<const T *>(__cluster_map_shared_rank(p, rank));
}
#else
#define CLUSTER_DIMS(n)
__device__ __forceinline__ int cluster_rank() { return 0; }
__device__ __forceinline__ void cluster_sync() {}
template <typename T>
__device__ __forceinline__ const T *in_block(T *p, int) { return p; }
#endif

/* Built with -DNNACCEL_PHASE_CLOCKS (benchmarks/phase_clocks.py, on a GPU): block 0's cycles in
 * each phase (gather, feedforward, backprop, update), summed over the epoch, from clock64() read
 * by thread 0 just after each phase's closing barrier. Compiled out otherwise. */
#ifdef NNACCEL_PHASE_CLOCKS
__device__ unsigned long long nnaccel_phase_clocks[4];
#define PHASE_CLOCK_START long long clock_mark = clock64()
#define PHASE_CLOCK(phase)                                                \
    do {                                                                  \
        if (blockIdx.x == 0 && threadIdx.x == 0) {                        \
            const long long now = clock64();                              \
            nnaccel_phase_clocks[phase] += (unsigned long long)(now - clock_mark); \
            clock_mark = now;                                             \
        }                                                                 \
    } while (0)
#else
#define PHASE_CLOCK_START
#define PHASE_CLOCK(phase)
#endif

/* Four consecutive values, aligned so that one load instruction (LDS.128; two for double) reads them. */
template <typename T>
struct alignas(4 * sizeof(T) > 16 ? 16 : 4 * sizeof(T)) Quad {
    T v[4];
};

/* What one gather step moves: four pixels in one 32-bit word (rows of a multiple of 4
 * pixels), else one input value. */
template <typename Input>
struct Word {
    typedef Input type;
};
template <>
struct Word<unsigned char> {
    typedef unsigned int type;
};

template <typename Input>
__device__ __forceinline__ typename Word<Input>::type load_word(const Input *x, long long row, int n_in, int c, bool)
{
    return x[row * n_in + c];
}
__device__ __forceinline__ unsigned int load_word(const unsigned char *x, long long row, int n_in, int c, bool four)
{
    return four ? reinterpret_cast<const unsigned int *>(x + row * n_in)[c] : x[row * n_in + c];
}

/* A pixel's value T(p) / T(255), rounded exactly as DeviceData.x divides it: p·(1/255) and
 * one correction by its residual (equal to the division for every p < 256 in float and double:
 * tests/test_register_emulated.py checks it in exact arithmetic), no table lookup. */
template <typename T>
__device__ __forceinline__ T pixel_value(unsigned int p)
{
    const T r = T(1) / T(255), x = T(int(p)), q = x * r;
    return fma_(r, fma_(-q, T(255), x), q);
}

/* a⁰ values from a word: a float row's own value, or the values of its four pixels. */
template <typename T, typename V>
__device__ __forceinline__ void store_word(T *shared, int at, V word, bool)
{
    shared[at] = T(word);
}
template <typename T>
__device__ __forceinline__ void store_word(T *shared, int at, unsigned int word, bool four)
{
    if (four) { // TAKEN 1 if n_in % 4 == 0 else 0
#pragma unroll
        for (int t = 0; t < 4; t++)
            shared[at + t] = pixel_value<T>((word >> (8 * t)) & 255u);
    } else { // TAKEN 0 if n_in % 4 == 0 else 1
        shared[at] = pixel_value<T>(word);
    }
}

/* Where a⁰ₑₖ lies: chunk k / CAP (a division by a constant: a multiply), row e, column k % CAP. */
template <int CAP>
__device__ __forceinline__ int a0_offset(int A0, int rows, int e, int col)
{
    const int chunk = col / CAP;
    return A0 + (chunk * rows + e) * CAP + col - chunk * CAP;
}

/* BP4 and the update for the thread's slice of w¹, in registers: for each pass of M examples,
 * δ¹ₑᵣ of its four rows (e < M) in registers, ∂C/∂w¹ᵣₖ = Σₑ δ¹ₑᵣ a⁰ₑₖ four columns at a time from
 * the same broadcast loads as the feedforward (each quad feeds all four rows), then the step. The
 * same instructions for every pass (no branch to merge the registers at): the decay (or
 * μv − ηλw/n) is multiplied in with the first pass's factors and 1 (or 0) after it, and w + v
 * taken with the last pass's factor 1 (0 before). w[i·CAP/4 + u] is row r + 8i's column u. */
template <bool MOMENTUM, typename T, int M, int CAP>
__device__ __forceinline__ void update_first_layer(T (&w)[CAP], T *s, int D1, int x_base, int v_base, int rows,
                                                   int row, int nh, T keep, T step, T mu, T eta, T l2, T per_m)
{
    constexpr int H = CAP / ROWS; /* columns of one row */
    const int lane = threadIdx.x % WARP;
    for (int p = 0; p * M < rows; p++) { // TRIPS (cdiv(m, 10) if cdiv(m, 10) * 10 <= cdiv(m, 4) * 4 else cdiv(m, 4))
        T d[ROWS][M];
#pragma unroll
        for (int i = 0; i < ROWS; i++)
#pragma unroll
            for (int e = 0; e < M; e++)
                d[i][e] = row + i * QUARTER < nh ? s[D1 + (p * M + e) * nh + row + i * QUARTER] : T(0);
        const int x0 = x_base + p * M * CAP;
        const T decay = p == 0 ? (MOMENTUM ? mu : keep) : T(1), l2_p = p == 0 ? l2 : T(0);
        const T take = (p + 1) * M >= rows ? T(1) : T(0);
        if (!MOMENTUM) {
            /* w ← decay·w − Σₑ (step·δ¹ₑᵣ) a⁰ₑₖ, accumulated in w itself: no gradient registers */
#pragma unroll
            for (int i = 0; i < ROWS; i++)
#pragma unroll
                for (int e = 0; e < M; e++)
                    d[i][e] *= -step;
#pragma unroll
            for (int q = 0; q < H / 4; q++) {
#pragma unroll
                for (int i = 0; i < ROWS; i++)
#pragma unroll
                    for (int t = 0; t < 4; t++)
                        w[i * H + q * 4 + t] *= decay;
#pragma unroll
                for (int e = 0; e < M; e++) {
                    const Quad<T> a = *reinterpret_cast<const Quad<T> *>(s + x0 + e * CAP + q * 4);
#pragma unroll
                    for (int i = 0; i < ROWS; i++)
#pragma unroll
                        for (int t = 0; t < 4; t++)
                            w[i * H + q * 4 + t] += d[i][e] * a.v[t];
                }
            }
        } else {
            /* v ← μv − η(λ/n)w − Σₑ (η/m·δ¹ₑᵣ) a⁰ₑₖ accumulated in v's registers, then w ← w + v */
#pragma unroll
            for (int i = 0; i < ROWS; i++)
#pragma unroll
                for (int e = 0; e < M; e++)
                    d[i][e] *= -eta * per_m;
#pragma unroll
            for (int q = 0; q < H / 4; q++) {
                Quad<T> v[ROWS];
#pragma unroll
                for (int i = 0; i < ROWS; i++) {
                    v[i] = *reinterpret_cast<Quad<T> *>(s + v_base + ((i * (H / 4) + q) * WARP + lane) * 4);
#pragma unroll
                    for (int t = 0; t < 4; t++)
                        v[i].v[t] = decay * v[i].v[t] - eta * l2_p * w[i * H + q * 4 + t];
                }
#pragma unroll
                for (int e = 0; e < M; e++) {
                    const Quad<T> a = *reinterpret_cast<const Quad<T> *>(s + x0 + e * CAP + q * 4);
#pragma unroll
                    for (int i = 0; i < ROWS; i++)
#pragma unroll
                        for (int t = 0; t < 4; t++)
                            v[i].v[t] += d[i][e] * a.v[t];
                }
#pragma unroll
                for (int i = 0; i < ROWS; i++) {
#pragma unroll
                    for (int t = 0; t < 4; t++)
                        w[i * H + q * 4 + t] += take * v[i].v[t];
                    *reinterpret_cast<Quad<T> *>(s + v_base + ((i * (H / 4) + q) * WARP + lane) * 4) = v[i];
                }
            }
        }
    }
}

/* The small parameters' index in the member's global row, for index i of SP (b¹ w² b² of the
 * slice [h0, h0 + nh) of NH hidden neurons; the whole layer when CL = 1). */
template <int CL>
__device__ __forceinline__ long long global_small(int i, int nh, int no, int NH, int h0, long long g_b1)
{
    if (CL == 1)
        return g_b1 + i;
    if (i < nh)
        return g_b1 + h0 + i; /* b¹ */
    if (i < nh + no * nh) {
        const int j = (i - nh) / nh; /* w² row j, column h0 + (i − nh) − j·nh */
        return g_b1 + NH + (long long)j * NH + h0 + (i - nh - j * nh);
    }
    return g_b1 + NH + (long long)no * NH + (i - nh - no * nh); /* b² */
}

/* One network per block ([n_in, ≤ 32, ≤ 32]; K blocks train K networks), or per cluster of CL
 * blocks ([n_in, ≤ 32·CL, ≤ 32], sm_90: K clusters train K networks). */
template <typename T, typename Input, int M, int CAP, int CL = 1>
__global__ void CLUSTER_DIMS(CL) __launch_bounds__(MAX_THREADS, 1)
sgd_epoch_registers(T *params, T *velocity, const Input *x, const T *targets, const long long *perm, int n_in,
                    int n_hidden, int n_out, int act_hidden, int act_out, int n, int m, int quadratic,
                    const double *eta, const double *lmbda, const double *mu, int rows, int ZP, int A1, int D1,
                    int D2, int SP, int VS, int V1, int PM, int row_words, int ZO)
{
    DYNAMIC_SHARED(shared);
    T *const s = reinterpret_cast<T *>(shared);
    typedef typename Word<Input>::type W_t;
    const int tid = threadIdx.x, threads = blockDim.x, lane = tid % WARP, warp = tid / WARP, warps = threads / WARP;
    const int row = lane % QUARTER, quarter = lane / QUARTER; /* rows row + QUARTER·i, quarter `quarter` of the chunk */
    static_assert(CAP % (4 * ROWS) == 0, "CAP: a multiple of 16, so that each quarter warp's CAP / 4 columns are whole quads");
    constexpr int H = CAP / ROWS;
    const int k = blockIdx.x / CL, k0 = warp * CAP + quarter * H; /* the network; the thread's first column */
    /* the block's slice of the hidden layer: neurons [h0, h0 + nh) of NH */
    const int NH = n_hidden, rank = CL > 1 ? cluster_rank() : 0;
    const int slice = (NH + CL - 1) / CL, h0 = rank * slice;
    /* rows / M passes of M examples: p * M < rows (no register holds their number) */
    const int Q = 4; /* values per Quad */

    // PHASE other
    /* The member's parameters on-chip. The regions' offsets come as parameters
     * (register_epoch.layout computes them), so they cost no register: the kernel parameters
     * are operands in the constant bank. */
    const int nh = CL > 1 ? (NH - h0 < slice ? NH - h0 : slice) : NH, no = n_out;
    const int A0 = 0, B1 = SP, W2 = B1 + nh, B2 = W2 + no * nh;
    const int dv = VS - SP; /* a small parameter's velocity: at + dv */
    const long long g_w1 = (long long)h0 * n_in, g_b1 = (long long)NH * n_in, P = g_b1 + NH + no * NH + no;
    const bool momentum = mu[k] != 0.0; /* η, λ and μ are read again per mini-batch: no register holds them */
    T *const mine = params + k * P; /* (a long long product: K·P may pass 2³¹) */
    T *const my_velocity = velocity + (momentum ? k * P : 0);

    for (int i = tid; i < warps * rows * CAP; i += threads) // TRIPS cdiv(warps * min(cdiv(m, 10) * 10, cdiv(m, 4) * 4) * (32 if warps * 32 >= n_in else 112), threads)
        s[A0 + i] = T(0); /* the padding columns stay zero for the whole epoch */
    for (int i = tid; i < nh + no * nh + no; i += threads) { // TRIPS cdiv(n_hidden + n_out * n_hidden + n_out, threads)
        const long long at = global_small<CL>(i, nh, no, NH, h0, g_b1);
        s[SP + i] = mine[at];
        if (momentum)
            s[VS + i] = my_velocity[at];
    }
    T w[CAP]; /* w¹ⱼ,ₖ for j = row + (u / H)·QUARTER, k = k0 + u % H: this thread's, for the whole epoch */
#pragma unroll
    for (int u = 0; u < CAP; u++) {
        const int j = row + u / H * QUARTER, col = k0 + u % H;
        w[u] = j < nh && col < n_in ? mine[g_w1 + (long long)j * n_in + col] : T(0);
    }
    /* w¹'s velocity into the interleaved layout, by a loop: no register holds it */
    if (momentum) { // TAKEN momentum
#pragma unroll 1
        for (int u = 0; u < CAP; u++) { // TRIPS (32 if warps * 32 >= n_in else 112)
            const int j = row + u / H * QUARTER, col = k0 + u % H;
            s[V1 + ((warp * (CAP / Q) + u / Q) * WARP + lane) * Q + u % Q] =
                j < nh && col < n_in ? my_velocity[g_w1 + (long long)j * n_in + col] : T(0);
        }
    }

    /* The gather: a row is row_words words (n_in / 4 when four pixels make a word: the host
     * decides); thread t moves word t of every row (and t + threads, … of wider rows), so where
     * it lands in a⁰ is one offset computed here plus e·CAP: no division in the loops. */
    const bool four = row_words != n_in;
    const int per_word = four ? 4 : 1;
    int *const rows_of = reinterpret_cast<int *>(s + PM);
    for (int r = tid; r < (n < m ? n : m); r += threads) // TRIPS cdiv(m, threads)
        rows_of[r] = int(perm[r]);
    __syncthreads();
    PHASE_CLOCK_START;

    int turn = 0; /* which half of ZO this mini-batch's partial sums take (clusters) */
    for (int start = 0; start < n; start += m) { // TRIPS cdiv(n, m)
        const int mb = n - start < m ? n - start : m; /* the last mini-batch may be smaller */

        // PHASE gather
        /* M rows at a time, the M words of this thread are all requested before the first is
         * stored (one global latency for M rows, not M). */
        const int mine_at = a0_offset<CAP>(A0, rows, 0, tid * per_word); /* word tid of row 0 (a multiply, not a register all epoch) */
        for (int p = 0; p * M < rows; p++) { // TRIPS (cdiv(m, 10) if cdiv(m, 10) * 10 <= cdiv(m, 4) * 4 else cdiv(m, 4))
            W_t word[M];
#pragma unroll
            for (int e = 0; e < M; e++)
                word[e] = p * M + e < mb && tid < row_words ? load_word(x, rows_of[p * M + e], n_in, tid, four) : W_t(0);
#pragma unroll
            for (int e = 0; e < M; e++)
                if (p * M + e < mb && tid < row_words)
                    store_word<T>(s, mine_at + (p * M + e) * CAP, word[e], four);
        }
        if (row_words > threads) { // TAKEN (1 if n_in // 4 > threads else 0)
            /* rows of more words than threads: word t + threads, … too, a row at a time */
            for (int e = 0; e < mb; e++) { // TRIPS m
                const long long x_row = rows_of[e];
                for (int c = tid + threads; c < row_words; c += threads) // TRIPS max(0, cdiv(n_in // 4, threads) - 1)
                    store_word<T>(s, a0_offset<CAP>(A0, rows, e, c * per_word), load_word(x, x_row, n_in, c, four), four);
            }
        }
        __syncthreads();
        PHASE_CLOCK(0);

        // PHASE feedforward
        /* z¹ = w¹a⁰ + b¹ for M examples at a time. Thread (c, 8g + r) adds up its quarter chunk
         * for rows r, r + 8, r + 16, r + 24: CAP/16 × M broadcast 16-byte loads of a⁰ (a quarter
         * warp reads one address) and 16 FMAs each on its registers; shuffles add up the
         * quarters, the W partial sums go through ZP and warp e adds them for example e, lane j for neuron j: a¹ₑⱼ = f(Σ + b¹ⱼ). */
        for (int p = 0; p * M < rows; p++) { // TRIPS (cdiv(m, 10) if cdiv(m, 10) * 10 <= cdiv(m, 4) * 4 else cdiv(m, 4))
            T z[ROWS][M];
#pragma unroll
            for (int i = 0; i < ROWS; i++)
#pragma unroll
                for (int e = 0; e < M; e++)
                    z[i][e] = T(0);
            const int x0 = A0 + (warp * rows + p * M) * CAP + quarter * H;
#pragma unroll
            for (int q = 0; q < H / Q; q++) {
#pragma unroll
                for (int e = 0; e < M; e++) {
                    const Quad<T> a = *reinterpret_cast<const Quad<T> *>(s + x0 + e * CAP + q * Q);
#pragma unroll
                    for (int i = 0; i < ROWS; i++)
#pragma unroll
                        for (int t = 0; t < Q; t++)
                            z[i][e] += w[i * H + q * Q + t] * a.v[t];
                }
            }
            /* the four quarters' sums by a reduce-scatter across the warp: lanes 16 apart swap
             * rows {0,1} against {2,3}, then lanes 8 apart row 0 against 1, so that lane l ends
             * with its warp's sum for neuron l (row r + 8g, g = 2·bit1 + bit0 of its quarter) */
            const bool hi = quarter & 2, odd = quarter & 1;
#pragma unroll
            for (int e = 0; e < M; e++) {
                const T k0 = (hi ? z[2][e] : z[0][e]) + __shfl_xor_sync(0xffffffffu, hi ? z[0][e] : z[2][e], 2 * QUARTER);
                const T k1 = (hi ? z[3][e] : z[1][e]) + __shfl_xor_sync(0xffffffffu, hi ? z[1][e] : z[3][e], 2 * QUARTER);
                s[ZP + (warp * M + e) * WARP + lane] = (odd ? k1 : k0) + __shfl_xor_sync(0xffffffffu, odd ? k0 : k1, QUARTER);
            }
            __syncthreads();
            for (int e = warp; e < M; e += warps) { // TRIPS max(0, cdiv((10 if cdiv(m, 10) * 10 <= cdiv(m, 4) * 4 else 4) - warp, warps))
                if (lane < nh) {
                    T sum = T(0);
                    for (int c = 0; c < warps; c++) // TRIPS warps
                        sum += s[ZP + (c * M + e) * WARP + lane];
                    s[A1 + (p * M + e) * nh + lane] = activate(act_hidden, sum + s[B1 + lane]);
                }
            }
            __syncthreads();
        }

        PHASE_CLOCK(1);

        // PHASE backprop
        /* requested before backprop, so that their global latency passes while it runs: the
         * next mini-batch's first row number of this thread, and η, λ and μ (read again each
         * mini-batch: no register holds them all epoch) */
        const int next = start + m, next_mb = n - next < m ? n - next : m;
        const int first_next = tid < next_mb ? int(perm[next + tid]) : 0;
        const double eta_k = eta[k], lmbda_k = lmbda[k], mu_k = mu[k];
        /* warp e takes example e, lane j output neuron j: z²ₑⱼ = w²ⱼ·a¹ₑ + b²ⱼ,
         * a² = f(z²) (softmax: the row's max and sum by shuffles across the lanes), BP1
         * δ²ₑⱼ = a² − y [⊙ f'(z²) for the quadratic cost], kept in the lane's register; then BP2
         * with lane i for hidden neuron i: δ¹ₑᵢ = Σⱼ w²ⱼᵢ δ²ₑⱼ f'(z¹ₑᵢ), each δ²ₑⱼ broadcast from
         * lane j by a shuffle. Rows past this mini-batch get δ = 0. */
        const int zo = ZO + turn * rows * no; /* this mini-batch's half of ZO (clusters) */
        if (CL > 1) {
            /* the slice's share of z² = w²a¹ + b², for the cluster to add up */
            for (int e = warp; e < rows; e += warps) // TRIPS max(0, cdiv(min(cdiv(m, 10) * 10, cdiv(m, 4) * 4) - warp, warps))
                if (lane < no) {
                    T z = T(0);
                    for (int i = 0; i < nh; i++) // TRIPS n_hidden
                        z += s[W2 + lane * nh + i] * s[A1 + e * nh + i];
                    s[zo + e * no + lane] = z;
                }
            cluster_sync();
        }
        for (int e = warp; e < rows; e += warps) { // TRIPS max(0, cdiv(min(cdiv(m, 10) * 10, cdiv(m, 4) * 4) - warp, warps))
            const bool real = e < mb;
            /* yₑⱼ requested first: its global latency passes while z² is computed */
            const T y = real && lane < no ? targets[(long long)rows_of[e] * no + lane] : T(0);
            T z = T(0);
            if (lane < no) {
                if (CL == 1) {
#pragma unroll 5
                    for (int i = 0; i < nh; i++) // TRIPS n_hidden
                        z += s[W2 + lane * nh + i] * s[A1 + e * nh + i];
                } else {
                    /* in rank order, so every block has the same sum (the model: one trip a block) */
                    for (int r = 0; r < CL; r++) // TRIPS 1
                        z += in_block(s + zo + e * no + lane, r)[0];
                }
                z += s[B2 + lane];
            }
            T a;
            if (act_out == SOFTMAX) { // TAKEN softmax
                T top = lane < no ? z : lowest(z);
                for (int offset = WARP / 2; offset > 0; offset /= 2) {
                    const T other = __shfl_xor_sync(0xffffffffu, top, offset);
                    top = other > top ? other : top;
                }
                const T ez = lane < no ? exp_(z - top) : T(0);
                T total = ez;
                for (int offset = WARP / 2; offset > 0; offset /= 2)
                    total += __shfl_xor_sync(0xffffffffu, total, offset);
                a = ez / total;
            } else { // TAKEN 1 - softmax
                a = activate(act_out, z);
            }
            T d2 = T(0);
            if (real && lane < no) {
                d2 = a - y;
                if (quadratic) // TAKEN quadratic
                    d2 *= prime(act_out, a);
            }
            if (lane < no)
                s[D2 + e * no + lane] = d2;
            T back = T(0);
#pragma unroll 5
            for (int j = 0; j < no; j++) { // TRIPS n_out
                const T d2j = __shfl_sync(0xffffffffu, d2, j);
                if (lane < nh)
                    back += s[W2 + j * nh + lane] * d2j;
            }
            if (lane < nh)
                s[D1 + e * nh + lane] = real ? back * prime(act_hidden, s[A1 + e * nh + lane]) : T(0);
        }
        __syncthreads();
        PHASE_CLOCK(2);

        // PHASE update
        /* backprop has read this mini-batch's row numbers: the next one's, for its gather
         * (the loop's last barrier orders these; the first was requested before backprop) */
        for (int r = tid; r < next_mb; r += threads) // TRIPS cdiv(m, threads)
            rows_of[r] = r == tid ? first_next : int(perm[next + r]);
        const double l2_k = lmbda_k / n;
        const T keep = T(1.0 - eta_k * l2_k), step = T(eta_k / mb), per_m = T(1) / T(mb);
        const T mu_ = T(mu_k), eta_ = T(eta_k), l2 = T(l2_k);
        /* BP3 for b¹ and b², BP4 for w² (one thread per parameter, sums over the mini-batch
         * from δ and a¹ in shared memory, updated in place): warp j' takes w²ⱼ' row by row. */
        for (int j = warp; j < no; j += warps) { // TRIPS max(0, cdiv(n_out - warp, warps))
            if (lane < nh) {
                T g = T(0);
                for (int p = 0; p * M < mb; p++) // TRIPS cdiv(m, 10) if cdiv(m, 10) * 10 <= cdiv(m, 4) * 4 else cdiv(m, 4)
#pragma unroll
                    for (int e = p * M; e < p * M + M; e++)
                        if (e < mb)
                            g += s[D2 + e * no + j] * s[A1 + e * nh + lane];
                const int at = W2 + j * nh + lane;
                if (!momentum) { // TAKEN 1 - momentum
                    s[at] = keep * s[at] - step * g;
                } else { // TAKEN momentum
                    s[at + dv] = mu_ * s[at + dv] - eta_ * (g * per_m + l2 * s[at]);
                    s[at] = s[at] + s[at + dv];
                }
            }
        }
        for (int i = tid; i < nh + no; i += threads) { // TRIPS max(0, cdiv(n_hidden + n_out - 32 * warp, threads))
            const bool hidden = i < nh;
            const int width = hidden ? nh : no, from = hidden ? D1 + i : D2 + i - nh;
            T g = T(0);
            for (int p = 0; p * M < mb; p++) // TRIPS cdiv(m, 10) if cdiv(m, 10) * 10 <= cdiv(m, 4) * 4 else cdiv(m, 4)
#pragma unroll
                for (int e = p * M; e < p * M + M; e++)
                    if (e < mb)
                        g += s[from + e * width];
            const int at = hidden ? B1 + i : B2 + i - nh;
            if (!momentum) { // TAKEN 1 - momentum
                s[at] = s[at] - step * g;
            } else { // TAKEN momentum
                s[at + dv] = mu_ * s[at + dv] - eta_ * (g * per_m);
                s[at] = s[at] + s[at + dv];
            }
        }
        /* then BP4 for w¹ in registers (after the small ones: fewer values live beside w¹),
         * thread (c, 8g + r): ∂C/∂w¹ⱼₖ = Σₑ δ¹ₑⱼ a⁰ₑₖ for its rows j = r + 8i, δ¹ₑⱼ for the
         * pass's M examples in registers, a⁰ by the same broadcast loads as the feedforward; each
         * weight (and velocity) updated where it lies. A mini-batch of several passes takes the
         * decay (or μv − ηλw/n) with the first and w + v with the last. */
        if (!momentum) { // TAKEN 1 - momentum
            update_first_layer<false, T, M, CAP>(w, s, D1, A0 + warp * rows * CAP + quarter * H,
                                                 V1 + warp * (CAP / 4) * WARP * 4, rows, row, nh, keep, step,
                                                 mu_, eta_, l2, per_m);
        } else { // TAKEN momentum
            update_first_layer<true, T, M, CAP>(w, s, D1, A0 + warp * rows * CAP + quarter * H,
                                                V1 + warp * (CAP / 4) * WARP * 4, rows, row, nh, keep, step,
                                                mu_, eta_, l2, per_m);
        }

        __syncthreads(); /* keeps the next gather off a⁰, and the next mini-batch off δ */
        PHASE_CLOCK(3);
        turn ^= 1;
    }
    if (CL > 1)
        cluster_sync(); /* no block leaves while a peer may still read its ZO */

    // PHASE other
    /* The trained parameters (and velocities) back to global memory, once */
#pragma unroll
    for (int u = 0; u < CAP; u++) {
        const int j = row + u / H * QUARTER, col = k0 + u % H;
        if (j < nh && col < n_in)
            mine[g_w1 + (long long)j * n_in + col] = w[u];
    }
    if (momentum) { // TAKEN momentum
#pragma unroll 1
        for (int u = 0; u < CAP; u++) { // TRIPS (32 if warps * 32 >= n_in else 112)
            const int j = row + u / H * QUARTER, col = k0 + u % H;
            if (j < nh && col < n_in)
                my_velocity[g_w1 + (long long)j * n_in + col] = s[V1 + ((warp * (CAP / Q) + u / Q) * WARP + lane) * Q + u % Q];
        }
    }
    for (int i = tid; i < nh + no * nh + no; i += threads) { // TRIPS cdiv(n_hidden + n_out * n_hidden + n_out, threads)
        if (CL > 1 && rank != 0 && i >= nh + no * nh)
            break; /* b²: every block holds the same; block 0 writes it */
        const long long at = global_small<CL>(i, nh, no, NH, h0, g_b1);
        mine[at] = s[SP + i];
        if (momentum)
            my_velocity[at] = s[VS + i];
    }
}
