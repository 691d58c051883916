#include "common/ops/reduce.h"

#include <stdexcept>
#include <string>
#include <vector>

#include "common/autograd/tape.h"
#include "common/ops/op_checks.h"

namespace sog {

static constexpr int64_t kParallelFloats = 1 << 15;

// Σ of n floats in one double; the simd lanes each keep their own double partial.
static double sum_in_double(const float* x, int64_t n) {
  double s = 0.0;
#pragma omp simd reduction(+ : s)
  for (int64_t i = 0; i < n; i++) s += static_cast<double>(x[i]);
  return s;
}

// Fixed blocks → one double each (in parallel) → added in block order: thread-count independent.
static double blocked_sum(const float* x, int64_t N) {
  const int64_t blocks = (N + kReduceBlock - 1) / kReduceBlock;
  if (blocks <= 1) return sum_in_double(x, N);
  std::vector<double> partial(blocks);
#pragma omp parallel for if (N > kParallelFloats)
  for (int64_t b = 0; b < blocks; b++) {
    int64_t start = b * kReduceBlock;
    int64_t len = start + kReduceBlock <= N ? kReduceBlock : N - start;
    partial[b] = sum_in_double(x + start, len);
  }
  double s = 0.0;
  for (double p : partial) s += p;
  return s;
}

// dinp[i] += g for every i.
static void add_constant(float* dinp, float g, int64_t N) {
#pragma omp parallel for simd if (parallel: N > kParallelFloats)
  for (int64_t i = 0; i < N; i++) dinp[i] += g;
}

void sum_forward(float* out, const float* inp, int64_t N) { out[0] = static_cast<float>(blocked_sum(inp, N)); }
void sum_backward(float* dinp, const float* dout, int64_t N) { add_constant(dinp, dout[0], N); }

void mean_forward(float* out, const float* inp, int64_t N) {
  out[0] = static_cast<float>(blocked_sum(inp, N) / static_cast<double>(N));
}
void mean_backward(float* dinp, const float* dout, int64_t N) {
  add_constant(dinp, static_cast<float>(dout[0] / static_cast<double>(N)), N);
}

void sum_last_dim_forward(float* out, const float* inp, int64_t N, int64_t C) {
#pragma omp parallel for if (N * C > kParallelFloats)
  for (int64_t r = 0; r < N; r++) out[r] = static_cast<float>(sum_in_double(inp + r * C, C));
}

void sum_last_dim_backward(float* dinp, const float* dout, int64_t N, int64_t C) {
#pragma omp parallel for if (N * C > kParallelFloats)
  for (int64_t r = 0; r < N; r++) {
    float g = dout[r];
    float* dx = dinp + r * C;
#pragma omp simd
    for (int64_t c = 0; c < C; c++) dx[c] += g;
  }
}

void mean_last_dim_forward(float* out, const float* inp, int64_t N, int64_t C) {
#pragma omp parallel for if (N * C > kParallelFloats)
  for (int64_t r = 0; r < N; r++) {
    out[r] = static_cast<float>(sum_in_double(inp + r * C, C) / static_cast<double>(C));
  }
}

void mean_last_dim_backward(float* dinp, const float* dout, int64_t N, int64_t C) {
  const float inv_c = static_cast<float>(1.0 / static_cast<double>(C));
#pragma omp parallel for if (N * C > kParallelFloats)
  for (int64_t r = 0; r < N; r++) {
    float g = dout[r] * inv_c;
    float* dx = dinp + r * C;
#pragma omp simd
    for (int64_t c = 0; c < C; c++) dx[c] += g;
  }
}

// ---- the differentiable ops ----------------------------------------------------------------------

Tensor sum(const Tensor& x) {
  require_cpu_f32(x, "sum", "x");
  Tensor out = Tensor::empty({1});
  const int64_t N = x.numel();
  sum_forward(out.f32(), x.f32(), N);
  if (should_record({&x})) {
    record("sum", out, [x, N](const Tensor& dout) { sum_backward(x.grad_ref().f32(), dout.f32(), N); });
  }
  return out;
}

Tensor mean(const Tensor& x) {
  require_cpu_f32(x, "mean", "x");
  const int64_t N = x.numel();
  if (N == 0) throw std::invalid_argument("mean: x: expected at least one element, found shape " + x.shape().str());
  Tensor out = Tensor::empty({1});
  mean_forward(out.f32(), x.f32(), N);
  if (should_record({&x})) {
    record("mean", out, [x, N](const Tensor& dout) { mean_backward(x.grad_ref().f32(), dout.f32(), N); });
  }
  return out;
}

// The shape left after dropping the last dimension: (B,T) → (B), (C) → (1).
static Shape without_last_dim(const Tensor& x, int dim, const char* op) {
  if (x.ndim() == 0) {
    throw std::invalid_argument(std::string(op) + ": x: expected at least 1 dimension to reduce over, found shape ()");
  }
  if (dim != -1 && dim != x.ndim() - 1) {
    throw std::invalid_argument(std::string(op) + ": dim: expected -1 or " + std::to_string(x.ndim() - 1) +
                                " (the last dimension of " + x.shape().str() + "), found " + std::to_string(dim));
  }
  if (x.ndim() == 1) return Shape{1};
  std::vector<int64_t> dims(x.shape().dims.begin(), x.shape().dims.begin() + x.ndim() - 1);
  return Shape(dims);
}

Tensor sum(const Tensor& x, int dim) {
  require_cpu_f32(x, "sum", "x");
  Tensor out = Tensor::empty(without_last_dim(x, dim, "sum"));
  const int64_t N = out.numel(), C = x.shape().last();  // N rows of C
  sum_last_dim_forward(out.f32(), x.f32(), N, C);
  if (should_record({&x})) {
    record("sum_last_dim", out, [x, N, C](const Tensor& dout) {
      sum_last_dim_backward(x.grad_ref().f32(), dout.f32(), N, C);
    });
  }
  return out;
}

Tensor mean(const Tensor& x, int dim) {
  require_cpu_f32(x, "mean", "x");
  Tensor out = Tensor::empty(without_last_dim(x, dim, "mean"));
  const int64_t N = out.numel(), C = x.shape().last();  // N rows of C
  if (C == 0) throw std::invalid_argument("mean: x: expected a non-empty last dimension, found shape " + x.shape().str());
  mean_last_dim_forward(out.f32(), x.f32(), N, C);
  if (should_record({&x})) {
    record("mean_last_dim", out, [x, N, C](const Tensor& dout) {
      mean_last_dim_backward(x.grad_ref().f32(), dout.f32(), N, C);
    });
  }
  return out;
}

}  // namespace sog
