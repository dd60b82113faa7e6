/* One epoch of mini-batch SGD in one launch: nnaccel's persistent CUDA kernel.
 *
 * The book's networks are tiny ([784,30,10], m = 10): a step is a few microseconds of GPU
 * work, less than the CPU time of one kernel launch. So, like tiny-cuda-nn's "fully fused"
 * MLP, one thread block keeps a network on-chip and does everything itself: for each
 * mini-batch it gathers the inputs, runs the feedforward, BP1–BP4 and the update, with
 * __syncthreads() between the phases, and moves on to the next mini-batch. One launch per
 * epoch, nothing read back.
 *
 * The formulas are network.backprop's and optimizers.sgd_update's (and _sgd_kernel.h's):
 *   feedforward   zˡ = wˡaˡ⁻¹ + bˡ,  aˡ = f(zˡ)       (σ = ½(1 + tanh(z/2)) as activations.py)
 *   BP1           δᴸ = aᴸ − y  [⊙ f'(zᴸ) for the quadratic cost]
 *   BP2           δˡ = (wˡ⁺¹ᵀ δˡ⁺¹) ⊙ f'(zˡ), with the weights from before this step
 *   BP3, BP4      ∂C/∂bˡ = Σₓ δˡ,  ∂C/∂wˡ = Σₓ δˡ aˡ⁻¹ᵀ   (summed over the mini-batch)
 *   plain SGD     w → (1 − ηλ/n)w − (η/m)∂C/∂w,  b → b − (η/m)∂C/∂b
 *   momentum μ    v → μv − η(∂C/∂w / m + (λ/n)w),  w → w + v;  the biases without λ
 * where m is the size of this mini-batch (the last one may be smaller). f' is written from
 * a = f(z): σ' = a(1 − a), tanh' = 1 − a², relu' = [a > 0], linear' = 1.
 *
 * Grid: one block per network. Block k trains member k of a population of K networks of one
 * shape (params and velocity are K × P, [w¹ b¹ w² b² …] per member as nnaccel.epochs.fast.flat_views
 * lays them out) with its own η, λ, μ; all members see the same data in the same order (the
 * host's permutation). Block: any multiple of 32 threads (256 on a GPU; 32 in the CPU shim).
 *
 * Dynamic shared memory, carved in this order (PersistentEpoch.shared_bytes mirrors it):
 *   size[0..L], act[0..L]   the layer widths and activation codes (int; act[0] unused)
 *   wo, ao, dof [0..L]       offsets: of wˡ in the parameters (bˡ follows it; wo[0] holds P),
 *                           of aˡ and δˡ from where the values start (int, by thread 0)
 *   w¹ b¹ … wᴸ bᴸ           the member's parameters, when SHARED_WEIGHTS (else they stay
 *                           in global memory, where the next mini-batch finds them in L2)
 *   a⁰ a¹ … aᴸ              m × size[l] each: the gathered inputs and every activation
 *   δ¹ … δᴸ                 m × size[l] each
 *
 * Only what NVRTC compiles without system headers, and what tests/cuda_shim emulates on the CPU:
 * thread/block indices, extern __shared__, __syncthreads, __shfl_xor_sync, expf/exp/tanhf/tanh;
 * the activations come from activations.cuh (persistent_epoch.source puts it in place).
 */

#include "activations.cuh"

#define TILE 8 /* examples whose sums one warp carries at once in the feedforward */
#define MAX_LAYERS 8

/* An input value: a pixel scaled exactly as DeviceData.x was (pixel / 255 in T), or a float row's own value. */
template <typename T>
__device__ __forceinline__ T input_value(unsigned char pixel) { return T(pixel) / T(255); }
template <typename T>
__device__ __forceinline__ T input_value(T value) { return value; }

