// CUDA LayerNorm (common/ops/layernorm.cu) against the CPU kernels of layernorm.cpp on the same bf16
// values: forward, the fused residual + LayerNorm forward, and the backward with its two-stage
// dweight/dbias reduction, at N = B·T = 3·37 rows (not a multiple of the 32-row backward blocks)
// and C = 192 (16-byte path) or C = 101 (scalar path). Outputs are poisoned first; the backward
// accumulates, so its outputs start from random values instead.
// Tolerances: bf16 outputs (out, dinp) 1e-2 (one bf16 rounding, ≤ 2⁻⁹ per element); fp32 outputs
// (mean, rstd, dweight, dbias: the same bf16 inputs, fp32 sums in another order) 1e-5.
#include <gtest/gtest.h>

#include "common/tensor/cuda.h"

#if SOG_HAVE_CUDA
#include <vector>

#include "common/ops/layernorm.h"
#include "cuda_ops_test_util.h"

using namespace sog;
using namespace sog::testing;

namespace {

constexpr int kN = 3 * 37;
const std::vector<int> kChannels = {192, 101};
constexpr double kBf16Tolerance = 1e-2, kF32Tolerance = 1e-5;
constexpr float kEps = 1e-5f;

struct LayerNormInputs {
  std::vector<float> x, weight, bias;
};
LayerNormInputs make_inputs(int N, int C, uint64_t seed) {
  LayerNormInputs in;
  in.x = random_bf16_values(size_t(N) * C, seed, 2.0f);
  for (auto& v : in.x) v = round_bf16(v + 0.5f);  // a nonzero mean per row
  in.weight = random_bf16_values(size_t(C), seed + 1);
  for (auto& w : in.weight) w = round_bf16(1.0f + 0.3f * w);
  in.bias = random_bf16_values(size_t(C), seed + 2, 0.3f);
  return in;
}

TEST(CudaLayerNorm, ForwardMatchesCpu) {
  SKIP_WITHOUT_CUDA_DEVICE();
  for (int C : kChannels) {
    const auto in = make_inputs(kN, C, 10 + C);
    Bf16Buffer x(in.x.size()), w(static_cast<size_t>(C)), b(static_cast<size_t>(C)), out(in.x.size());
    DeviceBuffer<float> mean(kN), rstd(kN);
    upload(x, in.x);
    upload(w, in.weight);
    upload(b, in.bias);
    out.poison();
    mean.poison();
    rstd.poison();
    cuda::layernorm_forward(out.ptr, mean.ptr, rstd.ptr, x.ptr, w.ptr, b.ptr, kN, C, nullptr);
    std::vector<float> ref(in.x.size()), ref_mean(kN), ref_rstd(kN);
    layernorm_forward(ref.data(), ref_mean.data(), ref_rstd.data(), in.x.data(), in.weight.data(),
                      in.bias.data(), kN, C, kEps);
    EXPECT_LT(rel_error(download(out), ref), kBf16Tolerance) << "C = " << C;
    EXPECT_LT(rel_error(download(mean), ref_mean), kF32Tolerance) << "C = " << C;
    EXPECT_LT(rel_error(download(rstd), ref_rstd), kF32Tolerance) << "C = " << C;
  }
}

TEST(CudaLayerNorm, FusedResidualForwardMatchesCpu) {
  SKIP_WITHOUT_CUDA_DEVICE();
  for (int C : kChannels) {
    const auto in = make_inputs(kN, C, 20 + C);
    const auto x2 = random_bf16_values(in.x.size(), 30 + C);
    Bf16Buffer a(in.x.size()), b2(in.x.size()), w(static_cast<size_t>(C)), b(static_cast<size_t>(C)), residual(in.x.size()),
        out(in.x.size());
    DeviceBuffer<float> mean(kN), rstd(kN);
    upload(a, in.x);
    upload(b2, x2);
    upload(w, in.weight);
    upload(b, in.bias);
    residual.poison();
    out.poison();
    mean.poison();
    rstd.poison();
    cuda::fused_residual_layernorm_forward(residual.ptr, out.ptr, mean.ptr, rstd.ptr, a.ptr, b2.ptr, w.ptr, b.ptr,
                                           kN, C, nullptr);
    std::vector<float> res(in.x.size());
    for (size_t i = 0; i < res.size(); i++) res[i] = round_bf16(in.x[i] + x2[i]);  // what the stream stores
    std::vector<float> ref(in.x.size()), ref_mean(kN), ref_rstd(kN);
    layernorm_forward(ref.data(), ref_mean.data(), ref_rstd.data(), res.data(), in.weight.data(), in.bias.data(),
                      kN, C, kEps);
    EXPECT_EQ(rel_error(download(residual), res), 0.0) << "the residual is one rounded add, C = " << C;
    EXPECT_LT(rel_error(download(out), ref), kBf16Tolerance) << "C = " << C;
    EXPECT_LT(rel_error(download(mean), ref_mean), kF32Tolerance) << "C = " << C;
    EXPECT_LT(rel_error(download(rstd), ref_rstd), kF32Tolerance) << "C = " << C;
  }
}

TEST(CudaLayerNorm, BackwardMatchesCpuAndIsDeterministic) {
  SKIP_WITHOUT_CUDA_DEVICE();
  for (int C : kChannels) {
    const auto in = make_inputs(kN, C, 40 + C);
    const auto g = random_bf16_values(in.x.size(), 50 + C);
    const auto dinp0 = random_bf16_values(in.x.size(), 60 + C, 0.5f);  // accumulated into
    const auto dw0 = random_floats(size_t(C), 70 + C), db0 = random_floats(size_t(C), 80 + C);
    std::vector<float> fwd(in.x.size()), mean_h(kN), rstd_h(kN);
    layernorm_forward(fwd.data(), mean_h.data(), rstd_h.data(), in.x.data(), in.weight.data(), in.bias.data(), kN,
                      C, kEps);

    Bf16Buffer x(in.x.size()), w(static_cast<size_t>(C)), dout(in.x.size()), dinp(in.x.size());
    DeviceBuffer<float> mean(kN), rstd(kN), dw(static_cast<size_t>(C)), db(static_cast<size_t>(C));
    DeviceBuffer<float> scratch(size_t(cuda::layernorm_backward_scratch_floats(kN, C)));
    upload(x, in.x);
    upload(w, in.weight);
    upload(dout, g);
    upload(mean, mean_h);
    upload(rstd, rstd_h);
    std::vector<float> first_dw;
    for (int run = 0; run < 2; run++) {
      upload(dinp, dinp0);
      upload(dw, dw0);
      upload(db, db0);
      scratch.poison();
      cuda::layernorm_backward(dinp.ptr, dw.ptr, db.ptr, scratch.ptr, dout.ptr, x.ptr, w.ptr, mean.ptr, rstd.ptr, kN,
                               C, nullptr);
      std::vector<float> ref_dinp = dinp0, ref_dw = dw0, ref_db = db0;
      layernorm_backward(ref_dinp.data(), ref_dw.data(), ref_db.data(), g.data(), in.x.data(), in.weight.data(),
                         mean_h.data(), rstd_h.data(), kN, C);
      EXPECT_LT(rel_error(download(dinp), ref_dinp), kBf16Tolerance) << "C = " << C;
      const auto got_dw = download(dw);
      EXPECT_LT(rel_error(got_dw, ref_dw), kF32Tolerance) << "C = " << C;
      EXPECT_LT(rel_error(download(db), ref_db), kF32Tolerance) << "C = " << C;
      if (run == 0) first_dw = got_dw;
      else EXPECT_EQ(got_dw, first_dw) << "dweight must be bitwise the same on every run, C = " << C;
    }
  }
}

}  // namespace

#else
TEST(CudaLayerNorm, Skipped) { GTEST_SKIP() << "built without CUDA"; }
#endif
