// Helpers shared by the tests of the CUDA op kernels (test_cuda_<op>.cpp): device buffers, bf16
// rounding on the host, random inputs, poisoned outputs and the relative error every test reports.
//
// Each test runs a CUDA launcher on bf16 inputs and the CPU kernel of common/ops on the same values
// (bf16 → fp32 is exact), and compares by ‖gpu − cpu‖ / ‖cpu‖. Outputs are poisoned with 0xFF bytes
// first (NaN in both bf16 and fp32), and a NaN makes the error NaN, which fails every bound.
#pragma once
#if SOG_HAVE_CUDA
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "common/ops/cuda_ops.h"
#include "common/tensor/cuda.h"
#include "common/tensor/cuda_check.h"
#include "common/tensor/random.h"

namespace sog::testing {

#define SKIP_WITHOUT_CUDA_DEVICE() \
  if (!sog::cuda_available()) GTEST_SKIP() << sog::cuda_unavailable_reason()

// fp32 → bf16 bits, round to nearest even (finite inputs), and back (exact).
inline uint16_t bf16_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  u += 0x7FFFu + ((u >> 16) & 1u);
  return uint16_t(u >> 16);
}
inline float bf16_value(uint16_t h) {
  uint32_t u = uint32_t(h) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
inline float round_bf16(float f) { return bf16_value(bf16_bits(f)); }

// n normal(0, scale²) values, already rounded to bf16 (so the CPU sees exactly what the GPU sees).
inline std::vector<float> random_bf16_values(size_t n, uint64_t seed, float scale = 1.0f) {
  Rng rng(seed);
  std::vector<float> v(n);
  for (auto& x : v) x = round_bf16(rng.normal() * scale);
  return v;
}

inline std::vector<float> random_floats(size_t n, uint64_t seed, float scale = 1.0f) {
  Rng rng(seed);
  std::vector<float> v(n);
  for (auto& x : v) x = rng.normal() * scale;
  return v;
}

// A device allocation of n elements of T (raw cudaMalloc: the tests own their memory).
template <typename T>
struct DeviceBuffer {
  T* ptr = nullptr;
  size_t n = 0;
  explicit DeviceBuffer(size_t count) : n(count) {
    cudaCheck(cudaMalloc(&ptr, std::max<size_t>(1, n) * sizeof(T)));
  }
  ~DeviceBuffer() { cudaFree(ptr); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  // 0xFF bytes: NaN as bf16 and as fp32, −1 as int32.
  void poison() { cudaCheck(cudaMemset(ptr, 0xFF, n * sizeof(T))); }
};

using Bf16Buffer = DeviceBuffer<cuda::bf16>;

inline void upload(Bf16Buffer& dst, const std::vector<float>& src) {
  std::vector<uint16_t> bits(src.size());
  for (size_t i = 0; i < src.size(); i++) bits[i] = bf16_bits(src[i]);
  cudaCheck(cudaMemcpy(dst.ptr, bits.data(), bits.size() * 2, cudaMemcpyHostToDevice));
}
template <typename T>
inline void upload(DeviceBuffer<T>& dst, const std::vector<T>& src) {
  cudaCheck(cudaMemcpy(dst.ptr, src.data(), src.size() * sizeof(T), cudaMemcpyHostToDevice));
}

inline std::vector<float> download(const Bf16Buffer& src) {
  std::vector<uint16_t> bits(src.n);
  cudaCheck(cudaDeviceSynchronize());
  cudaCheck(cudaMemcpy(bits.data(), src.ptr, src.n * 2, cudaMemcpyDeviceToHost));
  std::vector<float> out(src.n);
  for (size_t i = 0; i < src.n; i++) out[i] = bf16_value(bits[i]);
  return out;
}
template <typename T>
inline std::vector<T> download(const DeviceBuffer<T>& src) {
  std::vector<T> out(src.n);
  cudaCheck(cudaDeviceSynchronize());
  cudaCheck(cudaMemcpy(out.data(), src.ptr, src.n * sizeof(T), cudaMemcpyDeviceToHost));
  return out;
}

// ‖got − ref‖ / ‖ref‖ in double (NaN if got holds a NaN, e.g. an unwritten poisoned element).
inline double rel_error(const std::vector<float>& got, const std::vector<float>& ref) {
  if (got.size() != ref.size()) return INFINITY;
  double diff = 0.0, norm = 0.0;
  for (size_t i = 0; i < got.size(); i++) {
    const double d = double(got[i]) - double(ref[i]);
    diff += d * d;
    norm += double(ref[i]) * double(ref[i]);
  }
  return std::sqrt(diff) / std::max(std::sqrt(norm), 1e-30);
}

inline size_t count_nan(const std::vector<float>& v) {
  return size_t(std::count_if(v.begin(), v.end(), [](float x) { return std::isnan(x); }));
}

}  // namespace sog::testing
#endif  // SOG_HAVE_CUDA
