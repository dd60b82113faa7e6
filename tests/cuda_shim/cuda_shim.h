/* Just enough CUDA for a kernel's source to compile and run as C++20 on the CPU.
 *
 * One std::thread per CUDA thread, one cluster of blocks at a time (clusters of a grid are
 * independent, so running them in turn is one legal CUDA schedule; a kernel without
 * __cluster_dims__ has clusters of one block). threadIdx, blockIdx, blockDim and gridDim are
 * thread_local; __syncthreads() is a std::barrier over the block's threads, a warp's
 * __shfl_xor_sync a std::barrier over its 32 lanes, and the cluster barrier (sm_90's
 * __cluster_barrier_arrive/wait) a std::barrier over the cluster's threads. Each block's dynamic
 * shared memory (the kernels declare it with DYNAMIC_SHARED) is its own buffer, found filled
 * with NaN bytes (0xFF), so a read before a write shows in the results; under
 * AddressSanitizer the bytes beyond what the launch asked for are poisoned, and
 * __cluster_map_shared_rank maps an address into another block's buffer at the same offset.
 * Because the threads are real threads, ThreadSanitizer sees a missing __syncthreads() or
 * cluster barrier as the data race it is.
 */
#pragma once

#include <array>
#include <barrier>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <cstdlib>
#include <memory>
#include <optional>
#include <vector>

#define __global__
#define __device__
#define __host__
#define __shared__
#define __forceinline__ inline
#define __align__(n) __attribute__((aligned(n)))
#define __restrict__ __restrict
#define __launch_bounds__(...)
#define __cluster_dims__(...)

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
    std::unique_ptr<unsigned char, void (*)(void *)> memory{
        static_cast<unsigned char *>(std::aligned_alloc(64, shared_capacity)), &std::free}; /* dynamic shared memory */
    explicit Block(int threads) : sync(threads)
    {
        for (int w = 0; w < threads / warp_size; w++)
            warps.push_back(std::make_unique<Warp>());
    }
};

struct Cluster {
    std::barrier<> sync;
    std::vector<Block *> blocks; /* by rank */
    explicit Cluster(int threads) : sync(threads) {}
};

inline thread_local Block *block = nullptr;     /* the calling thread's block */
inline thread_local Cluster *cluster = nullptr; /* and its cluster */
inline thread_local unsigned cluster_rank = 0;  /* the block's rank in it */
inline thread_local std::optional<std::barrier<>::arrival_token> arrival; /* between arrive and wait */
inline thread_local int shuffle_turn = 0;       /* which of its warp's two slot rows a lane writes next */

}  // namespace shim

/* The block's dynamic shared memory, as the kernels name it (on a GPU: extern __shared__). */
#define DYNAMIC_SHARED(name) unsigned char *const name = shim::block->memory.get()

inline void __syncthreads() { shim::block->sync.arrive_and_wait(); }

inline unsigned __clusterRelativeBlockRank() { return shim::cluster_rank; }

inline void __cluster_barrier_arrive() { shim::arrival.emplace(shim::cluster->sync.arrive()); }

inline void __cluster_barrier_wait()
{
    if (!shim::arrival)
        std::abort(); /* a wait without its arrive */
    shim::cluster->sync.wait(std::move(*shim::arrival));
    shim::arrival.reset();
}

/* p, an address in this block's shared memory, at the same offset in block `rank`'s. */
inline void *__cluster_map_shared_rank(const void *p, unsigned rank)
{
    const auto *base = shim::block->memory.get();
    const auto offset = static_cast<const unsigned char *>(p) - base;
    if (offset < 0 || static_cast<std::size_t>(offset) >= shim::shared_capacity || rank >= shim::cluster->blocks.size())
        std::abort();
    return shim::cluster->blocks[rank]->memory.get() + offset;
}

/* CUDA's byte permute: byte i of the result is byte (s >> 4i) & 7 of the eight bytes of x (0-3)
 * and y (4-7). */
inline unsigned __byte_perm(unsigned x, unsigned y, unsigned s)
{
    const unsigned long long both = x | (static_cast<unsigned long long>(y) << 32);
    unsigned r = 0;
    for (int i = 0; i < 4; i++)
        r |= static_cast<unsigned>((both >> (8 * ((s >> (4 * i)) & 7u))) & 255u) << (8 * i);
    return r;
}

/* The float whose bits are i's. */
inline float __int_as_float(unsigned i)
{
    float f;
    std::memcpy(&f, &i, sizeof f);
    return f;
}

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
