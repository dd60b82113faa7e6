/* Just enough CUDA for a kernel's source to compile and run as C++20 on the CPU.
 *
 * One std::thread per CUDA thread, one block at a time (blocks of a grid are independent, so
 * running them in turn is one legal CUDA schedule). threadIdx, blockIdx, blockDim and gridDim
 * are thread_local; __syncthreads() is a std::barrier over the block's threads, and a warp's
 * __shfl_xor_sync a std::barrier over its 32 lanes. Dynamic shared memory (`extern __shared__ …
 * shared[]`) is one static buffer that each block finds filled with NaN bytes (0xFF), so a
 * read before a write shows in the results; under AddressSanitizer the bytes beyond what the
 * launch asked for are poisoned. Because the threads are real threads, ThreadSanitizer sees
 * a missing __syncthreads() as the data race it is.
 */
#pragma once

#include <array>
#include <barrier>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <memory>
#include <vector>

#define __global__
#define __device__
#define __host__
#define __shared__
#define __forceinline__ inline
#define __align__(n) __attribute__((aligned(n)))
#define __restrict__ __restrict
#define __launch_bounds__(...)

struct dim3 {
    unsigned x = 1, y = 1, z = 1;
};

inline thread_local dim3 threadIdx, blockIdx, blockDim, gridDim;

using std::exp; /* the float overloads too; expf and tanhf come from <cmath> as they are */
using std::tanh;

namespace shim {

constexpr int warp_size = 32;
constexpr std::size_t shared_capacity = 256 * 1024; /* above any GPU's per-block limit */

struct Warp {
    std::barrier<> sync{warp_size};
    std::array<std::array<unsigned long long, warp_size>, 2> slots{}; /* two, used in turn: see shfl */
};

struct Block {
    std::barrier<> sync;
    std::vector<std::unique_ptr<Warp>> warps;
    explicit Block(int threads) : sync(threads)
    {
        for (int w = 0; w < threads / warp_size; w++)
            warps.push_back(std::make_unique<Warp>());
    }
};

inline Block *block = nullptr;           /* the block running now */
inline thread_local int shuffle_turn = 0; /* which of its warp's two slot rows a lane writes next */

}  // namespace shim

alignas(64) inline unsigned char shared[shim::shared_capacity]; /* the kernels' `extern __shared__ shared[]` */

inline void __syncthreads() { shim::block->sync.arrive_and_wait(); }

/* Every lane gets lane src_lane's v (a broadcast), as __shfl_xor_sync below exchanges. */
template <typename T>
T __shfl_sync(unsigned mask, T v, int src_lane, int width = shim::warp_size)
{
    static_assert(sizeof(T) <= sizeof(unsigned long long));
    if (mask != 0xffffffffu || width != shim::warp_size || src_lane < 0 || src_lane >= shim::warp_size)
        std::abort();
    const int lane = threadIdx.x % shim::warp_size;
    shim::Warp &warp = *shim::block->warps[threadIdx.x / shim::warp_size];
    auto &row = warp.slots[shim::shuffle_turn];
    shim::shuffle_turn ^= 1;
    std::memcpy(&row[lane], &v, sizeof(T));
    warp.sync.arrive_and_wait();
    T got;
    std::memcpy(&got, &row[src_lane], sizeof(T));
    return got;
}

/* Every lane gets lane (its own ^ lane_mask)'s v. A lane writes its v, waits for the warp,
 * reads its partner's. The two rows of slots alternate: a lane writes a row again only after
 * the next shuffle's barrier, which every lane reaches after its read from that row. */
template <typename T>
T __shfl_xor_sync(unsigned mask, T v, int lane_mask, int width = shim::warp_size)
{
    static_assert(sizeof(T) <= sizeof(unsigned long long));
    if (mask != 0xffffffffu || width != shim::warp_size || lane_mask < 0 || lane_mask >= shim::warp_size)
        std::abort(); /* the kernels shuffle whole warps only */
    const int lane = threadIdx.x % shim::warp_size;
    shim::Warp &warp = *shim::block->warps[threadIdx.x / shim::warp_size];
    auto &row = warp.slots[shim::shuffle_turn];
    shim::shuffle_turn ^= 1;
    std::memcpy(&row[lane], &v, sizeof(T));
    warp.sync.arrive_and_wait();
    T got;
    std::memcpy(&got, &row[lane ^ lane_mask], sizeof(T));
    return got;
}
