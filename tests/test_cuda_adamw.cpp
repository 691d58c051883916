// CUDA AdamW (common/optim/adamw.cu): adamw_update against the CPU AdamW::step of adamw.cpp on the
// same state (m, v and the step count set through the optimizer's accessors; the gradient scale
// applied to the CPU's gradients beforehand), on n = 1000003 (not a multiple of the 4-wide vectors
// or the block) with aligned pointers and with pointers offset by one float (the scalar path).
// squared_norm against a float64 sum, and bitwise the same on every run.
// Tolerances: fp32 arithmetic on the same inputs, only contraction into FMAs may differ: 1e-6 on
// params, m, v; the bf16 copy must be exactly the rounded fp32 params; squared_norm 1e-5 (fp32
// partial sums against float64).
#include <gtest/gtest.h>

#include "common/tensor/cuda.h"

#if SOG_HAVE_CUDA
#include <cmath>
#include <vector>

#include "common/optim/adamw.h"
#include "cuda_ops_test_util.h"

using namespace sog;
using namespace sog::testing;

namespace {

TEST(CudaAdamW, UpdateMatchesCpuStep) {
  SKIP_WITHOUT_CUDA_DEVICE();
  const int64_t n = 1000003;
  const float lr = 3e-3f, grad_scale = 0.7f;
  const AdamWConfig config{0.9f, 0.95f, 1e-8f, 0.1f};
  const int t = 5;  // the step being taken
  for (int64_t off : {0, 1}) {
    SCOPED_TRACE("offset " + std::to_string(off));
    const auto p0 = random_floats(size_t(n), 1), g = random_floats(size_t(n), 2);
    auto m0 = random_floats(size_t(n), 3, 0.1f), v0 = random_floats(size_t(n), 4, 0.1f);
    for (auto& x : v0) x = x * x;  // a second moment is ≥ 0

    DeviceBuffer<float> params(size_t(n + off)), grads(size_t(n + off)), m(size_t(n + off)), v(size_t(n + off));
    Bf16Buffer params_bf16(size_t(n + off));
    auto with_offset = [&](const std::vector<float>& x) {
      std::vector<float> y(size_t(off), 0.25f);
      y.insert(y.end(), x.begin(), x.end());
      return y;
    };
    upload(params, with_offset(p0));
    upload(grads, with_offset(g));
    upload(m, with_offset(m0));
    upload(v, with_offset(v0));
    params_bf16.poison();
    cuda::adamw_update(params.ptr + off, params_bf16.ptr + off, grads.ptr + off, m.ptr + off, v.ptr + off, n, lr,
                       config.beta1, config.beta2, config.eps, config.weight_decay, grad_scale, t, nullptr);

    AdamW cpu(n, {ParamSegment{0, n, true}}, config);
    cpu.m() = Tensor::from_vector({n}, m0);
    cpu.v() = Tensor::from_vector({n}, v0);
    cpu.set_steps_taken(t - 1);
    Tensor params_cpu = Tensor::from_vector({n}, p0);
    std::vector<float> scaled = g;
    for (auto& x : scaled) x *= grad_scale;
    cpu.step(params_cpu, Tensor::from_vector({n}, scaled), lr);

    auto drop = [&](std::vector<float> x) {
      x.erase(x.begin(), x.begin() + off);
      return x;
    };
    const auto got_p = drop(download(params));
    EXPECT_LT(rel_error(got_p, params_cpu.to_vector()), 1e-6);
    EXPECT_LT(rel_error(drop(download(m)), cpu.m().to_vector()), 1e-6);
    EXPECT_LT(rel_error(drop(download(v)), cpu.v().to_vector()), 1e-6);
    const auto got_bf16 = drop(download(params_bf16));
    size_t mismatches = 0;
    for (size_t i = 0; i < got_p.size(); i++) mismatches += got_bf16[i] != round_bf16(got_p[i]);
    EXPECT_EQ(mismatches, 0u) << "params_bf16 = bf16(params), round to nearest even";
  }
}

TEST(CudaAdamW, SquaredNormMatchesFloat64AndIsDeterministic) {
  SKIP_WITHOUT_CUDA_DEVICE();
  for (int64_t n : {int64_t(1), int64_t(1000), int64_t(1000003), int64_t(5) << 20}) {
    const auto g = random_floats(size_t(n), uint64_t(n) + 5, 0.01f);
    double ref = 0.0;
    for (float x : g) ref += double(x) * x;
    DeviceBuffer<float> grads(static_cast<size_t>(n)), out(1);
    upload(grads, g);
    out.poison();
    cuda::squared_norm(out.ptr, grads.ptr, n, nullptr);
    const float first = download(out)[0];
    EXPECT_NEAR(first, ref, 1e-5 * ref) << "n = " << n;
    out.poison();
    cuda::squared_norm(out.ptr, grads.ptr, n, nullptr);
    EXPECT_EQ(download(out)[0], first) << "a fixed reduction order: bitwise the same, n = " << n;
    // unaligned: the scalar path gives the same sum to rounding
    if (n > 1) {
      cuda::squared_norm(out.ptr, grads.ptr + 1, n - 1, nullptr);
      EXPECT_NEAR(download(out)[0], ref - double(g[0]) * g[0], 1e-5 * ref) << "n = " << n;
    }
  }
}

}  // namespace

#else
TEST(CudaAdamW, Skipped) { GTEST_SKIP() << "built without CUDA"; }
#endif
