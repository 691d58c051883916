// Compiled once per instruction set (cpu/kernels.h): LayerNorm's forward and backward loops
// (layernorm.h has the maths), `omp simd` loops that each instruction set's flags vectorise. The
// backward's per-chunk partial sums of dweight and dbias come in `partial`, (chunks, 2, C) zeroed,
// from layernorm.cpp.
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "common/cpu/isa_kernels.h"
#include "common/ops/layernorm.h"

namespace sog::SOG_ISA {

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

void layernorm_backward(float* dinp, float* dweight, float* dbias, float* partial, const float* dout,
                        const float* inp, const float* weight, const float* mean, const float* rstd, int64_t N,
                        int64_t C, bool accumulate_dinp) {
  const int64_t chunks = (N + kLayerNormRowsPerChunk - 1) / kLayerNormRowsPerChunk;
  const bool want_params = dweight != nullptr || dbias != nullptr;

#pragma omp parallel for schedule(static) if (N * C > (1 << 14))
  for (int64_t k = 0; k < chunks; k++) {
    float* pw = want_params ? partial + k * 2 * C : nullptr;  // (C) this chunk's Σ dout·norm
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
#pragma omp parallel for simd if (parallel: chunks * C > (1 << 14))
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

}  // namespace sog::SOG_ISA
