#include "common/ops/layernorm.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/autograd/tape.h"
#include "common/ops/op_checks.h"

namespace sog {

void layernorm_forward(float* out, float* mean, float* rstd, const float* inp, const float* weight,
                       const float* bias, int64_t N, int64_t C, float eps) {
#pragma omp parallel for if (N * C > (1 << 14))
  for (int64_t n = 0; n < N; n++) {
    const float* x = inp + n * C;  // (C)
    float* o = out + n * C;        // (C)
    float m = 0.0f;
#pragma omp simd reduction(+ : m)
    for (int64_t i = 0; i < C; i++) m += x[i];
    m /= static_cast<float>(C);
    float v = 0.0f;  // two passes: Σ(x − mean)² does not cancel the way Σx² − C·mean² can
#pragma omp simd reduction(+ : v)
    for (int64_t i = 0; i < C; i++) {
      float d = x[i] - m;
      v += d * d;
    }
    v /= static_cast<float>(C);
    float s = 1.0f / std::sqrt(v + eps);
#pragma omp simd
    for (int64_t i = 0; i < C; i++) o[i] = (x[i] - m) * s * weight[i] + bias[i];
    mean[n] = m;
    rstd[n] = s;
  }
}

void layernorm_backward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                        const float* weight, const float* mean, const float* rstd, int64_t N, int64_t C,
                        bool accumulate_dinp) {
  const int64_t chunks = (N + kLayerNormRowsPerChunk - 1) / kLayerNormRowsPerChunk;
  const bool want_params = dweight != nullptr || dbias != nullptr;
  std::vector<float> partial(want_params ? chunks * 2 * C : 0, 0.0f);  // (chunks, 2, C): dweight, dbias

#pragma omp parallel for schedule(static) if (N * C > (1 << 14))
  for (int64_t k = 0; k < chunks; k++) {
    float* pw = want_params ? partial.data() + k * 2 * C : nullptr;  // (C) this chunk's Σ dout·norm
    float* pb = want_params ? pw + C : nullptr;                      // (C) this chunk's Σ dout
    const int64_t row_end = std::min(N, (k + 1) * kLayerNormRowsPerChunk);
    for (int64_t n = k * kLayerNormRowsPerChunk; n < row_end; n++) {
      const float* x = inp + n * C;   // (C)
      const float* g = dout + n * C;  // (C)
      const float m = mean[n], s = rstd[n];
      if (dinp) {
        float dnorm_mean = 0.0f, dnorm_norm_mean = 0.0f;
#pragma omp simd reduction(+ : dnorm_mean, dnorm_norm_mean)
        for (int64_t i = 0; i < C; i++) {
          float norm = (x[i] - m) * s;
          float dnorm = weight[i] * g[i];
          dnorm_mean += dnorm;
          dnorm_norm_mean += dnorm * norm;
        }
        dnorm_mean /= static_cast<float>(C);
        dnorm_norm_mean /= static_cast<float>(C);
        float* dx = dinp + n * C;  // (C)
#pragma omp simd
        for (int64_t i = 0; i < C; i++) {
          float norm = (x[i] - m) * s;
          float dnorm = weight[i] * g[i];
          const float d = (dnorm - dnorm_mean - norm * dnorm_norm_mean) * s;
          dx[i] = accumulate_dinp ? dx[i] + d : d;
        }
      }
      if (want_params) {
#pragma omp simd
        for (int64_t i = 0; i < C; i++) {
          pw[i] += g[i] * (x[i] - m) * s;
          pb[i] += g[i];
        }
      }
    }
  }
  if (!want_params) return;
  // The fixed-order sum of the partial rows: channel i adds chunk 0, 1, 2, … whatever the threads.
#pragma omp parallel for simd if (chunks * C > (1 << 14))
  for (int64_t i = 0; i < C; i++) {
    float sw = 0.0f, sb = 0.0f;
    for (int64_t k = 0; k < chunks; k++) {
      sw += partial[k * 2 * C + i];
      sb += partial[k * 2 * C + C + i];
    }
    if (dweight) dweight[i] += sw;
    if (dbias) dbias[i] += sb;
  }
}

Tensor layernorm(const Tensor& x, const Tensor& weight, const Tensor& bias, float eps) {
  require_cpu_f32(x, "layernorm", "x");
  require_cpu_f32(weight, "layernorm", "weight");
  require_cpu_f32(bias, "layernorm", "bias");
  if (x.ndim() == 0) throw std::invalid_argument("layernorm: x: expected at least 1 dimension, found a scalar");
  const int64_t C = x.shape().last(), N = x.shape().rows();
  check_shape(weight, Shape{C}, "layernorm: weight");
  check_shape(bias, Shape{C}, "layernorm: bias");
  if (!(eps > 0.0f)) throw std::invalid_argument("layernorm: eps: expected > 0, found " + std::to_string(eps));
  Tensor out = Tensor::empty(x.shape());  // (N,C)
  Tensor mean = Tensor::empty({N});       // (N)
  Tensor rstd = Tensor::empty({N});       // (N)
  layernorm_forward(out.f32(), mean.f32(), rstd.f32(), x.f32(), weight.f32(), bias.f32(), N, C, eps);
  if (should_record({&x, &weight, &bias})) {
    record("layernorm", out, [x, weight, bias, mean, rstd, N, C](const Tensor& dout) {
      bool fresh_x = false;
      float* dx = x.requires_grad() ? x.grad_ref(&fresh_x).f32() : nullptr;
      float* dw = weight.requires_grad() ? weight.grad_ref().f32() : nullptr;
      float* db = bias.requires_grad() ? bias.grad_ref().f32() : nullptr;
      layernorm_backward(dx, dw, db, dout.f32(), x.f32(), weight.f32(), mean.f32(), rstd.f32(), N, C, !fresh_x);
    });
  }
  return out;
}

}  // namespace sog
