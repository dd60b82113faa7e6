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
 *   A1   rows × n_hidden  a¹;   D2 rows × n_out δ²
 *   D1   32 × rows        δ¹, a hidden neuron's row of examples (rows past n_hidden stay 0), so
 *                         that the update loads a row's δ¹ two examples at a time, unpredicated
 *   W2T  32 × W2T_STRIDE  (at D1 + 32·rows) w² transposed: hidden neuron i's 16 weights w²ⱼᵢ, j < 16,
 *                         0 past n_out and n_hidden: backprop_in_warp's column of w² in four 16-byte
 *                         loads (one block a network, n_out ≤ 16; kept beside w² by the update).
 *                         Where the host left no room for it (D2 = D1 + 32·rows: an A100 with
 *                         momentum), backprop keeps its own phase
 *   SP   b¹ w² b²         the small parameters, in the global row's order, on-chip all epoch
 *   VS                    their velocities (momentum only)
 *   V1   W · CAP · 32     w¹'s velocity, interleaved so that a warp's 16-byte loads of one
 *                         quad of its registers are 512 consecutive bytes (momentum only)
 *   PM   2 × rows ints    the rows of x (the host's permutation) of this mini-batch and of the
 *                         next, in halves used in turn: the next one's are what its staging copies
 *   ZO   2 × rows × n_out the slice's partial sums of z² (clusters across the hidden layer);
 *        2 × rows × CL × n_hidden  every block's share of z¹, a slot a rank (across the inputs)
 *   FS   2 × 8            the update's factors (step_factors), for a whole mini-batch and the last
 *   ST   rows × span   the next mini-batch's rows as they lie in x (words: four pixels, or one
 *                         input value; span: a row's words, or a block's share of them across the
 *                         inputs), copied in while this one trains (see copy_async); where it
 *                         does not fit (an A100 with momentum), ST = 0 and the gather reads x
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
 * Wider inputs (sm_90): sgd_epoch_registers<…, CL, true> (BY_INPUTS) trains one network with
 * a cluster of CL blocks, block r holding the words [r·S, r·S + S) of a row (S = ⌈words/CL⌉
 * rounded up to whole 16-byte chunks), their columns of w¹ in registers at CAP = 32, and the
 * whole hidden layer. The blocks exchange by stores into each other's shared memory (a store
 * never waits on the SM-to-SM network; a load would): each block writes its share of z¹ into
 * its rank's slot of every block's ZO, one cluster barrier, and each adds its slots in rank
 * order (the same a¹ everywhere); backprop then takes examples r, r + CL, … in block r, which
 * writes their δ¹ and δ² into every block's D1 and D2, and a second cluster barrier. Every block
 * updates its columns of w¹ and, alike, the small parameters (block 0 writes those back). A block
 * writes a peer's ZO, D1 or D2 again only after the next mini-batch's first cluster barrier,
 * which the peer reaches once it has read them; one before the first mini-batch makes sure
 * every block has started before any writes into it.
 *
 * Only what NVRTC compiles without system headers, and what tests/cuda_shim emulates on the CPU;
 * the activations come from activations.cuh (persistent_epoch.source puts it in place).
 * Each phase starts at a `// PHASE` line; loops whose trip count depends on the sizes carry a
 * `// TRIPS` expression (per execution of what encloses them; M and CAP as the host picks them)
 * and the momentum blocks a `// TAKEN`, for benchmarks/gpu_model.py.
 */

#include "activations.cuh"

#define MAX_THREADS 256 /* register budget: CAP values of w¹ a thread take ~180-255 registers (ptxas) */
#define QUARTER 8 /* lanes per quarter warp: lane l holds rows l % QUARTER + QUARTER·i, i < ROWS */
#define ROWS 4 /* rows of w¹ a lane holds (ROWS × QUARTER = 32 hidden neurons) */
#define W2T_STRIDE 20 /* values a row of W2T: 16 and 4 of padding, so that 8 lanes' 16-byte loads hit 8 bank groups */

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
template <typename T>
__device__ __forceinline__ T *to_block(T *p, int rank) /* the same, to write (a store: no thread waits on it) */
{
    return static_cast<T *>(__cluster_map_shared_rank(p, rank));
}
#else
#define CLUSTER_DIMS(n)
__device__ __forceinline__ int cluster_rank() { return 0; }
__device__ __forceinline__ void cluster_sync() {}
template <typename T>
__device__ __forceinline__ const T *in_block(T *p, int) { return p; }
template <typename T>
__device__ __forceinline__ T *to_block(T *p, int) { return p; }
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

/* p, as a value the compiler cannot trace to where it was computed: the epilogue's addresses
 * are then computed after the mini-batch loop, not kept from the prologue's loads (ptxas held
 * some in local memory across the loop, beside w¹'s 255 registers). */
template <typename P>
__device__ __forceinline__ P *untraced(P *p)
{
#if defined(__CUDA_ARCH__)
    asm volatile("" : "+l"(p));
#endif
    return p;
}

/* Four consecutive values, aligned so that one load instruction (LDS.128; two for double) reads them. */
template <typename T>
struct alignas(4 * sizeof(T) > 16 ? 16 : 4 * sizeof(T)) Quad {
    T v[4];
};

/* Two consecutive values, aligned so that one load instruction (LDS.64; LDS.128 for double) reads them. */
template <typename T>
struct alignas(2 * sizeof(T)) Pair {
    T v[2];
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

/* A word of row `row` of x, read from global memory (where no staging area fits, ST = 0). */
template <typename Input>
__device__ __forceinline__ typename Word<Input>::type load_word(const Input *x, long long row, int n_in, int c, bool)
{
    return x[row * n_in + c];
}
__device__ __forceinline__ unsigned int load_word(const unsigned char *x, long long row, int n_in, int c, bool four)
{
    return four ? reinterpret_cast<const unsigned int *>(x + row * n_in)[c] : x[row * n_in + c];
}

/* The gather, hidden: while a mini-batch trains, its warps copy the next one's rows of x, as
 * they lie there, into the staging area ST (warp w rows w, w + W, …, its lanes their 16-byte
 * chunks, or words), by sm_80's asynchronous copy (cp.async: global → shared memory, no
 * register holds the data and no thread waits for it); before sm_80, and in the CPU shim, by
 * plain copies. Each thread waits for its own copies at the end of the update, before the
 * mini-batch's last barrier, which makes them visible to the next gather's threads. */
struct alignas(16) Chunk {
    unsigned int v[4];
};

template <typename W>
__device__ __forceinline__ void copy_async(W *to, const W *from)
{
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
    if (sizeof(W) == 16) /* .cg: through L2 only, as the data is read once */
        asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"((unsigned)__cvta_generic_to_shared(to)),
                     "l"(from)
                     : "memory");
    else
        asm volatile("cp.async.ca.shared.global [%0], [%1], %2;\n" ::"r"((unsigned)__cvta_generic_to_shared(to)),
                     "l"(from), "n"(sizeof(W))
                     : "memory");
#else
    *to = *from;
#endif
}

