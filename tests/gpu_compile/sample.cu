// A stand-in for the persistent kernel's source, in its form: templates instantiated through
// name expressions, a block-wide phase through dynamic shared memory. It proves the .cu route
// of tests/gpu_compile (name expressions, lowered names, the ptxas report) on its own.

template <typename T>
__global__ void scale_rows(const T* __restrict__ x, T* __restrict__ y, int rows, int cols, T eta) {
    extern __shared__ unsigned char smem[];
    T* row = reinterpret_cast<T*>(smem);
    for (int r = blockIdx.x; r < rows; r += gridDim.x) {
        for (int c = threadIdx.x; c < cols; c += blockDim.x) row[c] = x[r * cols + c];
        __syncthreads();
        for (int c = threadIdx.x; c < cols; c += blockDim.x) y[r * cols + c] = eta * row[cols - 1 - c];
        __syncthreads();
    }
}
