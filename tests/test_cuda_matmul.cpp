// CUDA matmul: every variant of the fp32 and bf16 ladders (common/ops/matmul.cu) against a float64
// reference on odd shapes (no dimension a multiple of the tiles, so every edge is crossed), all
// four trans combinations, with and without bias and accumulate; and the Linear layer's
// matmul_forward / matmul_backward against the CPU Linear (matmul.h) on bf16-rounded inputs.
//
// Tolerances, as relative errors ‖out − ref‖ / ‖ref‖ over the whole output:
//   fp32 variants                1e-5  (fp32 FMA sums; rounding grows like √K·eps ≈ 1e-6 here)
//   bf16 variants, fp32 output   1e-4  (inputs are bf16 already, so the reference takes the same
//                                       rounded values; what is left is the tensor cores' fp32
//                                       accumulation, a little coarser than IEEE fp32 sums)
//   bf16 variants, bf16 output   1e-2  (one rounding of the output to 8 bits of mantissa: ≤ 2⁻⁹
//                                       relative per element, plus the bf16 C read back when
//                                       accumulating)
// An indexing bug (a wrong element, a missed K slice, a stale stage) gives errors of order 1.
// Outputs are poisoned with NaN before a run that overwrites them, so an unwritten element fails.
#include <gtest/gtest.h>

#include "common/tensor/cuda.h"

#if SOG_HAVE_CUDA
#include <cuda_runtime.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "common/ops/cuda_ops.h"
#include "common/ops/matmul.h"
#include "common/ops/matmul_kernels.h"
#include "common/tensor/cuda_check.h"
#include "common/tensor/random.h"

using namespace sog;