__device__ __forceinline__ void wait_staged() /* this thread's copies have landed */
{
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
    asm volatile("cp.async.wait_all;\n" ::: "memory");
#endif
}

/* Words [w0, w0 + count) of row `row` of x into `to` (the whole row, or a block's share of it
 * where a cluster splits the inputs), word w0 + c for c = first, first + step, …:
 * asynchronously where the words are whole (a float row's values; four pixels), else (a row of
 * pixels not a multiple of 4: cp.async moves 4, 8 or 16 bytes) by plain loads, a pixel a word. */
template <typename W, typename Input>
__device__ __forceinline__ void stage_row(W *to, const Input *x, int row, int n_in, int row_words, bool whole,
                                          int w0, int count, int first, int step)
{
    const W *const from = reinterpret_cast<const W *>(x) + (unsigned long long)(unsigned)row * (unsigned)row_words + w0;
    if (whole) {
        for (int c = first; c < count; c += step)
            copy_async(to + c, from + c);
    } else {
        for (int c = first; c < count; c += step)
            to[c] = W(x[(long long)row * n_in + w0 + c]);
    }
}

/* Byte t of a word (a pixel p), exactly, as a float: p's bits under 2²³'s exponent are 2²³ + p,
 * less 2²³ (a byte permute, its selector an immediate, and an add: no integer-to-float
 * conversion, which issues at half rate beside the add's full). Selector 0x3104 + t: bytes
 * (word's t, 0, 0, 0x4B) from (0x4B000000's 0–3, word's 4–7). */
__device__ __forceinline__ float pixel_of(unsigned int word, int t)
{
    return __int_as_float(__byte_perm(0x4B000000u, word, 0x3104u + t)) - 8388608.0f;
}

/* A pixel's value T(p) / T(255), rounded exactly as DeviceData.x divides it: p·(1/255) and
 * one correction by its residual (equal to the division for every p < 256 in float and double:
 * tests/gpu/test_register_emulated.py checks it in exact arithmetic), no table lookup. */
template <typename T>
__device__ __forceinline__ T pixel_value(float p)
{
    const T r = T(1) / T(255), x = T(p), q = x * r;
    return fma_(r, fma_(q, T(-255), x), q); /* (−q·255 as q·(−255): no negated copy of q) */
}

/* a⁰ values from a word: a float row's own value, or the values of its four pixels (one 16-byte
 * store: `at` is a multiple of 4, as every column of a word's first pixel is). */
template <typename T, typename V>
__device__ __forceinline__ void store_word(T *shared, int at, V word, bool)
{
    shared[at] = T(word);
}
template <typename T>
__device__ __forceinline__ void store_word(T *shared, int at, unsigned int word, bool four)
{
    if (four) { // TAKEN 1 if n_in % 4 == 0 else 0
        Quad<T> a;
#pragma unroll
        for (int t = 0; t < 4; t++)
            a.v[t] = pixel_value<T>(pixel_of(word, t));
        *reinterpret_cast<Quad<T> *>(shared + at) = a;
    } else { // TAKEN 0 if n_in % 4 == 0 else 1
        shared[at] = pixel_value<T>(pixel_of(word, 0));
    }
}

/* The update's factors for a mini-batch of mb examples, from the member's η, λ, μ: 1 − ηλ/n,
 * η/mb, 1/mb, μ, η, λ/n (in T, rounded as they always were), and whether μ ≠ 0. Computed once
 * before the epoch, for a whole mini-batch and the last one, instead of two float64 divisions
 * and a float one by every thread in every mini-batch, all warps waiting on them at once. */
template <typename T>
__device__ __forceinline__ void step_factors(T *f, double eta_k, double lmbda_k, double mu_k, int n, int mb)
{
    const double l2_k = lmbda_k / n;
    f[0] = T(1.0 - eta_k * l2_k);
    f[1] = T(eta_k / mb);
    f[2] = T(1) / T(mb);
    f[3] = T(mu_k);
    f[4] = T(eta_k);
    f[5] = T(l2_k);
    f[6] = mu_k != 0.0 ? T(1) : T(0); /* momentum or plain SGD */
}

/* Where a⁰ₑₖ lies: chunk k / CAP (a division by a constant: a multiply), row e, column k % CAP. */
template <int CAP>
__device__ __forceinline__ int a0_offset(int A0, int rows, int e, int col)
{
    const int chunk = col / CAP;
    return A0 + (chunk * rows + e) * CAP + col - chunk * CAP;
}

/* Σ_c s[at + c·stride] over the block's warps c < warps, added in c order: every load issued
 * before the first add (one shared-memory latency, not one a warp). */
template <typename T>
__device__ __forceinline__ T warps_sum(const T *s, int at, int stride, int warps)
{
    constexpr int MAX_WARPS = MAX_THREADS / WARP;
    T part[MAX_WARPS];
#pragma unroll
    for (int c = 0; c < MAX_WARPS; c++)
        part[c] = c < warps ? s[at + c * stride] : T(0);
    T sum = T(0);
#pragma unroll
    for (int c = 0; c < MAX_WARPS; c++)
        sum += part[c]; /* (the absent warps' zeros add nothing) */
    return sum;
}

/* One step of a reduce-scatter across a warp: lanes 2·HALF apart swap halves of their lists of
 * 2·HALF partial sums, each keeping (and adding its partner's values to) the half its lane bit
 * picks: the lower half where the bit is 0, the upper where it is 1. */
