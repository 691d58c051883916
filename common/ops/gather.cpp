#include "common/ops/gather.h"

#include <algorithm>
#include <stdexcept>
#include <string>

#include "common/autograd/tape.h"
#include "common/ops/op_checks.h"

namespace sog {

void gather_rows_forward(float* out, const float* x, const int32_t* index, int64_t B, int64_t T, int64_t C) {
#pragma omp parallel for if (B * C > (1 << 16))
  for (int64_t b = 0; b < B; b++) {
    const float* src = x + (b * T + index[b]) * C;
    std::copy(src, src + C, out + b * C);
  }
}

void gather_rows_backward(float* dx, const float* dout, const int32_t* index, int64_t B, int64_t T, int64_t C) {
#pragma omp parallel for if (B * C > (1 << 16))
  for (int64_t b = 0; b < B; b++) {
    float* d = dx + (b * T + index[b]) * C;
    const float* g = dout + b * C;
    for (int64_t c = 0; c < C; c++) d[c] += g[c];
  }
}

Tensor gather_rows(const Tensor& x, const Tensor& index) {
  require_cpu_f32(x, "gather_rows", "x");
  require_cpu_i32(index, "gather_rows", "index");
  require_ndim(x, 3, "gather_rows", "x (B,T,C)");
  require_ndim(index, 1, "gather_rows", "index (B)");
  const int64_t B = x.size(0), T = x.size(1), C = x.size(2);
  if (index.size(0) != B) {
    throw std::invalid_argument("gather_rows: index: expected (" + std::to_string(B) + "), one position per row of x " +
                                x.shape().str() + ", found " + index.shape().str());
  }
  const int32_t* idx = index.i32();
  for (int64_t b = 0; b < B; b++) {
    if (idx[b] < 0 || idx[b] >= T) {
      throw std::invalid_argument("gather_rows: index[" + std::to_string(b) + "]: expected a position in [0, " +
                                  std::to_string(T) + "), found " + std::to_string(idx[b]));
    }
  }
  Tensor out = Tensor::empty({B, C});  // (B,C)
  gather_rows_forward(out.f32(), x.f32(), idx, B, T, C);
  if (should_record({&x})) {
    record("gather_rows", out, [x, index, B, T, C](const Tensor& dout) {
      gather_rows_backward(x.grad_ref().f32(), dout.f32(), index.i32(), B, T, C);
    });
  }
  return out;
}

}  // namespace sog
