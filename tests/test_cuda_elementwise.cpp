// CUDA elementwise launchers (common/ops/elementwise.cu): float_to_bf16, bf16_to_float and
// add_inplace, bit for bit against a host implementation of the same rounding (round to nearest
// even), at lengths that leave a scalar tail after the 16-byte vectors, and on pointers offset by
// one element (not 16-byte aligned: the all-scalar path). Outputs are poisoned first.
#include <gtest/gtest.h>

#include "common/tensor/cuda.h"

#if SOG_HAVE_CUDA
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "common/ops/cuda_ops.h"
#include "common/tensor/cuda_check.h"
#include "common/tensor/random.h"

using namespace sog;

namespace {

#define SKIP_WITHOUT_DEVICE() \
  if (!sog::cuda_available()) GTEST_SKIP() << sog::cuda_unavailable_reason()

template <typename T>
struct DeviceBuffer {
  T* ptr = nullptr;
  explicit DeviceBuffer(size_t n) { cudaCheck(cudaMalloc(&ptr, std::max<size_t>(1, n) * sizeof(T))); }
  ~DeviceBuffer() { cudaFree(ptr); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
};

uint16_t to_bf16_bits(float f) {  // round to nearest even (finite inputs)
  uint32_t u;
  std::memcpy(&u, &f, 4);
  u += 0x7FFFu + ((u >> 16) & 1u);
  return uint16_t(u >> 16);
}
float from_bf16_bits(uint16_t h) {
  uint32_t u = uint32_t(h) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

std::vector<float> random_floats(size_t n, uint64_t seed) {
  Rng rng(seed);
  std::vector<float> v(n);
  for (auto& x : v) x = rng.normal() * 3.0f;
  return v;
}

// Lengths: below one vector, exactly one, vectors plus a tail, and a large odd one (many blocks
// of the grid-stride loop).
const std::vector<int64_t> kLengths = {1, 7, 8, 9, 1000, 1 << 20, (1 << 20) + 13};
// Element offsets of both pointers: 0 (16-byte aligned: vectors) and 1 (scalar path).
const std::vector<int64_t> kOffsets = {0, 1};

TEST(CudaElementwise, FloatToBf16RoundsToNearestEven) {
  SKIP_WITHOUT_DEVICE();
  for (int64_t n : kLengths) {
    for (int64_t off : kOffsets) {
      auto x = random_floats(size_t(n + off), uint64_t(n) + 7);
      // values exactly halfway between two bf16 (ties go to the even one)
      for (int64_t i = 0; i < std::min<int64_t>(n, 4); i++) {
        const float base = from_bf16_bits(uint16_t(0x3F80u + 2 * i + (i % 2)));  // 1.0 and neighbours
        uint32_t u;
        std::memcpy(&u, &base, 4);
        u |= 0x8000u;  // add half an ulp of bf16
        std::memcpy(&x[size_t(off + i)], &u, 4);
      }
      DeviceBuffer<float> in(n + off);
      DeviceBuffer<cuda::bf16> out(n + off);
      cudaCheck(cudaMemcpy(in.ptr, x.data(), x.size() * 4, cudaMemcpyHostToDevice));
      cudaCheck(cudaMemset(out.ptr, 0xFF, size_t(n + off) * 2));  // NaN
      cuda::float_to_bf16(out.ptr + off, in.ptr + off, n, nullptr);
      cudaCheck(cudaDeviceSynchronize());
      std::vector<uint16_t> got(size_t(n + off));
      cudaCheck(cudaMemcpy(got.data(), out.ptr, got.size() * 2, cudaMemcpyDeviceToHost));
      int64_t mismatches = 0;
      for (int64_t i = off; i < n + off; i++) mismatches += got[size_t(i)] != to_bf16_bits(x[size_t(i)]);
      EXPECT_EQ(mismatches, 0) << "n=" << n << " offset=" << off;
      if (off) {
        EXPECT_EQ(got[0], 0xFFFFu) << "wrote before the start, n=" << n;
      }
    }
  }
}

TEST(CudaElementwise, Bf16ToFloatIsExact) {
  SKIP_WITHOUT_DEVICE();
  for (int64_t n : kLengths) {
    for (int64_t off : kOffsets) {
      const auto x = random_floats(size_t(n + off), uint64_t(n) + 11);
      std::vector<uint16_t> h(x.size());
      for (size_t i = 0; i < x.size(); i++) h[i] = to_bf16_bits(x[i]);
      DeviceBuffer<cuda::bf16> in(n + off);
      DeviceBuffer<float> out(n + off);
      cudaCheck(cudaMemcpy(in.ptr, h.data(), h.size() * 2, cudaMemcpyHostToDevice));
      cudaCheck(cudaMemset(out.ptr, 0xFF, size_t(n + off) * 4));  // NaN
      cuda::bf16_to_float(out.ptr + off, in.ptr + off, n, nullptr);
      cudaCheck(cudaDeviceSynchronize());
      std::vector<float> got(size_t(n + off));
      cudaCheck(cudaMemcpy(got.data(), out.ptr, got.size() * 4, cudaMemcpyDeviceToHost));
      int64_t mismatches = 0;
      for (int64_t i = off; i < n + off; i++) mismatches += !(got[size_t(i)] == from_bf16_bits(h[size_t(i)]));
      EXPECT_EQ(mismatches, 0) << "n=" << n << " offset=" << off;
    }
  }
}

// a = bf16(float(a) + float(b)): the fp32 sum of two bf16 values is exact, so one rounding.
TEST(CudaElementwise, AddInplaceMatchesHost) {
  SKIP_WITHOUT_DEVICE();
  for (int64_t n : kLengths) {
    for (int64_t off : kOffsets) {
      const auto xa = random_floats(size_t(n + off), uint64_t(n) + 13);
      const auto xb = random_floats(size_t(n + off), uint64_t(n) + 17);
      std::vector<uint16_t> ha(xa.size()), hb(xb.size());
      for (size_t i = 0; i < xa.size(); i++) ha[i] = to_bf16_bits(xa[i]), hb[i] = to_bf16_bits(xb[i]);
      DeviceBuffer<cuda::bf16> a(n + off), b(n + off);
      cudaCheck(cudaMemcpy(a.ptr, ha.data(), ha.size() * 2, cudaMemcpyHostToDevice));
      cudaCheck(cudaMemcpy(b.ptr, hb.data(), hb.size() * 2, cudaMemcpyHostToDevice));
      cuda::add_inplace(a.ptr + off, b.ptr + off, n, nullptr);
      cudaCheck(cudaDeviceSynchronize());
      std::vector<uint16_t> got(ha.size());
      cudaCheck(cudaMemcpy(got.data(), a.ptr, got.size() * 2, cudaMemcpyDeviceToHost));
      int64_t mismatches = 0;
      for (int64_t i = off; i < n + off; i++) {
        const float sum = from_bf16_bits(ha[size_t(i)]) + from_bf16_bits(hb[size_t(i)]);
        mismatches += got[size_t(i)] != to_bf16_bits(sum);
      }
      EXPECT_EQ(mismatches, 0) << "n=" << n << " offset=" << off;
      if (off) {
        EXPECT_EQ(got[0], ha[0]) << "wrote before the start, n=" << n;
      }
    }
  }
}

TEST(CudaElementwise, EmptyIsANoOp) {
  SKIP_WITHOUT_DEVICE();
  EXPECT_NO_THROW(cuda::float_to_bf16(nullptr, nullptr, 0, nullptr));
  EXPECT_NO_THROW(cuda::bf16_to_float(nullptr, nullptr, 0, nullptr));
  EXPECT_NO_THROW(cuda::add_inplace(nullptr, nullptr, 0, nullptr));
  EXPECT_EQ(cudaDeviceSynchronize(), cudaSuccess);
}

}  // namespace

#else  // !SOG_HAVE_CUDA

TEST(CudaElementwise, SkippedWithoutCuda) { GTEST_SKIP() << "built without CUDA"; }

#endif