template <int HALF, typename T, int N>
__device__ __forceinline__ void exchange_halves(T (&v)[N], int lane)
{
    const bool upper = lane & (2 * HALF);
#pragma unroll
    for (int k = 0; k < HALF; k++) {
        const T keep = upper ? v[k + HALF] : v[k], send = upper ? v[k] : v[k + HALF];
        v[k] = keep + __shfl_xor_sync(0xffffffffu, send, 2 * HALF);
    }
}

/* Lane i's column of w² (w²ₖᵢ, k < 16; 0 past n_out and n_hidden), from W2T: four 16-byte loads. */
template <typename T>
__device__ __forceinline__ void load_column(T (&w2)[WARP / 2], const T *s, int W2T)
{
    const int lane = threadIdx.x % WARP;
#pragma unroll
    for (int q = 0; q < WARP / 8; q++) {
        const Quad<T> four = *reinterpret_cast<const Quad<T> *>(s + W2T + lane * W2T_STRIDE + 4 * q);
#pragma unroll
        for (int t = 0; t < 4; t++)
            w2[4 * q + t] = four.v[t];
    }
}

/* BP1 for one example whose z²ⱼ lanes hold: a² = f(z²) (softmax: the max and the sum by xor
 * shuffles of the offsets in [low, high): the lanes that hold each j once), then δ²ⱼ = a² − yⱼ
 * [⊙ f'(z²) for the quadratic cost], 0 where the lane holds no output (out) or the example is
 * padding (real). */
template <typename T>
__device__ __forceinline__ T output_delta(T z, T y, bool out, bool real, int act_out, int quadratic, int low,
                                          int high)
{
    T a;
    if (act_out == SOFTMAX) { // TAKEN softmax
        T top = out ? z : lowest(z);
#pragma unroll
        for (int offset = WARP / 2; offset > 0; offset /= 2) /* (a test the whole warp takes alike) */
            if (offset >= low && offset < high) {
                const T other = __shfl_xor_sync(0xffffffffu, top, offset);
                top = other > top ? other : top;
            }
        const T ez = out ? exp_(z - top) : T(0);
        T total = ez;
#pragma unroll
        for (int offset = WARP / 2; offset > 0; offset /= 2)
            if (offset >= low && offset < high)
                total += __shfl_xor_sync(0xffffffffu, total, offset);
        a = ez / total;
    } else { // TAKEN 1 - softmax
        a = activate(act_out, z);
    }
    T d2 = T(0);
    if (real && out) {
        d2 = a - y;
        if (quadratic) { // TAKEN quadratic
            d2 *= prime(act_out, a);
        }
    }
    return d2;
}

/* BP1 and BP2 for example r in the warp that has just computed its a¹ (lane i holds a¹ᵣᵢ, 0 past
 * n_hidden), in registers, for n_out ≤ 16 (one block a network): z²ⱼ = Σᵢ w²ⱼᵢ a¹ᵢ + b²ⱼ from
 * lane i's 16 products w²ⱼᵢ a¹ᵢ (its column of w² from W2T, 0 past n_out) summed over the warp by a
 * reduce-scatter (four exchanges halve each lane's list, lanes o = 16, 8, 4, 2 apart, and a fifth
 * adds the last value, lanes 1 apart), so that lanes 2j and 2j + 1 hold z²ⱼ; a² = f(z²) (softmax:
 * over lanes 2, 4, 8, 16 apart: each j once); δ²ⱼ = a² − y [⊙ f'(z²)] (y: yᵣⱼ, j = lane / 2);
 * then BP2 in lane i: δ¹ᵢ = Σⱼ w²ⱼᵢ δ²ⱼ f'(z¹ᵢ), δ²ⱼ shuffled from lane 2j. Writes Dᵣ of both. */
template <typename T>
__device__ __forceinline__ void backprop_in_warp(T *s, int W2T, T a1, T y, bool real, int r, int nh,
                                                 int no, int rows, int B2, int D1, int D2, int act_hidden,
                                                 int act_out, int quadratic)
{
    const int lane = threadIdx.x % WARP, j = lane / 2;
    /* the first exchange as the products are formed, four of each half at a time (8 values
     * live, not 16: fewer registers beside w¹) */
    T v[WARP / 4];
    const bool upper = lane & (WARP / 2);
    const T *const column = s + W2T + lane * W2T_STRIDE;
#pragma unroll
    for (int q = 0; q < 2; q++) {
        const Quad<T> low = *reinterpret_cast<const Quad<T> *>(column + 4 * q),
                      high = *reinterpret_cast<const Quad<T> *>(column + 4 * q + WARP / 4);
#pragma unroll
        for (int t = 0; t < 4; t++) {
            const T a = low.v[t] * a1, b = high.v[t] * a1;
            v[4 * q + t] = (upper ? b : a) + __shfl_xor_sync(0xffffffffu, upper ? a : b, WARP / 2);
        }
    }
    exchange_halves<4>(v, lane);
    exchange_halves<2>(v, lane);
    exchange_halves<1>(v, lane);
    const bool out = j < no;
    T z = v[0] + __shfl_xor_sync(0xffffffffu, v[0], 1);
    z += s[B2 + (out ? j : 0)];
    const T d2 = output_delta(z, y, out, real, act_out, quadratic, 2, WARP); /* (lanes 2j, 2j + 1 hold j) */
    if (out && !(lane & 1))
        s[D2 + r * no + j] = d2;
    T w2[WARP / 2]; /* (loaded again, not kept: fewer registers live beside w¹) */
    load_column(w2, s, W2T);
    T back = T(0); /* (k ≥ n_out adds 0·0: w2 and δ² are 0 there) */
#pragma unroll
    for (int k = 0; k < WARP / 2; k++)
        back += w2[k] * __shfl_sync(0xffffffffu, d2, 2 * k);
    if (lane < nh)
        s[D1 + lane * rows + r] = real ? back * prime(act_hidden, a1) : T(0);
}

