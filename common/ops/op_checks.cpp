#include "common/ops/op_checks.h"

#include <stdexcept>

namespace sog {

static void fail(const char* op, const char* arg, const std::string& expected, const std::string& found) {
  throw std::invalid_argument(std::string(op) + ": " + arg + ": expected " + expected + ", found " + found);
}

void require_cpu_f32(const Tensor& t, const char* op, const char* arg) {
  if (!t.defined()) fail(op, arg, "a tensor", "an undefined tensor");
  if (t.device() != Device::cpu) fail(op, arg, "a cpu tensor", device_name(t.device()));
  if (t.dtype() != DType::f32) fail(op, arg, "dtype f32", dtype_name(t.dtype()));
}

void require_cpu_i32(const Tensor& t, const char* op, const char* arg) {
  if (!t.defined()) fail(op, arg, "a tensor", "an undefined tensor");
  if (t.device() != Device::cpu) fail(op, arg, "a cpu tensor", device_name(t.device()));
  if (t.dtype() != DType::i32) fail(op, arg, "dtype i32", dtype_name(t.dtype()));
}

void require_same_shape(const Tensor& a, const Tensor& b, const char* op) {
  if (a.shape() != b.shape()) fail(op, "shapes", "equal shapes", a.shape().str() + " and " + b.shape().str());
}

void require_ndim(const Tensor& t, int ndim, const char* op, const char* arg) {
  if (t.ndim() != ndim) fail(op, arg, std::to_string(ndim) + " dimensions", t.shape().str());
}

void accumulate_grad(const Tensor& t, const float* src) {
  if (!t.requires_grad()) return;
  float* g = t.grad_ref().f32();
  const int64_t n = t.numel();
#pragma omp parallel for simd if (parallel: n > (1 << 16))
  for (int64_t i = 0; i < n; i++) g[i] += src[i];
}

}  // namespace sog
