#include "common/optim/adamw.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <vector>

#include "common/cpu/kernels.h"

namespace sog {

AdamW::AdamW(int64_t num_params, std::vector<ParamSegment> segments, AdamWConfig config)
    : segments_(std::move(segments)), config_(config) {
  int64_t covered = 0;
  for (const auto& s : segments_) {
    if (s.offset != covered) {
      throw std::invalid_argument("AdamW: parameter segments must tile the buffer in order: expected offset " +
                                  std::to_string(covered) + ", found " + std::to_string(s.offset));
    }
    covered += s.count;
  }
  if (covered != num_params) {
    throw std::invalid_argument("AdamW: segments cover " + std::to_string(covered) + " parameters, expected " +
                                std::to_string(num_params));
  }
  m_ = Tensor::zeros({num_params});
  v_ = Tensor::zeros({num_params});
}

void AdamW::step(Tensor& params, const Tensor& grads, float lr) {
  if (params.numel() != m_.numel() || grads.numel() != m_.numel()) {
    throw std::invalid_argument("AdamW::step: expected " + std::to_string(m_.numel()) +
                                " parameters and gradients, found " + std::to_string(params.numel()) + " and " +
                                std::to_string(grads.numel()));
  }
  t_++;
  const float b1 = config_.beta1, b2 = config_.beta2, eps = config_.eps;
  // m̂ = m / (1 − β1^t), v̂ = v / (1 − β2^t): multiply by the reciprocals.
  const float inv_bias1 = 1.0f / (1.0f - std::pow(b1, static_cast<float>(t_)));
  const float inv_bias2 = 1.0f / (1.0f - std::pow(b2, static_cast<float>(t_)));
  float* p = params.f32();
  const float* g = grads.f32();
  float* m = m_.f32();
  float* v = v_.f32();
  for (const auto& s : segments_) {
    const float wd = s.decay ? config_.weight_decay : 0.0f;
    cpu_kernels().adamw_update(p + s.offset, g + s.offset, m + s.offset, v + s.offset, s.count, lr, b1, b2, eps, wd,
                               inv_bias1, inv_bias2);
  }
}

float global_grad_norm(const Tensor& grads) {
  // Σ g² in double over fixed chunks, then the chunks' sums in order: the same number whatever the
  // number of threads (an OpenMP reduction would group the terms by thread).
  constexpr int64_t kChunk = 1 << 16;
  const float* g = grads.f32();
  const int64_t n = grads.numel(), chunks = (n + kChunk - 1) / kChunk;
  std::vector<double> partial(static_cast<size_t>(chunks));
#pragma omp parallel for schedule(static) if (n > (1 << 16))
  for (int64_t c = 0; c < chunks; c++) {
    const int64_t end = std::min(n, (c + 1) * kChunk);
    double sum = 0.0;
#pragma omp simd reduction(+ : sum)
    for (int64_t i = c * kChunk; i < end; i++) sum += static_cast<double>(g[i]) * g[i];
    partial[c] = sum;
  }
  double sum = 0.0;
  for (double p : partial) sum += p;
  return static_cast<float>(std::sqrt(sum));
}

float clip_grad_norm(Tensor& grads, float max_norm) {
  float norm = global_grad_norm(grads);
  if (max_norm > 0.0f && norm > max_norm) {
    float scale = max_norm / (norm + 1e-6f);
    float* g = grads.f32();
    const int64_t n = grads.numel();
#pragma omp parallel for simd if (parallel: n > (1 << 16))
    for (int64_t i = 0; i < n; i++) g[i] *= scale;
  }
  return norm;
}

}  // namespace sog