namespace {

#define SKIP_WITHOUT_DEVICE() \
  if (!sog::cuda_available()) GTEST_SKIP() << sog::cuda_unavailable_reason()

// A device buffer of n elements of T, freed at scope exit.
template <typename T>
struct DeviceBuffer {
  T* ptr = nullptr;
  size_t n = 0;
  explicit DeviceBuffer(size_t count) : n(count) { cudaCheck(cudaMalloc(&ptr, std::max<size_t>(1, n) * sizeof(T))); }
  ~DeviceBuffer() { cudaFree(ptr); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  template <typename H>
  void upload(const std::vector<H>& host) {
    static_assert(sizeof(H) == sizeof(T));
    cudaCheck(cudaMemcpy(ptr, host.data(), n * sizeof(T), cudaMemcpyHostToDevice));
  }
  template <typename H>
  std::vector<H> download() const {
    static_assert(sizeof(H) == sizeof(T));
    std::vector<H> host(n);
    cudaCheck(cudaMemcpy(host.data(), ptr, n * sizeof(T), cudaMemcpyDeviceToHost));
    return host;
  }
};

// bf16 on the host as its bit pattern: round to nearest even, and back (exact).
uint16_t to_bf16_bits(float f) {
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
  for (auto& x : v) x = rng.normal();
  return v;
}
std::vector<float> rounded_to_bf16(std::vector<float> v) {
  for (auto& x : v) x = from_bf16_bits(to_bf16_bits(x));
  return v;
}
std::vector<uint16_t> bf16_bits(const std::vector<float>& v) {
  std::vector<uint16_t> h(v.size());
  for (size_t i = 0; i < v.size(); i++) h[i] = to_bf16_bits(v[i]);
  return h;
}
std::vector<float> bf16_values(const std::vector<uint16_t>& h) {
  std::vector<float> v(h.size());
  for (size_t i = 0; i < h.size(); i++) v[i] = from_bf16_bits(h[i]);
  return v;
}

struct Problem {
  int M, K, N;
  bool trans_a, trans_b, with_bias, accumulate;
};

std::string describe(const Problem& p) {
  return std::to_string(p.M) + "x" + std::to_string(p.K) + "x" + std::to_string(p.N) + (p.trans_a ? " trans_a" : "") +
         (p.trans_b ? " trans_b" : "") + (p.with_bias ? " bias" : "") + (p.accumulate ? " accumulate" : "");
}

// C (M,N) = op(A)·op(B) (+ bias) (+ C0) in float64.
std::vector<double> reference(const Problem& p, const std::vector<float>& A, const std::vector<float>& B,
                              const std::vector<float>& bias, const std::vector<float>& C0) {
  std::vector<double> C(size_t(p.M) * p.N);
  for (int i = 0; i < p.M; i++) {
    for (int j = 0; j < p.N; j++) {
      double s = 0;
      for (int k = 0; k < p.K; k++) {
        const double a = p.trans_a ? A[size_t(k) * p.M + i] : A[size_t(i) * p.K + k];
        const double b = p.trans_b ? B[size_t(j) * p.K + k] : B[size_t(k) * p.N + j];
        s += a * b;
      }
      if (p.with_bias) s += bias[j];
      if (p.accumulate) s += C0[size_t(i) * p.N + j];
      C[size_t(i) * p.N + j] = s;
    }
  }
  return C;
}

// ‖out − ref‖ / ‖ref‖; NaN (an unwritten or broken element) makes it NaN, which fails every bound.
double relative_error(const std::vector<float>& out, const std::vector<double>& ref) {
  double num = 0, den = 0;
  for (size_t i = 0; i < ref.size(); i++) {
    const double d = double(out[i]) - ref[i];
    num += d * d;
    den += ref[i] * ref[i];
  }
  return std::sqrt(num) / std::sqrt(den);
}

size_t count_non_finite(const std::vector<float>& v) {
  size_t n = 0;
  for (float x : v) n += !std::isfinite(x);
  return n;
}

// Odd shapes: none a multiple of the 32/128-wide tiles, some with a contiguous dimension that is
// not a multiple of 4 or 8 (the scalar load paths), some single-row / single-column, and some
// with K a multiple of 8 (the vector / cp.async / TMA paths, with partial tiles).
const std::vector<std::array<int, 3>> kShapes = {
    {77, 45, 93}, {130, 67, 129}, {1, 33, 5}, {257, 200, 131}, {136, 40, 264}, {9, 1, 17},
    {200, 520, 136},  // K in 9 slices of 64: the wgmma rung's 4 stages are reused twice
    {40, 64, 24},     // smaller than one block tile (and one TMA box) in M and N
};

std::vector<Problem> all_problems() {
  std::vector<Problem> problems;
  for (const auto& s : kShapes) {
    for (int flags = 0; flags < 16; flags++) {
      problems.push_back({s[0], s[1], s[2], bool(flags & 1), bool(flags & 2), bool(flags & 4), bool(flags & 8)});
    }
  }
  return problems;
}

// ================================ fp32 ladder ====================================================

TEST(CudaMatmul, F32VariantsMatchFloat64Reference) {
  SKIP_WITHOUT_DEVICE();
  const double tol = 1e-5;
  uint64_t seed = 100;
  for (const Problem& p : all_problems()) {
    const size_t a_n = size_t(p.M) * p.K, b_n = size_t(p.K) * p.N, c_n = size_t(p.M) * p.N;
    const auto A = random_floats(a_n, seed++), B = random_floats(b_n, seed++);
    const auto bias = random_floats(p.N, seed++), C0 = random_floats(c_n, seed++);
    const auto ref = reference(p, A, B, bias, C0);
    DeviceBuffer<float> dA(a_n), dB(b_n), dbias(p.N), dC(c_n);
    dA.upload(A), dB.upload(B), dbias.upload(bias);
    for (const auto& v : cuda::matmul_f32_variants()) {
      dC.upload(p.accumulate ? C0 : std::vector<float>(c_n, std::numeric_limits<float>::quiet_NaN()));
      v.fn(dC.ptr, dA.ptr, dB.ptr, p.with_bias ? dbias.ptr : nullptr, p.M, p.K, p.N, p.trans_a, p.trans_b,
           p.accumulate, nullptr);
      cudaCheck(cudaDeviceSynchronize());
      const auto C = dC.download<float>();
      EXPECT_EQ(count_non_finite(C), 0u) << v.name << " " << describe(p);
      const double err = relative_error(C, ref);
      EXPECT_LE(err, tol) << v.name << " " << describe(p);
    }
  }
}

// ================================ bf16 ladder ====================================================

int device_sm() {
  int device = 0, major = 0, minor = 0;
  cudaCheck(cudaGetDevice(&device));
  cudaCheck(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device));
  cudaCheck(cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, device));
  return major * 10 + minor;
}

