// Compiled once per instruction set (cpu/kernels.h): the AdamW update of one parameter segment
// (adamw.h has the maths), an `omp simd` loop that each instruction set's flags vectorise.
#include <cmath>
#include <cstdint>

#include "common/cpu/isa_kernels.h"

namespace sog::SOG_ISA {

// m̂ = m / (1 − β1^t), v̂ = v / (1 − β2^t) through the reciprocals inv_bias1, inv_bias2.
void adamw_update(float* p, const float* g, float* m, float* v, int64_t n, float lr, float beta1, float beta2,
                  float eps, float weight_decay, float inv_bias1, float inv_bias2) {
#pragma omp parallel for simd if (parallel: n > (1 << 15))
  for (int64_t i = 0; i < n; i++) {
    const float mi = beta1 * m[i] + (1.0f - beta1) * g[i];
    const float vi = beta2 * v[i] + (1.0f - beta2) * g[i] * g[i];
    m[i] = mi;
    v[i] = vi;
    const float m_hat = mi * inv_bias1, v_hat = vi * inv_bias2;
    p[i] -= lr * (m_hat / (std::sqrt(v_hat) + eps) + weight_decay * p[i]);
  }
}

}  // namespace sog::SOG_ISA