/* BP4 and the update for the thread's slice of w¹, in registers: for each pass of M examples,
 * δ¹ₑᵣ of its four rows (e < M) in registers, ∂C/∂w¹ᵣₖ = Σₑ δ¹ₑᵣ a⁰ₑₖ four columns at a time from
 * the same broadcast loads as the feedforward (each quad feeds all four rows), then the step. The
 * same instructions for every pass (no branch to merge the registers at): the decay (or
 * μv − ηλw/n) is multiplied in with the first pass's factors and 1 (or 0) after it, and w + v
 * taken with the last pass's factor 1 (0 before). w[i·CAP/4 + u] is row r + 8i's column u. */
template <bool MOMENTUM, typename T, int M, int CAP>
__device__ __forceinline__ void update_first_layer(T (&w)[CAP], T *s, int D1, int x_base, int v_base, int rows,
                                                   int row, int nh, const T *f)
{
    const T keep = f[0], step = f[1], per_m = f[2], mu = f[3], eta = f[4], l2 = f[5]; /* step_factors' */
    constexpr int H = CAP / ROWS; /* columns of one row */
    const int lane = threadIdx.x % WARP;
    for (int p = 0; p * M < rows; p++) { // TRIPS (cdiv(m, 10) if cdiv(m, 10) * 10 <= cdiv(m, 4) * 4 else cdiv(m, 4))
        T d[ROWS][M]; /* δ¹ of rows row + 8i, two examples a load (rows past n_hidden: D1's zeros) */
#pragma unroll
        for (int i = 0; i < ROWS; i++)
#pragma unroll
            for (int e = 0; e < M; e += 2) {
                const Pair<T> two = *reinterpret_cast<const Pair<T> *>(s + D1 + (row + i * QUARTER) * rows + p * M + e);
                d[i][e] = two.v[0];
                d[i][e + 1] = two.v[1];
            }
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
 * blocks (sm_90: K clusters train K networks), each block a slice of the hidden layer
 * ([n_in, ≤ 32·CL, ≤ 32]) or, BY_INPUTS, a share of the inputs ([≤ 8·CAP·CL, ≤ 32, ≤ 32]). */
template <typename T, typename Input, int M, int CAP, int CL = 1, bool BY_INPUTS = false>
__global__ void CLUSTER_DIMS(CL) __launch_bounds__(MAX_THREADS, 1)
sgd_epoch_registers(T *params, T *velocity, const Input *x, const T *targets, const long long *perm, int n_in,
                    int n_hidden, int n_out, int act_hidden, int act_out, int n, int m, int quadratic,
                    const double *eta, const double *lmbda, const double *mu, int rows, int ZP, int A1, int D1,
                    int D2, int SP, int VS, int V1, int PM, int row_words, int ZO, int ST, int CH)
{
    DYNAMIC_SHARED(shared);
    T *const s = reinterpret_cast<T *>(shared);
    typedef typename Word<Input>::type W_t;
    const int tid = threadIdx.x, threads = blockDim.x, lane = tid % WARP, warp = tid / WARP, warps = threads / WARP;
    const int row = lane % QUARTER, quarter = lane / QUARTER; /* rows row + QUARTER·i, quarter `quarter` of the chunk */
    static_assert(CAP % (4 * ROWS) == 0, "CAP: a multiple of 16, so that each quarter warp's CAP / 4 columns are whole quads");
    static_assert(M % 2 == 0, "M: even, so that rows (a multiple of M) and a pass's first example keep D1's pairs aligned");
    constexpr int H = CAP / ROWS;
    const int k = blockIdx.x / CL, k0 = warp * CAP + quarter * H; /* the network; the thread's first column (of the block's) */
    constexpr int HB = BY_INPUTS ? 1 : CL; /* blocks across the hidden layer */
    /* the block's slice of the hidden layer: neurons [h0, h0 + nh) of NH */
    const int NH = n_hidden, rank = CL > 1 ? cluster_rank() : 0;
    const int slice = (NH + HB - 1) / HB, h0 = BY_INPUTS ? 0 : rank * slice;
    /* the block's share of a row of x: words [w_first, w_first + my_words) of row_words, the
     * columns [c0, c0 + my_cols) of w¹ and a⁰ (the whole row but BY_INPUTS) */
    const bool four = row_words != n_in;
    const int per_word = four ? 4 : 1;
    /* a block's words a row (BY_INPUTS: ⌈row_words/CL⌉ rounded up to whole 16-byte chunks), staged rows' stride */
    const int span = BY_INPUTS ? ((row_words + CL - 1) / CL + 3) / 4 * 4 : row_words;
    const int w_first = BY_INPUTS ? rank * span : 0;
    const int my_words = !BY_INPUTS ? row_words : row_words - w_first < span ? (row_words > w_first ? row_words - w_first : 0) : span;
    const int c0 = w_first * per_word, my_cols = BY_INPUTS ? my_words * per_word : n_in; /* (kernel parameters where one block: no register) */
    /* rows / M passes of M examples: p * M < rows (no register holds their number) */
    const int Q = 4; /* values per Quad */

    // PHASE other
    /* The member's parameters on-chip. The regions' offsets come as parameters
     * (register_epoch.layout computes them), so they cost no register: the kernel parameters
     * are operands in the constant bank. */
    const int nh = HB > 1 ? (NH - h0 < slice ? NH - h0 : slice) : NH, no = n_out;
    const int A0 = 0, B1 = SP, W2 = B1 + nh, B2 = W2 + no * nh;
    const int dv = VS - SP; /* a small parameter's velocity: at + dv */
    const long long g_w1 = (long long)h0 * n_in, g_b1 = (long long)NH * n_in, P = g_b1 + NH + no * NH + no;
    const bool has_velocity = mu[k] != 0.0; /* (the mini-batch loop reads it from FS: no register holds μ) */
    const int FS = ZO + (CL > 1 ? 2 * rows * (BY_INPUTS ? nh * CL : n_out) : 0); /* the update's factors: [0, 8) whole, [8, 16) last */
    T *const mine = params + k * P; /* (a long long product: K·P may pass 2³¹) */
    T *const my_velocity = velocity + (has_velocity ? k * P : 0);

    for (int i = tid; i < warps * rows * CAP; i += threads) // TRIPS cdiv(warps * min(cdiv(m, 10) * 10, cdiv(m, 4) * 4) * (32 if warps * 32 >= n_in else 112), threads)
        s[A0 + i] = T(0); /* the padding columns stay zero for the whole epoch */
    for (int i = tid; i < (WARP - nh) * rows; i += threads) // TRIPS cdiv((32 - cdiv(n_hidden, hidden_split)) * min(cdiv(m, 10) * 10, cdiv(m, 4) * 4), threads)
        s[D1 + nh * rows + i] = T(0); /* and δ¹ of the rows past n_hidden */
    for (int i = tid; i < nh + no * nh + no; i += threads) { // TRIPS cdiv(n_hidden + n_out * n_hidden + n_out, threads)
        const long long at = global_small<HB>(i, nh, no, NH, h0, g_b1);
        s[SP + i] = mine[at];
        if (has_velocity)
            s[VS + i] = my_velocity[at];
    }
    /* one block a network with n_out ≤ 16, where the host made room for W2T: backprop in the
     * feedforward's warps (backprop_in_warp) */
    const bool fused = HB == 1 && !BY_INPUTS && n_out <= WARP / 2 && D2 - D1 >= WARP * (rows + W2T_STRIDE);
    for (int i = tid; fused && i < WARP * W2T_STRIDE; i += threads) { // TRIPS cdiv(32 * 20, threads) if hidden_split * inputs_split == 1 and n_out <= 16 and transposed else 0
        const int c = i / W2T_STRIDE, j = i - c * W2T_STRIDE; /* W2T's w²ⱼ,c (a division by a constant, once) */
        s[D1 + WARP * rows + i] = c < nh && j < no ? mine[g_b1 + nh + j * nh + c] : T(0); /* (fused: one block, n_out ≤ 16) */
    }
    T w[CAP]; /* w¹ⱼ,ₖ for j = row + (u / H)·QUARTER, k = k0 + u % H: this thread's, for the whole epoch */
#pragma unroll
    for (int u = 0; u < CAP; u++) {
        const int j = row + u / H * QUARTER, col = k0 + u % H;
        w[u] = j < nh && col < my_cols ? mine[g_w1 + (long long)j * n_in + c0 + col] : T(0);
    }
    /* w¹'s velocity into the interleaved layout, by a loop: no register holds it */
    if (has_velocity) { // TAKEN momentum
#pragma unroll 1
        for (int u = 0; u < CAP; u++) { // TRIPS (32 if warps * 32 >= n_in else 112)
            const int j = row + u / H * QUARTER, col = k0 + u % H;
            s[V1 + ((warp * (CAP / Q) + u / Q) * WARP + lane) * Q + u % Q] =
                j < nh && col < my_cols ? my_velocity[g_w1 + (long long)j * n_in + c0 + col] : T(0);
        }
    }

    /* The gather: a row is row_words words (n_in / 4 when four pixels make a word: the host
     * decides), the block's my_words of them; thread t moves word t of them in every row (and
     * t + threads, … of wider rows), so where it lands in a⁰ is one offset computed here plus
     * e·CAP: no division in the loops. */
    W_t *const staged = reinterpret_cast<W_t *>(s + ST); /* the block's word c of row e at e · span + c */
    const int half = (rows + 3) / 4 * 4; /* PM's halves: mini-batch i's rows at PM + (i % 2)·half */
    int *const pm = reinterpret_cast<int *>(s + PM);
    for (int r = tid; r < 2 * m && r < n; r += threads) // TRIPS cdiv(2 * m, threads)
        pm[r < m ? r : half + r - m] = int(perm[r]); /* the first two mini-batches' */
    if (tid == 0) { /* (with no example, n = 0, only the flag f[6] is read: after the loop) */
        step_factors(s + FS, eta[k], lmbda[k], mu[k], n, m);
        step_factors(s + FS + 8, eta[k], lmbda[k], mu[k], n, n > 0 ? n - (n - 1) / m * m : m); /* the last mini-batch's size */
    }
    __syncthreads();
    /* the first mini-batch's words, staged (each later one's during the mini-batch before it) */
    const bool whole = sizeof(Input) == sizeof(W_t) || four; /* staged by cp.async */
    for (int e = warp; ST && e < (n < m ? n : m); e += warps) // TRIPS max(0, cdiv(m - warp, warps))
        stage_row(staged + e * span, x, pm[e], n_in, row_words, whole, w_first, my_words, lane, WARP);
    wait_staged();
    if (BY_INPUTS)
        cluster_sync(); /* every block of the cluster has started before any writes into a peer's memory */
    else
        __syncthreads();
    PHASE_CLOCK_START;

    int turn = 0; /* which half of ZO (clusters) and of PM this mini-batch takes */
    for (int start = 0; start < n; start += m) { // TRIPS cdiv(n, m)
        const int mb = n - start < m ? n - start : m; /* the last mini-batch may be smaller */
        int *const rows_of = pm + turn * half, *const rows_next = pm + (turn ^ 1) * half; /* PM's halves in turn */

        // PHASE gather
        /* The words staged while the previous mini-batch trained (the first: in the prologue;
         * without ST, from x), converted into a⁰: M rows at a time, their M words
         * loaded before the first is stored (one latency for M rows, not M). */
        if (BY_INPUTS) {
            /* a warp a row (rows warp, warp + W, …), its lanes the block's words of it (lane,
             * lane + 32, …): a block has a share of a row (the book's: 52 words of 196), which
             * a word a thread would leave to a few warps */
            if (ST) { // TAKEN 1
                for (int e = warp; e < mb; e += warps) // TRIPS max(0, cdiv(m - warp, warps))
                    for (int c = lane; c < my_words; c += WARP) // TRIPS cdiv(cdiv(cdiv(n_in, 4), inputs_split), 32)
                        store_word<T>(s, a0_offset<CAP>(A0, rows, e, c * per_word), staged[e * span + c], four);
            } else { // TAKEN 0
                for (int e = warp; e < mb; e += warps) // TRIPS max(0, cdiv(m - warp, warps))
                    for (int c = lane; c < my_words; c += WARP) // TRIPS cdiv(cdiv(cdiv(n_in, 4), inputs_split), 32)
                        store_word<T>(s, a0_offset<CAP>(A0, rows, e, c * per_word),
                                      load_word(x, rows_of[e], n_in, w_first + c, four), four);
            }
        } else {
            const int mine_at = a0_offset<CAP>(A0, rows, 0, tid * per_word); /* word tid of row 0 (a multiply, not a register all epoch) */
            for (int p = 0; p * M < rows; p++) { // TRIPS (cdiv(m, 10) if cdiv(m, 10) * 10 <= cdiv(m, 4) * 4 else cdiv(m, 4))
                W_t word[M];
                if (ST) { // TAKEN 1
#pragma unroll
                    for (int e = 0; e < M; e++)
                        word[e] = p * M + e < mb && tid < my_words ? staged[(p * M + e) * span + tid] : W_t(0);
                } else { // TAKEN 0
#pragma unroll
                    for (int e = 0; e < M; e++)
                        word[e] = p * M + e < mb && tid < my_words ? load_word(x, rows_of[p * M + e], n_in, w_first + tid, four) : W_t(0);
                }
#pragma unroll
                for (int e = 0; e < M; e++)
                    if (p * M + e < mb && tid < my_words)
                        store_word<T>(s, mine_at + (p * M + e) * CAP, word[e], four);
            }
            if (my_words > threads) { // TAKEN (1 if cdiv(n_in // 4, inputs_split) > threads else 0)
                /* rows of more words than threads: word t + threads, … too, a row at a time */
                for (int e = 0; e < mb; e++) // TRIPS m
                    for (int c = tid + threads; c < my_words; c += threads) // TRIPS max(0, cdiv(cdiv(n_in // 4, inputs_split), threads) - 1)
                        store_word<T>(s, a0_offset<CAP>(A0, rows, e, c * per_word),
                                      ST ? staged[e * span + c] : load_word(x, rows_of[e], n_in, w_first + c, four), four);
            }
        }
        __syncthreads();
        PHASE_CLOCK(0);

        // PHASE feedforward
        /* The next mini-batch's rows into ST, copied while this one trains (waited for at the
         * end of the update): in 16-byte chunks where a row is whole chunks (the book's 784
         * pixels: 49), else in words. */
        const int next = start + m, next_mb = n - next < m ? n - next : m;
        const int staging = ST ? next_mb : 0; /* none without a staging area */
        if (CH) { // TAKEN 1 if n_in % 16 == 0 else 0
            /* the block's chunks of each row: my_words / WPC from chunk w_first / WPC (whole
             * chunks: a row is, and span is a multiple of 4 words) */
            constexpr int WPC = 16 / sizeof(W_t); /* words a chunk */
            for (int e = warp; e < staging; e += warps) { // TRIPS max(0, cdiv(m - warp, warps))
                const Chunk *const from = reinterpret_cast<const Chunk *>(x) + (unsigned long long)(unsigned)rows_next[e] * (unsigned)CH + w_first / WPC;
                Chunk *const to = reinterpret_cast<Chunk *>(staged + e * span);
                for (int j = lane; j < my_words / WPC; j += WARP) // TRIPS cdiv(cdiv(n_in // 16, inputs_split), 32)
                    copy_async(to + j, from + j);
            }
        } else { // TAKEN 0 if n_in % 16 == 0 else 1
            for (int e = warp; e < staging; e += warps) // TRIPS max(0, cdiv(m - warp, warps))
                stage_row(staged + e * span, x, rows_next[e], n_in, row_words, whole, w_first, my_words, lane, WARP);
        }

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
            /* BY_INPUTS: the block's share of z¹ (its columns) written into every block's ZO, in
             * the slot of its rank (stores: no thread waits on them), then, after the cluster
             * barrier, each block adds its CL slots in rank order (the same a¹ in each) */
            const int zi = ZO + (turn * rows + p * M) * nh * CL; /* this pass's shares of z¹ (BY_INPUTS) */
            if (BY_INPUTS) {
                for (int e = warp; e < M; e += warps) // TRIPS max(0, cdiv((10 if cdiv(m, 10) * 10 <= cdiv(m, 4) * 4 else 4) - warp, warps))
                    if (lane < nh) {
                        const T share = warps_sum(s, ZP + e * WARP + lane, M * WARP, warps);
#pragma unroll
                        for (int r = 0; r < CL; r++)
                            *to_block(s + zi + (e * CL + rank) * nh + lane, r) = share;
                    }
                cluster_sync();
            }
            if (fused) { // TAKEN 1 if hidden_split * inputs_split == 1 and n_out <= 16 and transposed else 0
                /* a warp's examples on through BP1–BP2 from a¹ in registers (backprop_in_warp),
                 * with the lane's column of w² (this mini-batch's: updated only after it) */
                const int column = lane < nh ? lane : nh - 1;
                for (int e = warp; e < M; e += warps) { // TRIPS max(0, cdiv((10 if cdiv(m, 10) * 10 <= cdiv(m, 4) * 4 else 4) - warp, warps))
                    const int r = p * M + e, j = lane / 2;
                    const bool real = r < mb;
                    /* yᵣⱼ requested first: its global latency passes while a¹ and z² are computed */
                    const T y = real && j < no ? targets[(long long)rows_of[r] * no + j] : T(0);
                    const T sum = warps_sum(s, ZP + e * WARP + lane, M * WARP, warps);
                    const T a1 = lane < nh ? activate(act_hidden, sum + s[B1 + column]) : T(0);
                    if (lane < nh)
                        s[A1 + r * nh + lane] = a1;
                    backprop_in_warp(s, D1 + WARP * rows, a1, y, real, r, nh, no, rows, B2, D1, D2, act_hidden, act_out, quadratic);
                }
            } else { // TAKEN 0 if hidden_split * inputs_split == 1 and n_out <= 16 and transposed else 1
            for (int e = warp; e < M; e += warps) { // TRIPS max(0, cdiv((10 if cdiv(m, 10) * 10 <= cdiv(m, 4) * 4 else 4) - warp, warps))
                if (lane < nh) {
                    T sum = T(0);
                    if (BY_INPUTS) {
#pragma unroll
                        for (int r = 0; r < CL; r++)
                            sum += s[zi + (e * CL + r) * nh + lane];
                    } else {
                        sum = warps_sum(s, ZP + e * WARP + lane, M * WARP, warps);
                    }
                    s[A1 + (p * M + e) * nh + lane] = activate(act_hidden, sum + s[B1 + lane]);
                }
            }
            }
            __syncthreads();
        }

        PHASE_CLOCK(1);

        // PHASE backprop
        /* requested before backprop, so that its global latency passes while it runs: the row
         * number of this thread in the mini-batch after the next (its words are staged during the
         * next one) */
        const int after = next + m, after_mb = n - after < m ? n - after : m;
        const int first_after = tid < after_mb ? int(perm[after + tid]) : 0;
        /* warp e takes example e, lane j output neuron j: z²ₑⱼ = w²ⱼ·a¹ₑ + b²ⱼ,
         * a² = f(z²) (softmax: the row's max and sum by shuffles across the lanes), BP1
         * δ²ₑⱼ = a² − y [⊙ f'(z²) for the quadratic cost], kept in the lane's register; then BP2
         * with lane i for hidden neuron i: δ¹ₑᵢ = Σⱼ w²ⱼᵢ δ²ₑⱼ f'(z¹ₑᵢ), each δ²ₑⱼ broadcast from
         * lane j by a shuffle. Rows past this mini-batch get δ = 0.
         * This phase runs for clusters, for n_out > 16, and for one block without room for W2T
         * (one block with n_out ≤ 16 otherwise runs BP1–BP2 in the feedforward's warps: see
         * backprop_in_warp). Where n_out ≤ 16 outside a cluster across the inputs, a warp takes
         * two examples at once, one a half warp (lane 16h + j: example h, output neuron j; the
         * book's 10 over 8 warps: one round, not two): one instruction computes both z², both a²
         * and both δ², and BP2 shuffles each δ²ₑⱼ from its half. (Softmax's sums over a half are
         * the whole warp's: the other half's lanes add only zeros there.) */
        const int zo = ZO + turn * rows * no; /* this mini-batch's half of ZO (a hidden layer in slices) */
        if (HB > 1) {
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
        /* BY_INPUTS: every block has the same a¹, so block r takes examples r, r + CL, … (the
         * book's 10 over 4 blocks: 3 at most, a warp each) and then copies the others' δ */
        const int e0 = BY_INPUTS ? rank + warp * CL : warp, e_step = BY_INPUTS ? warps * CL : warps;
        /* examples a warp takes at once, and lanes each (BY_INPUTS: one; a block has 3 of the book's 10) */
        const int pack = !BY_INPUTS && no <= WARP / 2 ? 2 : 1, width = WARP / pack;
        const int h = pack == 2 ? lane / (WARP / 2) : 0, j_out = lane - h * width; /* this lane's example of them, and output neuron */
        for (int e_first = fused ? rows : e0; e_first < rows; e_first += pack * e_step) { // TRIPS 0 if hidden_split * inputs_split == 1 and n_out <= 16 and transposed else max(0, cdiv(min(cdiv(m, 10) * 10, cdiv(m, 4) * 4) - warp * inputs_split, warps * inputs_split * (2 if n_out <= 16 and inputs_split == 1 else 1)))
            const int e_mine = e_first + h * e_step; /* this lane's example */
            const bool kept = e_mine < rows, real = e_mine < mb;
            const int e = kept ? e_mine : e_first; /* (a lane past the rows computes the first again, and keeps nothing) */
            const bool out = j_out < no;
            /* yₑⱼ requested first: its global latency passes while z² is computed */
            const T y = real && out ? targets[(long long)rows_of[e] * no + j_out] : T(0);
            T z = T(0);
            if (out) {
                if (HB == 1) {
                    /* two chains of FMAs (i even, i odd), added at the end */
                    T z_odd = T(0);
                    const int pairs = nh / 2;
#pragma unroll 5
                    for (int i = 0; i < pairs; i++) { // TRIPS n_hidden // 2
                        z += s[W2 + j_out * nh + 2 * i] * s[A1 + e * nh + 2 * i];
                        z_odd += s[W2 + j_out * nh + 2 * i + 1] * s[A1 + e * nh + 2 * i + 1];
                    }
                    if (nh & 1)
                        z += s[W2 + j_out * nh + nh - 1] * s[A1 + e * nh + nh - 1];
                    z += z_odd;
                } else {
                    /* in rank order, so every block has the same sum (the model: one trip a block) */
                    for (int r = 0; r < HB; r++) // TRIPS 1
                        z += in_block(s + zo + e * no + j_out, r)[0];
                }
                z += s[B2 + j_out];
            }
            const T d2 = output_delta(z, y, out, real, act_out, quadratic, 1, width);
            if (kept && out) {
                s[D2 + e * no + j_out] = d2;
                if (BY_INPUTS) /* and into the peers' D2 (BY_INPUTS: the other blocks do not compute it) */
#pragma unroll
                    for (int r = 0; r < CL; r++)
                        if (r != rank)
                            *to_block(s + D2 + e * no + j_out, r) = d2;
            }
            /* BP2, lane i for hidden neuron i, for the warp's examples (one a half, where two) */
            T back[2] = {T(0), T(0)};
            const int column = lane < nh ? lane : nh - 1; /* lanes past n_hidden read a real column, and keep nothing */
#pragma unroll 5
            for (int j = 0; j < no; j++) { // TRIPS n_out
                const T w2 = s[W2 + j * nh + column];
                back[0] += w2 * __shfl_sync(0xffffffffu, d2, j);
                if (pack == 2) // TAKEN 1 if n_out <= 16 and inputs_split == 1 else 0
                    back[1] += w2 * __shfl_sync(0xffffffffu, d2, width + j);
            }
#pragma unroll
            for (int g = 0; g < 2; g++) {
                const int e_g = e_first + g * e_step; /* the example of half g */
                if (g < pack && e_g < rows && lane < nh) {
                    const T d1 = e_g < mb ? (g ? back[1] : back[0]) * prime(act_hidden, s[A1 + e_g * nh + lane]) : T(0);
                    s[D1 + lane * rows + e_g] = d1;
                    if (BY_INPUTS) /* and into the peers' D1 */
#pragma unroll
                        for (int r = 0; r < CL; r++)
                            if (r != rank)
                                *to_block(s + D1 + lane * rows + e_g, r) = d1;
                }
            }
        }
        /* BY_INPUTS: after the cluster barrier every block has every example's δ (a block writes
         * a peer's D1, D2 and ZO again only after the next mini-batch's first cluster barrier,
         * which the peer reaches once it has read them) */
        if (BY_INPUTS)
            cluster_sync(); /* (the block's barrier too) */
        else
            __syncthreads();
        PHASE_CLOCK(2);

        // PHASE update
        /* backprop has read this mini-batch's row numbers: its half of PM takes those of the
         * mini-batch after the next, staged during the next (the loop's last barrier orders
         * these; the first was requested before backprop) */
        if (tid < after_mb)
            rows_of[tid] = first_after;
        for (int r = tid + threads; r < after_mb; r += threads) // TRIPS max(0, cdiv(m, threads) - 1)
            rows_of[r] = int(perm[after + r]);
        const T *const f = s + FS + (mb == m ? 0 : 8); /* step_factors' */
        const bool momentum = f[6] != T(0); /* each branch reads the factors it uses, where it uses them */
        /* BP3 for b¹ and b², BP4 for w² (one thread per parameter, sums over the mini-batch
         * from δ and a¹ in shared memory, updated in place): warp j' takes w²ⱼ' row by row (lane i
         * for column i), and the biases go to the block's last threads, so that the warps with a
         * second row of w² (the first n_out − W) take no bias. A pass's M values (or pairs) are
         * all loaded before the first is added: one shared-memory latency a pass, not one a
         * product (rows past mb are in the tile: their products are loaded and skipped). */
        for (int j = warp; j < no; j += warps) { // TRIPS max(0, cdiv(n_out - warp, warps))
            if (lane < nh) {
                T g = T(0);
                for (int p = 0; p * M < mb; p++) { // TRIPS cdiv(m, 10) if cdiv(m, 10) * 10 <= cdiv(m, 4) * 4 else cdiv(m, 4)
                    T d[M], a[M];
#pragma unroll
                    for (int e = 0; e < M; e++) {
                        d[e] = s[D2 + (p * M + e) * no + j];
                        a[e] = s[A1 + (p * M + e) * nh + lane];
                    }
#pragma unroll
                    for (int e = 0; e < M; e++)
                        if (p * M + e < mb)
                            g += d[e] * a[e];
                }
                const int at = W2 + j * nh + lane;
                if (!momentum) { // TAKEN 1 - momentum
                    s[at] = f[0] * s[at] - f[1] * g; /* (1 − ηλ/n) w − (η/m) g */
                } else { // TAKEN momentum
                    s[at + dv] = f[3] * s[at + dv] - f[4] * (g * f[2] + f[5] * s[at]); /* μv − η(g/m + (λ/n) w) */
                    s[at] = s[at] + s[at + dv];
                }
                if (fused) /* and its copy in W2T */
                    s[D1 + WARP * rows + lane * W2T_STRIDE + j] = s[at];
            }
        }
        for (int i = threads - 1 - tid; i < nh + no; i += threads) { // TRIPS max(0, cdiv(cdiv(n_hidden, hidden_split) + n_out - (threads - 32 * (warp + 1)), threads))
            const bool hidden = i < nh;
            const int width = hidden ? 1 : no, from = hidden ? D1 + i * rows : D2 + i - nh; /* (D1: a row a neuron) */
            T g = T(0);
            for (int p = 0; p * M < mb; p++) { // TRIPS cdiv(m, 10) if cdiv(m, 10) * 10 <= cdiv(m, 4) * 4 else cdiv(m, 4)
                T d[M];
#pragma unroll
                for (int e = 0; e < M; e++)
                    d[e] = s[from + (p * M + e) * width];
#pragma unroll
                for (int e = 0; e < M; e++)
                    if (p * M + e < mb)
                        g += d[e];
            }
            const int at = hidden ? B1 + i : B2 + i - nh;
            if (!momentum) { // TAKEN 1 - momentum
                s[at] = s[at] - f[1] * g;
            } else { // TAKEN momentum
                s[at + dv] = f[3] * s[at + dv] - f[4] * (g * f[2]);
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
                                                 V1 + warp * (CAP / 4) * WARP * 4, rows, row, nh, f);
        } else { // TAKEN momentum
            update_first_layer<true, T, M, CAP>(w, s, D1, A0 + warp * rows * CAP + quarter * H,
                                                V1 + warp * (CAP / 4) * WARP * 4, rows, row, nh, f);
        }

        wait_staged(); /* this thread's copies of the next mini-batch's rows, for the barrier to show */
        __syncthreads(); /* keeps the next gather off a⁰, and the next mini-batch off δ */
        PHASE_CLOCK(3);
        turn ^= 1;
    }
    if (CL > 1)
        cluster_sync(); /* no block leaves while a peer may still read its ZO */

    // PHASE other
    /* The trained parameters (and velocities) back to global memory, once. Whether μ ≠ 0 is
     * read again from FS (no register holds it, nor a velocity pointer, across the epoch) */
    const bool kept_velocity = s[FS + 6] != T(0);
    T *const velocity_out = velocity + (kept_velocity ? k * P : 0);
    T *const trained = untraced(mine); /* (its addresses computed here, not kept from the prologue's) */
#pragma unroll
    for (int u = 0; u < CAP; u++) {
        const int j = row + u / H * QUARTER, col = k0 + u % H;
        if (j < nh && col < my_cols)
            trained[g_w1 + (long long)j * n_in + c0 + col] = w[u];
    }
    if (kept_velocity) { // TAKEN momentum
#pragma unroll 1
        for (int u = 0; u < CAP; u++) { // TRIPS (32 if warps * 32 >= n_in else 112)
            const int j = row + u / H * QUARTER, col = k0 + u % H;
            if (j < nh && col < my_cols)
                velocity_out[g_w1 + (long long)j * n_in + c0 + col] = s[V1 + ((warp * (CAP / Q) + u / Q) * WARP + lane) * Q + u % Q];
        }
    }
    for (int i = tid; i < nh + no * nh + no; i += threads) { // TRIPS cdiv(n_hidden + n_out * n_hidden + n_out, threads)
        if (CL > 1 && rank != 0 && (BY_INPUTS || i >= nh + no * nh))
            break; /* b² (BY_INPUTS: every small parameter): every block holds the same; block 0 writes it */
        const long long at = global_small<HB>(i, nh, no, NH, h0, g_b1);
        mine[at] = s[SP + i];
        if (kept_velocity)
            velocity_out[at] = s[VS + i];
    }
}