// Each bf16 variant, writing fp32 and then bf16, against float64 on the bf16-rounded operands.
TEST(CudaMatmul, Bf16VariantsMatchFloat64ReferenceOnRoundedInputs) {
  SKIP_WITHOUT_DEVICE();
  const int sm = device_sm();
  int ran = 0;
  uint64_t seed = 5000;
  for (const Problem& p : all_problems()) {
    const size_t a_n = size_t(p.M) * p.K, b_n = size_t(p.K) * p.N, c_n = size_t(p.M) * p.N;
    const auto A = rounded_to_bf16(random_floats(a_n, seed++)), B = rounded_to_bf16(random_floats(b_n, seed++));
    const auto bias = rounded_to_bf16(random_floats(p.N, seed++));
    const auto C0 = rounded_to_bf16(random_floats(c_n, seed++));  // exact in bf16 and in fp32
    const auto ref = reference(p, A, B, bias, C0);
    DeviceBuffer<cuda::bf16> dA(a_n), dB(b_n), dbias(p.N), dC16(c_n);
    DeviceBuffer<float> dC32(c_n);
    dA.upload(bf16_bits(A)), dB.upload(bf16_bits(B)), dbias.upload(bf16_bits(bias));
    const cuda::bf16* bias_ptr = p.with_bias ? dbias.ptr : nullptr;
    for (const auto& v : cuda::matmul_bf16_variants()) {
      if (v.min_sm > sm) continue;
      ran++;
      // fp32 output
      dC32.upload(p.accumulate ? C0 : std::vector<float>(c_n, std::numeric_limits<float>::quiet_NaN()));
      v.fn(dC32.ptr, nullptr, dA.ptr, dB.ptr, bias_ptr, p.M, p.K, p.N, p.trans_a, p.trans_b, p.accumulate, nullptr);
      cudaCheck(cudaDeviceSynchronize());
      const auto C32 = dC32.download<float>();
      EXPECT_EQ(count_non_finite(C32), 0u) << v.name << " fp32 out " << describe(p);
      EXPECT_LE(relative_error(C32, ref), 1e-4) << v.name << " fp32 out " << describe(p);
      // bf16 output (0xFFFF is a NaN in bf16)
      dC16.upload(p.accumulate ? bf16_bits(C0) : std::vector<uint16_t>(c_n, 0xFFFFu));
      v.fn(nullptr, dC16.ptr, dA.ptr, dB.ptr, bias_ptr, p.M, p.K, p.N, p.trans_a, p.trans_b, p.accumulate, nullptr);
      cudaCheck(cudaDeviceSynchronize());
      const auto C16 = bf16_values(dC16.download<uint16_t>());
      EXPECT_EQ(count_non_finite(C16), 0u) << v.name << " bf16 out " << describe(p);
      EXPECT_LE(relative_error(C16, ref), 1e-2) << v.name << " bf16 out " << describe(p);
    }
  }
  EXPECT_GT(ran, 0) << "no bf16 variant runs on sm_" << sm;
}

// Same inputs, same bits: no atomics and no order that depends on timing.
TEST(CudaMatmul, Bf16VariantsAreDeterministic) {
  SKIP_WITHOUT_DEVICE();
  const int sm = device_sm();
  const int M = 300, K = 520, N = 200;
  DeviceBuffer<cuda::bf16> dA(size_t(M) * K), dB(size_t(K) * N);
  DeviceBuffer<float> dC(size_t(M) * N);
  dA.upload(bf16_bits(random_floats(dA.n, 1))), dB.upload(bf16_bits(random_floats(dB.n, 2)));
  for (const auto& v : cuda::matmul_bf16_variants()) {
    if (v.min_sm > sm) continue;
    // B stored (N,K): the Linear forward's layout, the one every rung runs on its fastest path
    v.fn(dC.ptr, nullptr, dA.ptr, dB.ptr, nullptr, M, K, N, false, true, false, nullptr);
    const auto first = dC.download<float>();
    v.fn(dC.ptr, nullptr, dA.ptr, dB.ptr, nullptr, M, K, N, false, true, false, nullptr);
    const auto second = dC.download<float>();
    EXPECT_EQ(std::memcmp(first.data(), second.data(), first.size() * 4), 0) << v.name;
  }
}

TEST(CudaMatmul, Bf16RejectsAmbiguousOutput) {
  SKIP_WITHOUT_DEVICE();
  DeviceBuffer<cuda::bf16> dA(64), dB(64), dC16(64);
  DeviceBuffer<float> dC32(64);
  for (const auto& v : cuda::matmul_bf16_variants()) {
    EXPECT_THROW(v.fn(nullptr, nullptr, dA.ptr, dB.ptr, nullptr, 8, 8, 8, false, false, false, nullptr),
                 std::invalid_argument)
        << v.name;
    EXPECT_THROW(v.fn(dC32.ptr, dC16.ptr, dA.ptr, dB.ptr, nullptr, 8, 8, 8, false, false, false, nullptr),
                 std::invalid_argument)
        << v.name;
  }
}

// ================================ the Linear layer ================================================

// matmul_forward / matmul_backward against the CPU Linear (matmul_kernels.h / matmul.h) on the
// same bf16-rounded values: out = inp·weightᵀ + bias, dinp = dout·weight (overwritten),
// dweight += doutᵀ·inp and dbias += Σ_rows dout (both from random starting values, so the
// accumulation is checked).
struct LinearShape {
  int N, C, OC;
};

