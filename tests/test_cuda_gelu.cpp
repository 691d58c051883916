// CUDA GELU (common/ops/gelu.cu) against the CPU kernels of gelu.cpp on the same bf16 values.
// Lengths leave a scalar tail after the 16-byte vectors; offset 1 makes the pointers unaligned (the
// all-scalar path). Outputs are poisoned first.
// Tolerance: the output is bf16, one rounding (≤ 2⁻⁸ ≈ 3.9e-3 relative per element) on top of fp32
// math, so ‖gpu − cpu‖/‖cpu‖ < 1e-2. Expected: about 1.3e-3 forward and 1.6e-3 backward, the error
// of rounding the CPU's own fp32 outputs to bf16 on these inputs (computed on the CPU; no GPU has
// run this test yet); tanhf here against tanh_poly on the CPU should add far less than that.
#include <gtest/gtest.h>

#include "common/tensor/cuda.h"

#if SOG_HAVE_CUDA
#include <vector>

#include "common/ops/gelu.h"
#include "cuda_ops_test_util.h"

using namespace sog;
using namespace sog::testing;

namespace {

const std::vector<int64_t> kLengths = {1, 7, 9, 1000, 3 * 37 * 4 * 192 + 5};
const std::vector<int64_t> kOffsets = {0, 1};
constexpr double kBf16Tolerance = 1e-2;

TEST(CudaGelu, ForwardMatchesCpu) {
  SKIP_WITHOUT_CUDA_DEVICE();
  for (int64_t n : kLengths) {
    for (int64_t off : kOffsets) {
      const auto x = random_bf16_values(size_t(n), uint64_t(n) + 1, 2.0f);
      Bf16Buffer inp(size_t(n + off)), out(size_t(n + off));
      std::vector<float> padded(size_t(off), 0.5f);
      padded.insert(padded.end(), x.begin(), x.end());
      upload(inp, padded);
      out.poison();
      cuda::gelu_forward(out.ptr + off, inp.ptr + off, n, nullptr);
      std::vector<float> got = download(out);
      got.erase(got.begin(), got.begin() + off);
      std::vector<float> ref(static_cast<size_t>(n));
      gelu_forward(ref.data(), x.data(), n);
      EXPECT_LT(rel_error(got, ref), kBf16Tolerance) << "n = " << n << ", offset = " << off;
    }
  }
}

TEST(CudaGelu, BackwardMatchesCpu) {
  SKIP_WITHOUT_CUDA_DEVICE();
  for (int64_t n : kLengths) {
    for (int64_t off : kOffsets) {
      const auto x = random_bf16_values(size_t(n), uint64_t(n) + 2, 2.0f);
      const auto g = random_bf16_values(size_t(n), uint64_t(n) + 3);
      Bf16Buffer inp(size_t(n + off)), dout(size_t(n + off)), dinp(size_t(n + off));
      std::vector<float> px(size_t(off), 0.5f), pg(size_t(off), 0.5f);
      px.insert(px.end(), x.begin(), x.end());
      pg.insert(pg.end(), g.begin(), g.end());
      upload(inp, px);
      upload(dout, pg);
      dinp.poison();
      cuda::gelu_backward(dinp.ptr + off, inp.ptr + off, dout.ptr + off, n, nullptr);
      std::vector<float> got = download(dinp);
      got.erase(got.begin(), got.begin() + off);
      std::vector<float> ref(size_t(n), 0.0f);  // the CPU kernel accumulates: start from 0
      gelu_backward(ref.data(), x.data(), g.data(), n);
      EXPECT_LT(rel_error(got, ref), kBf16Tolerance) << "n = " << n << ", offset = " << off;
    }
  }
}

TEST(CudaGelu, BackwardInPlaceOverDout) {
  SKIP_WITHOUT_CUDA_DEVICE();
  const int64_t n = 4099;
  const auto x = random_bf16_values(size_t(n), 11, 2.0f), g = random_bf16_values(size_t(n), 12);
  Bf16Buffer inp(static_cast<size_t>(n)), grad(static_cast<size_t>(n));
  upload(inp, x);
  upload(grad, g);
  cuda::gelu_backward(grad.ptr, inp.ptr, grad.ptr, n, nullptr);  // dinp aliases dout
  std::vector<float> ref(size_t(n), 0.0f);
  gelu_backward(ref.data(), x.data(), g.data(), n);
  EXPECT_LT(rel_error(download(grad), ref), kBf16Tolerance);
}

}  // namespace

#else
TEST(CudaGelu, Skipped) { GTEST_SKIP() << "built without CUDA"; }
#endif