/* The sums over the warp's 32 lanes of each lane's TILE = 8 values, in 9 shuffles instead of
 * 8 × 5. Each of the first three steps halves what a lane holds: it keeps one half, adds its
 * partner's copy of that half and hands over the other. Then lane l holds one partial sum, of
 * value (l / 4) % 8 over 8 lanes, and two more steps add the lanes that hold the same value.
 * Returns, in every lane l, the warp's sum of v[(l / 4) % 8]. */
template <typename T>
__device__ __forceinline__ T warp_sums(T v[TILE], int lane)
{
    int held = TILE;
#pragma unroll
    for (int offset = WARP / 2; offset >= WARP / TILE; offset /= 2) {
        held /= 2;
        const bool upper = lane & offset;
#pragma unroll
        for (int t = 0; t < held; t++) {
            const T keep = upper ? v[t + held] : v[t], give = upper ? v[t] : v[t + held];
            v[t] = keep + __shfl_xor_sync(0xffffffffu, give, offset);
        }
    }
    for (int offset = WARP / TILE / 2; offset > 0; offset /= 2)
        v[0] += __shfl_xor_sync(0xffffffffu, v[0], offset);
    return v[0];
}

template <typename T, typename Input, bool SHARED_WEIGHTS>
__global__ void sgd_epoch(T *params, T *velocity, const Input *x, const T *targets, const long long *perm,
                          const int *layout, int layers, int n, int m, int quadratic,
                          const double *eta, const double *lmbda, const double *mu)
{
    DYNAMIC_SHARED(shared);
    // PHASE other
    const int L = layers, k = blockIdx.x, tid = threadIdx.x, threads = blockDim.x;
    const int lane = tid % WARP, warp = tid / WARP, warps = threads / WARP;
    if (L < 1 || L > MAX_LAYERS) /* the driver never asks for this; leave the parameters as they are */
        return;

    /* The layer table in shared memory: widths, activation codes, and where each layer's numbers
     * live as offsets (no pointer table in local memory): wo[l] of wˡ in the parameters (bˡ
     * follows it), ao[l] of aˡ and dof[l] of δˡ from `buffers` (layers from 1 as in the book). */
    int *size = reinterpret_cast<int *>(shared), *act = size + L + 1, *wo = act + L + 1, *ao = wo + L + 1,
        *dof = ao + L + 1;
    for (int i = tid; i < 2 * (L + 1); i += threads) // TRIPS 1
        size[i] = layout[i];
    __syncthreads();
    if (tid == 0) {
        int params_at = 0, values_at = 0;
        for (int l = 1; l <= L; l++) { // TRIPS layers
            wo[l] = params_at;
            params_at += size[l] * (size[l - 1] + 1);
        }
        values_at = SHARED_WEIGHTS ? params_at : 0;
        for (int l = 0; l <= L; l++) { // TRIPS layers + 1
            ao[l] = values_at;
            values_at += m * size[l];
        }
        for (int l = 1; l <= L; l++) { // TRIPS layers
            dof[l] = values_at;
            values_at += m * size[l];
        }
        wo[0] = params_at; /* P, the parameters of one network */
    }
    __syncthreads();

    const long long P = wo[0];
    const double eta_k = eta[k], l2_k = lmbda[k] / n, mu_k = mu[k];
    T *const mine = params + k * P, *const my_velocity = mu_k != 0.0 ? velocity + k * P : nullptr;
    T *const buffers = reinterpret_cast<T *>(shared + ((5 * (L + 1) * sizeof(int) + 15) / 16) * 16);
    T *const weights = SHARED_WEIGHTS ? buffers : mine;

    if (SHARED_WEIGHTS) { /* the member's parameters move on-chip for the whole epoch */
        for (long long i = tid; i < P; i += threads) // TRIPS cdiv(params, threads)
            weights[i] = mine[i];
    }
    const int nL = size[L], n0 = size[0], aL = ao[L], dL = dof[L];
    /* Walks over (example, value) pairs in steps of `threads`, divided once here: none in a loop. */
    const int gather_e = tid / n0, gather_i = tid % n0, gather_de = threads / n0, gather_di = threads % n0;
    const int out_e = tid / nL, out_j = tid % nL, out_de = threads / nL, out_dj = threads % nL;

    for (int start = 0; start < n; start += m) { // TRIPS cdiv(n, m)
        const int mb = n - start < m ? n - start : m; /* the last mini-batch may be smaller */

        // PHASE gather
        /* The mini-batch's inputs into a⁰, rows in the order of the host's permutation; one
         * thread per input value, consecutive threads on consecutive values of a row. */
        for (int e = gather_e, i = gather_i; e < mb;) { // TRIPS cdiv(m * n_in, threads)
            buffers[ao[0] + e * n0 + i] = input_value<T>(x[perm[start + e] * n0 + i]);
            e += gather_de, i += gather_di;
            if (i >= n0)
                i -= n0, e++;
        }
        __syncthreads();

        // PHASE feedforward
        /* Feedforward, layer by layer: a warp per neuron j; its lanes split the dot products
         * wⱼ·aˡ⁻¹ₑ over the inputs (stride 32, so a warp reads 32 neighbouring values) for TILE
         * examples at once, warp_sums adds the lanes' parts, and lanes 0, 4, 8, … write the
         * TILE values aₑⱼ = f(Σ + bⱼ). */
        for (int l = 1; l <= L; l++) { // TRIPS layers
            const int n_in = size[l - 1], n_out = size[l], wl = wo[l], bl = wl + n_out * n_in, in = ao[l - 1];
            for (int j = warp; j < n_out; j += warps) { // TRIPS (cdiv(n_hidden, warps) + cdiv(n_out, warps)) / 2
                for (int e0 = 0; e0 < mb; e0 += TILE) { // TRIPS cdiv(m, 8)
                    T sum[TILE];
                    for (int t = 0; t < TILE; t++) // TRIPS 8
                        sum[t] = T(0);
                    for (int i = lane; i < n_in; i += WARP) { // TRIPS (cdiv(n_hidden, warps) * cdiv(n_in, 32) + cdiv(n_out, warps) * cdiv(n_hidden, 32)) / (cdiv(n_hidden, warps) + cdiv(n_out, warps))
                        const T wji = weights[wl + j * n_in + i];
#pragma unroll
                        for (int t = 0; t < TILE; t++)
                            if (e0 + t < mb)
                                sum[t] += wji * buffers[in + (e0 + t) * n_in + i];
                    }
                    const T z = warp_sums(sum, lane) + weights[bl + j];
                    const int e = e0 + lane / (WARP / TILE);
                    if (lane % (WARP / TILE) == 0 && e < mb)
                        buffers[ao[l] + e * n_out + j] = act[l] == SOFTMAX ? z : activate(act[l], z);
                }
            }
            __syncthreads();
        }
        if (act[L] == SOFTMAX) { /* one thread per example: aᴸ = e^(z − max z) / Σ e^(z − max z) */ // TAKEN softmax
            for (int e = tid; e < mb; e += threads) { // TRIPS cdiv(m, threads)
                T *row = buffers + aL + e * nL, top = row[0], total = T(0);
                for (int j = 1; j < nL; j++) // TRIPS n_out
                    top = row[j] > top ? row[j] : top;
                for (int j = 0; j < nL; j++) { // TRIPS n_out
                    row[j] = exp_(row[j] - top);
                    total += row[j];
                }
                for (int j = 0; j < nL; j++) // TRIPS n_out
                    row[j] /= total;
            }
            __syncthreads();
        }

        // PHASE backprop
        /* BP1, one thread per output value: δᴸ = aᴸ − y (cross-entropy with σ, log-likelihood
         * with softmax), ⊙ f'(zᴸ) for the quadratic cost; y is read where it lies, through perm. */
        for (int e = out_e, j = out_j; e < mb;) { // TRIPS cdiv(m * n_out, threads)
            const int idx = e * nL + j;
            const T d = buffers[aL + idx] - targets[perm[start + e] * nL + j];
            buffers[dL + idx] = quadratic ? d * prime(act[L], buffers[aL + idx]) : d;
            e += out_de, j += out_dj;
            if (j >= nL)
                j -= nL, e++;
        }
        __syncthreads();

        /* BP2, back through the layers, one thread per (example, neuron) of layer l − 1:
         * δˡ⁻¹ₑᵢ = (Σⱼ wˡⱼᵢ δˡₑⱼ) f'(zˡ⁻¹ₑᵢ). Consecutive threads read consecutive wⱼᵢ; all read
         * the same δˡₑⱼ. No weight has changed yet. */
        for (int l = L; l > 1; l--) { // TRIPS layers - 1
            const int n_in = size[l - 1], n_out = size[l], wl = wo[l], dl = dof[l], below = dof[l - 1], al = ao[l - 1];
            const int de = threads / n_in, di = threads % n_in; /* per layer, outside the loops below */
            for (int e = tid / n_in, i = tid % n_in; e < mb;) { // TRIPS cdiv(m * n_hidden, threads)
                T s = T(0);
                for (int j = 0; j < n_out; j++) // TRIPS n_out
                    s += weights[wl + j * n_in + i] * buffers[dl + e * n_out + j];
                buffers[below + e * n_in + i] = s * prime(act[l - 1], buffers[al + e * n_in + i]);
                e += de, i += di;
                if (i >= n_in)
                    i -= n_in, e++;
            }
            __syncthreads();
        }

        // PHASE update
        /* BP3, BP4 and the update, one thread per parameter: a weight's gradient
         * Σₑ δˡₑⱼ aˡ⁻¹ₑᵢ (BP4) and a bias's Σₑ δˡₑⱼ (BP3) are summed over the mini-batch straight
         * from the δ and a in shared memory, then the parameter (and its velocity) is
         * updated in place. Each thread touches only its own parameters, so the layers need no
         * barrier between them; the one at the end keeps the next gather off a⁰. */
        const T m_ = T(mb), keep = T(1.0 - eta_k * l2_k), step = T(eta_k / mb);
        const T mu_ = T(mu_k), eta_ = T(eta_k), l2 = T(l2_k);
        for (int l = 1; l <= L; l++) { // TRIPS layers
            const int n_in = size[l - 1], n_out = size[l], wl = wo[l], dl = dof[l], al = ao[l - 1];
            const int dj = threads / n_in, di = threads % n_in; /* per layer, outside the loops below */
            int j = tid / n_in, i = tid % n_in; /* of weight idx while idx < n_out · n_in */
            for (int idx = tid; idx < n_out * (n_in + 1); idx += threads) { // TRIPS (cdiv(n_hidden * (n_in + 1), threads) + cdiv(n_out * (n_hidden + 1), threads)) / 2
                const bool bias = idx >= n_out * n_in; /* the biases come after the weights */
                const int jb = bias ? idx - n_out * n_in : j;
                T g = T(0);
                for (int e = 0; e < mb; e++) // TRIPS m
                    g += buffers[dl + e * n_out + jb] * (bias ? T(1) : buffers[al + e * n_in + i]);
                T *p = weights + wl + idx; /* a bias's idx is n_out · n_in + j: where bˡⱼ lies */
                if (mu_k == 0.0) { // TAKEN not momentum
                    *p = bias ? *p - step * g : keep * *p - step * g;
                } else { // TAKEN momentum
                    T *v = my_velocity + wl + idx;
                    *v = mu_ * *v - eta_ * (bias ? g / m_ : g / m_ + l2 * *p);
                    *p = *p + *v;
                }
                j += dj, i += di;
                if (i >= n_in)
                    i -= n_in, j++;
            }
        }
        __syncthreads();
    }

    // PHASE other
    if (SHARED_WEIGHTS) { /* the trained parameters back to global memory, once */
        for (long long i = tid; i < P; i += threads) // TRIPS cdiv(params, threads)
            mine[i] = weights[i];
    }
}