void check_linear(const LinearShape& s, uint64_t seed) {
  const int N = s.N, C = s.C, OC = s.OC;
  const std::string where = "N=" + std::to_string(N) + " C=" + std::to_string(C) + " OC=" + std::to_string(OC);
  const auto inp = rounded_to_bf16(random_floats(size_t(N) * C, seed));
  const auto weight = rounded_to_bf16(random_floats(size_t(OC) * C, seed + 1));
  const auto bias = rounded_to_bf16(random_floats(OC, seed + 2));
  const auto dout = rounded_to_bf16(random_floats(size_t(N) * OC, seed + 3));
  const auto dweight0 = random_floats(size_t(OC) * C, seed + 4), dbias0 = random_floats(OC, seed + 5);

  // CPU: forward, then the raw backward (accumulating) from zero dinp and the starting dweight, dbias.
  std::vector<float> out_ref(size_t(N) * OC), dinp_ref(size_t(N) * C, 0.0f), dweight_ref = dweight0,
      dbias_ref = dbias0;
  matmul_naive(out_ref.data(), inp.data(), weight.data(), bias.data(), N, C, OC, false, true, false);
  matmul_backward(dinp_ref.data(), dweight_ref.data(), dout.data(), inp.data(), weight.data(), N, C, OC, false, true);
  bias_backward(dbias_ref.data(), dout.data(), N, OC);

  DeviceBuffer<cuda::bf16> d_inp(inp.size()), d_weight(weight.size()), d_bias(bias.size()), d_dout(dout.size()),
      d_out(out_ref.size()), d_dinp(dinp_ref.size());
  DeviceBuffer<float> d_dweight(dweight0.size()), d_dbias(dbias0.size());
  d_inp.upload(bf16_bits(inp)), d_weight.upload(bf16_bits(weight)), d_bias.upload(bf16_bits(bias));
  d_dout.upload(bf16_bits(dout));
  d_out.upload(std::vector<uint16_t>(out_ref.size(), 0xFFFFu));
  d_dinp.upload(std::vector<uint16_t>(dinp_ref.size(), 0xFFFFu));
  d_dweight.upload(dweight0), d_dbias.upload(dbias0);

  cuda::matmul_forward(d_out.ptr, d_inp.ptr, d_weight.ptr, d_bias.ptr, N, C, OC, nullptr);
  cuda::matmul_backward(d_dinp.ptr, d_dweight.ptr, d_dbias.ptr, d_dout.ptr, d_inp.ptr, d_weight.ptr, N, C, OC,
                        nullptr);
  cudaCheck(cudaDeviceSynchronize());

  auto as_double = [](const std::vector<float>& v) { return std::vector<double>(v.begin(), v.end()); };
  const auto out = bf16_values(d_out.download<uint16_t>());
  const auto dinp = bf16_values(d_dinp.download<uint16_t>());
  const auto dweight = d_dweight.download<float>(), dbias = d_dbias.download<float>();
  EXPECT_LE(relative_error(out, as_double(out_ref)), 1e-2) << "forward " << where;
  EXPECT_LE(relative_error(dinp, as_double(dinp_ref)), 1e-2) << "dinp " << where;
  // fp32 results from bf16 products: only the summation order differs from the CPU.
  EXPECT_LE(relative_error(dweight, as_double(dweight_ref)), 1e-4) << "dweight " << where;
  EXPECT_LE(relative_error(dbias, as_double(dbias_ref)), 1e-5) << "dbias " << where;
  EXPECT_EQ(count_non_finite(out) + count_non_finite(dinp), 0u) << where;

  // nullptr skips a gradient and leaves it untouched.
  d_dweight.upload(dweight0), d_dbias.upload(dbias0);
  cuda::matmul_backward(d_dinp.ptr, nullptr, nullptr, d_dout.ptr, d_inp.ptr, d_weight.ptr, N, C, OC, nullptr);
  cudaCheck(cudaDeviceSynchronize());
  EXPECT_EQ(d_dweight.download<float>(), dweight0) << where;
  EXPECT_EQ(d_dbias.download<float>(), dbias0) << where;
}

TEST(CudaMatmul, LinearForwardBackwardMatchCpu) {
  SKIP_WITHOUT_DEVICE();
  // GPT-like (every dimension a multiple of 8: the cp.async path, with partial tiles), odd rows,
  // and a channel count that is not a multiple of 8 (the register-load path).
  check_linear({300, 192, 200}, 10);
  check_linear({77, 96, 136}, 20);
  check_linear({65, 50, 33}, 30);
  check_linear({1, 64, 8}, 40);
  check_linear({260, 584, 264}, 50);  // C in 10 slices of 64
}

}  // namespace

#else  // !SOG_HAVE_CUDA

TEST(CudaMatmul, SkippedWithoutCuda) { GTEST_SKIP() << "built without CUDA"; }

#endif
