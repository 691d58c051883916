// CUDA fused classifier (common/ops/cross_entropy.cu) against the CPU cross_entropy_forward /
// cross_entropy_backward and gather_logprobs_forward of cross_entropy.cpp on the same bf16 logits:
// N = 3·37 rows, V = 1000 real columns padded to Vp = 1024 (16-byte path) or Vp = 1003 (scalar
// path); some targets ignored (−1), weights ≥ 0 with a zero among them, or no weights at all.
// Outputs are poisoned first (losses; the logits buffer is overwritten with dlogits in place).
// Tolerances: losses and log-probabilities are fp32 from the same bf16 logits (expf/logf here,
// the CPU's polynomial exp there): 1e-5. dlogits are bf16 (one rounding): 1e-2. The padding
// columns and ignored rows must be exactly 0.
#include <gtest/gtest.h>

#include "common/tensor/cuda.h"

#if SOG_HAVE_CUDA
#include <vector>

#include "common/ops/cross_entropy.h"
#include "cuda_ops_test_util.h"

using namespace sog;
using namespace sog::testing;

namespace {

constexpr int kN = 3 * 37, kV = 1000;
const std::vector<int> kPaddedV = {1024, 1003};

std::vector<int32_t> targets_with_ignored(int N, int V, uint64_t seed) {
  Rng rng(seed);
  std::vector<int32_t> t(static_cast<size_t>(N));
  for (int i = 0; i < N; i++) t[size_t(i)] = (i % 7 == 3) ? -1 : int32_t(rng.below(uint64_t(V)));
  return t;
}

void run_case(int Vp, bool with_weights) {
  SCOPED_TRACE("Vp = " + std::to_string(Vp) + (with_weights ? ", weighted" : ", unweighted"));
  const auto logits = random_bf16_values(size_t(kN) * Vp, uint64_t(Vp) + with_weights, 2.0f);
  const auto targets = targets_with_ignored(kN, kV, uint64_t(Vp) + 7);
  std::vector<float> weights(size_t(kN), 1.0f);
  if (with_weights) {
    Rng rng(uint64_t(Vp) + 9);
    for (auto& w : weights) w = rng.uniform() * 2.0f;
    weights[5] = 0.0f;  // a row that counts for nothing
  }
  double wsum = 0.0;
  for (int i = 0; i < kN; i++) wsum += targets[size_t(i)] == -1 ? 0.0 : weights[size_t(i)];
  const float dloss_scale = float(1.0 / wsum);

  Bf16Buffer d_logits(logits.size());
  DeviceBuffer<float> losses(static_cast<size_t>(kN)), d_weights(static_cast<size_t>(kN));
  DeviceBuffer<int32_t> d_targets(static_cast<size_t>(kN));
  upload(d_logits, logits);
  upload(d_targets, targets);
  upload(d_weights, weights);
  losses.poison();
  cuda::fused_classifier(d_logits.ptr, losses.ptr, d_targets.ptr, with_weights ? d_weights.ptr : nullptr,
                         dloss_scale, kN, kV, Vp, nullptr);

  std::vector<float> ref_losses(static_cast<size_t>(kN)), ref_lse(static_cast<size_t>(kN)), ref_dlogits(logits.size(), 0.0f);
  cross_entropy_forward(ref_losses.data(), ref_lse.data(), logits.data(), targets.data(), kN, kV, Vp, -1);
  cross_entropy_backward(ref_dlogits.data(), logits.data(), ref_lse.data(), targets.data(),
                         with_weights ? weights.data() : nullptr, dloss_scale, kN, kV, Vp, -1);
  EXPECT_LT(rel_error(download(losses), ref_losses), 1e-5);
  const auto dlogits = download(d_logits);
  EXPECT_LT(rel_error(dlogits, ref_dlogits), 1e-2);
  size_t nonzero_padding = 0, nonzero_ignored = 0;
  for (int i = 0; i < kN; i++) {
    for (int v = 0; v < Vp; v++) {
      const float d = dlogits[size_t(i) * Vp + v];
      if (v >= kV && d != 0.0f) nonzero_padding++;
      if (targets[size_t(i)] == -1 && d != 0.0f) nonzero_ignored++;
    }
  }
  EXPECT_EQ(nonzero_padding, 0u) << "padding columns v >= V get no gradient";
  EXPECT_EQ(nonzero_ignored, 0u) << "ignored rows get no gradient";
}

TEST(CudaCrossEntropy, FusedClassifierMatchesCpu) {
  SKIP_WITHOUT_CUDA_DEVICE();
  for (int Vp : kPaddedV) {
    run_case(Vp, false);
    run_case(Vp, true);
  }
}

TEST(CudaCrossEntropy, GatherLogprobsMatchesCpu) {
  SKIP_WITHOUT_CUDA_DEVICE();
  for (int Vp : kPaddedV) {
    const auto logits = random_bf16_values(size_t(kN) * Vp, uint64_t(Vp) + 20, 2.0f);
    Rng rng(uint64_t(Vp) + 21);
    std::vector<int32_t> ids(static_cast<size_t>(kN));
    for (auto& id : ids) id = int32_t(rng.below(kV));
    Bf16Buffer d_logits(logits.size());
    DeviceBuffer<int32_t> d_ids(ids.size());
    DeviceBuffer<float> out(static_cast<size_t>(kN));
    upload(d_logits, logits);
    upload(d_ids, ids);
    out.poison();
    cuda::gather_logprobs_forward(out.ptr, d_logits.ptr, d_ids.ptr, kN, kV, Vp, nullptr);
    std::vector<float> ref(static_cast<size_t>(kN)), lse(static_cast<size_t>(kN));
    gather_logprobs_forward(ref.data(), lse.data(), logits.data(), ids.data(), kN, kV, Vp);
    EXPECT_LT(rel_error(download(out), ref), 1e-5) << "Vp = " << Vp;
    EXPECT_EQ(download(d_logits), logits) << "the logits are read only";
  }
}

}  // namespace

#else
TEST(CudaCrossEntropy, Skipped) { GTEST_SKIP() << "built without CUDA"; }
#endif
