#include "common/ops/dropout.h"

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/autograd/tape.h"
#include "common/ops/op_checks.h"

namespace sog {

static constexpr int64_t kParallelFloats = 1 << 15;

void dropout_mask(uint8_t* keep, float p, Rng& rng, int64_t N) {
  for (int64_t i = 0; i < N; i++) keep[i] = rng.uniform() >= p ? 1 : 0;
}

void dropout_forward(float* out, const float* inp, const uint8_t* keep, float scale, int64_t N) {
#pragma omp parallel for simd if (parallel: N > kParallelFloats)
  for (int64_t i = 0; i < N; i++) out[i] = keep[i] ? inp[i] * scale : 0.0f;
}

void dropout_backward(float* dinp, const float* dout, const uint8_t* keep, float scale, int64_t N) {
#pragma omp parallel for simd if (parallel: N > kParallelFloats)
  for (int64_t i = 0; i < N; i++) dinp[i] += keep[i] ? dout[i] * scale : 0.0f;
}

Tensor dropout(const Tensor& x, float p, Rng& rng, bool training) {
  require_cpu_f32(x, "dropout", "x");
  if (!(p >= 0.0f && p < 1.0f)) {
    throw std::invalid_argument("dropout: p: expected a probability in [0, 1), found " + std::to_string(p));
  }
  if (!training || p == 0.0f) return x;
  const int64_t N = x.numel();
  const float scale = 1.0f / (1.0f - p);
  auto keep = std::make_shared<std::vector<uint8_t>>(N);  // (N), shared with the backward closure
  dropout_mask(keep->data(), p, rng, N);
  Tensor out = Tensor::empty(x.shape());
  dropout_forward(out.f32(), x.f32(), keep->data(), scale, N);
  if (should_record({&x})) {
    record("dropout", out, [x, keep, scale, N](const Tensor& dout) {
      dropout_backward(x.grad_ref().f32(), dout.f32(), keep->data(), scale, N);
    });
  }
  return out;
}

}  // namespace sog
