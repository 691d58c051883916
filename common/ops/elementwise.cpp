#include "common/ops/elementwise.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/autograd/tape.h"
#include "common/ops/op_checks.h"

namespace sog {

// Loops go parallel above this many floats (below it, waking threads costs more than it saves).
static constexpr int64_t kParallelFloats = 1 << 15;
// The bias backward gives each thread a slice of columns; fewer than this many is not worth it.
static constexpr int64_t kMinSliceColumns = 64;

// ---- broadcasting plan ---------------------------------------------------------------------------

// A shape padded on the left with 1s to kMaxDims: (3,4) → (1,1,3,4).
static void pad_dims(const Shape& s, int64_t* padded) {
  const int lead = kMaxDims - s.ndim;
  for (int k = 0; k < kMaxDims; k++) padded[k] = k < lead ? 1 : s.dims[k - lead];
}

// Row-major element strides of a padded shape, with 0 along its size-1 dimensions (so the same
// element is read at every position of a broadcast dimension).
static void broadcast_strides(const int64_t* padded, int64_t* stride) {
  int64_t s = 1;
  for (int k = kMaxDims - 1; k >= 0; k--) {
    stride[k] = padded[k] == 1 ? 0 : s;
    s *= padded[k];
  }
}

Broadcast plan_broadcast(const Shape& a, const Shape& b, const char* op) {
  int64_t ad[kMaxDims], bd[kMaxDims];
  pad_dims(a, ad);
  pad_dims(b, bd);
  Broadcast bc;
  for (int k = 0; k < kMaxDims; k++) {
    if (ad[k] != bd[k] && ad[k] != 1 && bd[k] != 1) {
      throw std::invalid_argument(std::string(op) + ": shapes: expected broadcastable shapes (right-aligned, each "
                                  "dimension equal or 1), found a " + a.str() + " and b " + b.str());
    }
    bc.dims[k] = ad[k] == 1 ? bd[k] : ad[k];
  }
  const int nd = std::max(a.ndim, b.ndim);
  bc.out = Shape(std::vector<int64_t>(bc.dims + kMaxDims - nd, bc.dims + kMaxDims));
  broadcast_strides(ad, bc.a_stride);
  broadcast_strides(bd, bc.b_stride);

  bool a_full = std::equal(ad, ad + kMaxDims, bc.dims), b_full = std::equal(bd, bd + kMaxDims, bc.dims);
  int first = 0;  // b's first dimension that is not 1
  while (first < kMaxDims && bd[first] == 1) first++;
  bool b_is_tail = std::equal(bd + first, bd + kMaxDims, bc.dims + first);
  if (a_full && b_full) {
    bc.path = Broadcast::Path::same_shape;
  } else if (a_full && b_is_tail) {
    bc.path = Broadcast::Path::b_suffix;
    bc.inner = b.numel();
    bc.rows = bc.inner == 0 ? 0 : bc.out.numel() / bc.inner;
  }
  return bc;
}

// ---- broadcasting kernels ------------------------------------------------------------------------

enum class Binary { add, sub, mul };

// The other operand's value, read only by mul (add and sub may pass nullptr).
template <Binary K>
static inline float other(const float* p, int64_t i) {
  if constexpr (K == Binary::mul) return p[i];
  return 0.0f;
}
// ∂out/∂a · dout and ∂out/∂b · dout, given the other operand's value.
template <Binary K>
static inline float local_grad_a(float d, float b) {
  if constexpr (K == Binary::mul) return d * b;
  return d;
}
template <Binary K>
static inline float local_grad_b(float d, float a) {
  if constexpr (K == Binary::mul) return d * a;
  if constexpr (K == Binary::sub) return -d;
  return d;
}
template <Binary K>
static inline float apply(float a, float b) {
  if constexpr (K == Binary::add) return a + b;
  if constexpr (K == Binary::sub) return a - b;
  return a * b;
}

template <Binary K>
static void broadcast_forward(float* out, const float* a, const float* b, const Broadcast& bc) {
  const int64_t N = bc.out.numel();
  if (bc.path == Broadcast::Path::same_shape) {
#pragma omp parallel for simd if (parallel: N > kParallelFloats)
    for (int64_t i = 0; i < N; i++) out[i] = apply<K>(a[i], b[i]);
  } else if (bc.path == Broadcast::Path::b_suffix) {
    const int64_t I = bc.inner;
#pragma omp parallel for if (N > kParallelFloats)
    for (int64_t r = 0; r < bc.rows; r++) {
      const float* ar = a + r * I;  // (I)
      float* o = out + r * I;       // (I)
#pragma omp simd
      for (int64_t c = 0; c < I; c++) o[c] = apply<K>(ar[c], b[c]);
    }
  } else {
    const int64_t *d = bc.dims, *sa = bc.a_stride, *sb = bc.b_stride;
    const int64_t outer = d[0] * d[1] * d[2];  // output rows of d[3]
#pragma omp parallel for if (N > kParallelFloats)
    for (int64_t o = 0; o < outer; o++) {
      int64_t i0 = o / (d[1] * d[2]), i1 = (o / d[2]) % d[1], i2 = o % d[2];
      const float* pa = a + i0 * sa[0] + i1 * sa[1] + i2 * sa[2];
      const float* pb = b + i0 * sb[0] + i1 * sb[1] + i2 * sb[2];
      float* po = out + o * d[3];
      for (int64_t i3 = 0; i3 < d[3]; i3++) po[i3] = apply<K>(pa[i3 * sa[3]], pb[i3 * sb[3]]);
    }
  }
}

// General path, one operand x (strides sx) with the other y (strides sy):
//   dx[j] += Σ over the output positions o that read x[j] of grad(dout[o], y at o).
// When x has the output's shape each j is one o; otherwise each element sums its broadcast dims.
template <class Grad>
static void general_operand_backward(float* dx, const int64_t* sx, const float* y, const int64_t* sy,
                                     const float* dout, const Broadcast& bc, Grad grad) {
  const int64_t* d = bc.dims;
  const int64_t N = bc.out.numel();
  int64_t xd[kMaxDims];  // x's own padded dims
  for (int k = 0; k < kMaxDims; k++) xd[k] = sx[k] == 0 ? 1 : d[k];
  const int64_t nx = xd[0] * xd[1] * xd[2] * xd[3];
  if (nx == N) {  // no broadcast: x is laid out like the output
    const int64_t outer = d[0] * d[1] * d[2];
#pragma omp parallel for if (N > kParallelFloats)
    for (int64_t o = 0; o < outer; o++) {
      int64_t i0 = o / (d[1] * d[2]), i1 = (o / d[2]) % d[1], i2 = o % d[2];
      int64_t y0 = i0 * sy[0] + i1 * sy[1] + i2 * sy[2];
      for (int64_t i3 = 0; i3 < d[3]; i3++) dx[o * d[3] + i3] += grad(dout[o * d[3] + i3], y, y0 + i3 * sy[3]);
    }
    return;
  }
#pragma omp parallel for if (N > kParallelFloats)
  for (int64_t j = 0; j < nx; j++) {
    int64_t idx[kMaxDims], lo[kMaxDims], hi[kMaxDims];
    for (int64_t k = kMaxDims - 1, rest = j; k >= 0; k--) {
      idx[k] = rest % xd[k];
      rest /= xd[k];
      bool broadcast = xd[k] != d[k];
      lo[k] = broadcast ? 0 : idx[k];
      hi[k] = broadcast ? d[k] : idx[k] + 1;
    }
    double s = 0.0;
    for (int64_t o0 = lo[0]; o0 < hi[0]; o0++)
      for (int64_t o1 = lo[1]; o1 < hi[1]; o1++)
        for (int64_t o2 = lo[2]; o2 < hi[2]; o2++)
          for (int64_t o3 = lo[3]; o3 < hi[3]; o3++) {
            int64_t o = ((o0 * d[1] + o1) * d[2] + o2) * d[3] + o3;
            s += grad(dout[o], y, o0 * sy[0] + o1 * sy[1] + o2 * sy[2] + o3 * sy[3]);
          }
    dx[j] += static_cast<float>(s);
  }
}

template <Binary K>
static void broadcast_backward(float* da, float* db, const float* a, const float* b, const float* dout,
                               const Broadcast& bc) {
  const int64_t N = bc.out.numel();
  if (N == 0) return;
  auto grad_a = [](float d, const float* y, int64_t i) { return local_grad_a<K>(d, other<K>(y, i)); };
  auto grad_b = [](float d, const float* y, int64_t i) { return local_grad_b<K>(d, other<K>(y, i)); };
  if (bc.path == Broadcast::Path::same_shape) {
    if (da) {
#pragma omp parallel for simd if (parallel: N > kParallelFloats)
      for (int64_t i = 0; i < N; i++) da[i] += grad_a(dout[i], b, i);
    }
    if (db) {
#pragma omp parallel for simd if (parallel: N > kParallelFloats)
      for (int64_t i = 0; i < N; i++) db[i] += grad_b(dout[i], a, i);
    }
  } else if (bc.path == Broadcast::Path::b_suffix) {
    const int64_t R = bc.rows, I = bc.inner;  // a, dout: (R,I); b: (I)
    if (I >= kMinSliceColumns * 2 || N <= kParallelFloats) {
      // One pass over dout: each thread owns a slice of the columns and walks every row, adding
      // into da's slice and summing db's slice in double. No partial buffers to merge, and the same
      // result for any thread count.
#pragma omp parallel if (N > kParallelFloats)
      {
        const int64_t nt = omp_get_num_threads(), t = omp_get_thread_num();
        const int64_t c0 = I * t / nt, c1 = I * (t + 1) / nt;
        std::vector<double> acc(db ? c1 - c0 : 0, 0.0);  // db's slice
        for (int64_t r = 0; r < R; r++) {
          const float* dr = dout + r * I;  // (I)
          if (da) {
            float* dar = da + r * I;
#pragma omp simd
            for (int64_t c = c0; c < c1; c++) dar[c] += grad_a(dr[c], b, c);
          }
          if (db) {
            const float* ar = K == Binary::mul ? a + r * I : nullptr;
#pragma omp simd
            for (int64_t c = c0; c < c1; c++) acc[c - c0] += grad_b(dr[c], ar, c);
          }
        }
        for (int64_t c = c0; c < c1 && db; c++) db[c] += static_cast<float>(acc[c - c0]);
      }
    } else {
      // Too few columns to share out (a scalar b): da row-parallel, db one serial double sum.
      if (da) {
#pragma omp parallel for
        for (int64_t r = 0; r < R; r++) {
#pragma omp simd
          for (int64_t c = 0; c < I; c++) da[r * I + c] += grad_a(dout[r * I + c], b, c);
        }
      }
      if (db) {
        std::vector<double> acc(I, 0.0);
        for (int64_t r = 0; r < R; r++) {
          const float* ar = K == Binary::mul ? a + r * I : nullptr;
          for (int64_t c = 0; c < I; c++) acc[c] += grad_b(dout[r * I + c], ar, c);
        }
        for (int64_t c = 0; c < I; c++) db[c] += static_cast<float>(acc[c]);
      }
    }
  } else {
    if (da) general_operand_backward(da, bc.a_stride, b, bc.b_stride, dout, bc, grad_a);
    if (db) general_operand_backward(db, bc.b_stride, a, bc.a_stride, dout, bc, grad_b);
  }
}

void add_forward(float* out, const float* a, const float* b, const Broadcast& bc) {
  broadcast_forward<Binary::add>(out, a, b, bc);
}
void add_backward(float* da, float* db, const float* dout, const Broadcast& bc) {
  broadcast_backward<Binary::add>(da, db, nullptr, nullptr, dout, bc);
}
void sub_forward(float* out, const float* a, const float* b, const Broadcast& bc) {
  broadcast_forward<Binary::sub>(out, a, b, bc);
}
void sub_backward(float* da, float* db, const float* dout, const Broadcast& bc) {
  broadcast_backward<Binary::sub>(da, db, nullptr, nullptr, dout, bc);
}
void mul_forward(float* out, const float* a, const float* b, const Broadcast& bc) {
  broadcast_forward<Binary::mul>(out, a, b, bc);
}
void mul_backward(float* da, float* db, const float* a, const float* b, const float* dout, const Broadcast& bc) {
  broadcast_backward<Binary::mul>(da, db, a, b, dout, bc);
}

// ---- unary kernels -------------------------------------------------------------------------------

void scale_forward(float* out, const float* inp, float s, int64_t N) {
#pragma omp parallel for simd if (parallel: N > kParallelFloats)
  for (int64_t i = 0; i < N; i++) out[i] = s * inp[i];
}
void scale_backward(float* dinp, const float* dout, float s, int64_t N) {
#pragma omp parallel for simd if (parallel: N > kParallelFloats)
  for (int64_t i = 0; i < N; i++) dinp[i] += s * dout[i];
}

void exp_forward(float* out, const float* inp, int64_t N) {
#pragma omp parallel for if (N > kParallelFloats)
  for (int64_t i = 0; i < N; i++) out[i] = std::exp(inp[i]);
}
void exp_backward(float* dinp, const float* out, const float* dout, int64_t N) {
#pragma omp parallel for simd if (parallel: N > kParallelFloats)
  for (int64_t i = 0; i < N; i++) dinp[i] += out[i] * dout[i];
}

void sigmoid_forward(float* out, const float* inp, int64_t N) {
#pragma omp parallel for if (N > kParallelFloats)
  for (int64_t i = 0; i < N; i++) {
    float x = inp[i];
    float e = std::exp(-std::fabs(x));  // in (0, 1]: never overflows
    out[i] = x >= 0.0f ? 1.0f / (1.0f + e) : e / (1.0f + e);
  }
}
void sigmoid_backward(float* dinp, const float* out, const float* dout, int64_t N) {
#pragma omp parallel for simd if (parallel: N > kParallelFloats)
  for (int64_t i = 0; i < N; i++) dinp[i] += out[i] * (1.0f - out[i]) * dout[i];
}

void log_sigmoid_forward(float* out, const float* inp, int64_t N) {
#pragma omp parallel for if (N > kParallelFloats)
  for (int64_t i = 0; i < N; i++) {
    float x = inp[i];
    out[i] = std::min(x, 0.0f) - std::log1p(std::exp(-std::fabs(x)));
  }
}
void log_sigmoid_backward(float* dinp, const float* inp, const float* dout, int64_t N) {
#pragma omp parallel for if (N > kParallelFloats)
  for (int64_t i = 0; i < N; i++) {
    float x = inp[i];
    float e = std::exp(-std::fabs(x));
    float sigmoid_neg_x = x >= 0.0f ? e / (1.0f + e) : 1.0f / (1.0f + e);  // σ(−x)
    dinp[i] += sigmoid_neg_x * dout[i];
  }
}

void clamp_forward(float* out, const float* inp, float lo, float hi, int64_t N) {
#pragma omp parallel for simd if (parallel: N > kParallelFloats)
  for (int64_t i = 0; i < N; i++) out[i] = std::min(std::max(inp[i], lo), hi);
}
void clamp_backward(float* dinp, const float* inp, const float* dout, float lo, float hi, int64_t N) {
#pragma omp parallel for simd if (parallel: N > kParallelFloats)
  for (int64_t i = 0; i < N; i++) dinp[i] += (inp[i] > lo && inp[i] < hi) ? dout[i] : 0.0f;
}

void minimum_forward(float* out, const float* a, const float* b, int64_t N) {
#pragma omp parallel for simd if (parallel: N > kParallelFloats)
  for (int64_t i = 0; i < N; i++) out[i] = a[i] <= b[i] ? a[i] : b[i];
}
void minimum_backward(float* da, float* db, const float* a, const float* b, const float* dout, int64_t N) {
#pragma omp parallel for if (N > kParallelFloats)
  for (int64_t i = 0; i < N; i++) {
    bool a_selected = a[i] <= b[i];  // a tie goes to a
    if (da && a_selected) da[i] += dout[i];
    if (db && !a_selected) db[i] += dout[i];
  }
}

void maximum_forward(float* out, const float* a, const float* b, int64_t N) {
#pragma omp parallel for simd if (parallel: N > kParallelFloats)
  for (int64_t i = 0; i < N; i++) out[i] = a[i] >= b[i] ? a[i] : b[i];
}
void maximum_backward(float* da, float* db, const float* a, const float* b, const float* dout, int64_t N) {
#pragma omp parallel for if (N > kParallelFloats)
  for (int64_t i = 0; i < N; i++) {
    bool a_selected = a[i] >= b[i];  // a tie goes to a
    if (da && a_selected) da[i] += dout[i];
    if (db && !a_selected) db[i] += dout[i];
  }
}

// ---- the differentiable ops ----------------------------------------------------------------------

// The gradient buffer of t, or nullptr when t needs no gradient.
static float* grad_or_null(const Tensor& t) { return t.requires_grad() ? t.grad_ref().f32() : nullptr; }

// For add's backward: the gradient buffer of t, or nullptr when there is nothing left to add. An
// operand shaped like the output whose gradient does not exist yet gets dout itself, copied into a
// fresh buffer (no zeroing, no read of zeros) — the residual stream's gradients take this path.
static float* add_grad_or_copy(const Tensor& t, const Tensor& dout) {
  if (!t.requires_grad()) return nullptr;
  if (t.shape() != dout.shape()) return t.grad_ref().f32();
  bool fresh = false;
  float* g = t.grad_ref(&fresh).f32();
  if (!fresh) return g;
  const float* d = dout.f32();
  const int64_t N = dout.numel();
#pragma omp parallel for simd if (parallel: N > kParallelFloats)
  for (int64_t i = 0; i < N; i++) g[i] = d[i];
  return nullptr;
}

Tensor add(const Tensor& a, const Tensor& b) {
  require_cpu_f32(a, "add", "a");
  require_cpu_f32(b, "add", "b");
  Broadcast bc = plan_broadcast(a.shape(), b.shape(), "add");
  Tensor out = Tensor::empty(bc.out);
  add_forward(out.f32(), a.f32(), b.f32(), bc);
  if (should_record({&a, &b})) {
    record("add", out, [a, b, bc](const Tensor& dout) {
      add_backward(add_grad_or_copy(a, dout), add_grad_or_copy(b, dout), dout.f32(), bc);
    });
  }
  return out;
}

Tensor sub(const Tensor& a, const Tensor& b) {
  require_cpu_f32(a, "sub", "a");
  require_cpu_f32(b, "sub", "b");
  Broadcast bc = plan_broadcast(a.shape(), b.shape(), "sub");
  Tensor out = Tensor::empty(bc.out);
  sub_forward(out.f32(), a.f32(), b.f32(), bc);
  if (should_record({&a, &b})) {
    record("sub", out, [a, b, bc](const Tensor& dout) {
      sub_backward(grad_or_null(a), grad_or_null(b), dout.f32(), bc);
    });
  }
  return out;
}

Tensor mul(const Tensor& a, const Tensor& b) {
  require_cpu_f32(a, "mul", "a");
  require_cpu_f32(b, "mul", "b");
  Broadcast bc = plan_broadcast(a.shape(), b.shape(), "mul");
  Tensor out = Tensor::empty(bc.out);
  mul_forward(out.f32(), a.f32(), b.f32(), bc);
  if (should_record({&a, &b})) {
    record("mul", out, [a, b, bc](const Tensor& dout) {
      mul_backward(grad_or_null(a), grad_or_null(b), a.f32(), b.f32(), dout.f32(), bc);
    });
  }
  return out;
}

Tensor scale(const Tensor& x, float s) {
  require_cpu_f32(x, "scale", "x");
  Tensor out = Tensor::empty(x.shape());
  scale_forward(out.f32(), x.f32(), s, x.numel());
  if (should_record({&x})) {
    record("scale", out, [x, s](const Tensor& dout) {
      scale_backward(x.grad_ref().f32(), dout.f32(), s, x.numel());
    });
  }
  return out;
}

Tensor exp(const Tensor& x) {
  require_cpu_f32(x, "exp", "x");
  Tensor out = Tensor::empty(x.shape());
  exp_forward(out.f32(), x.f32(), x.numel());
  if (should_record({&x})) {
    record("exp", out, [x, y = out](const Tensor& dout) {
      exp_backward(x.grad_ref().f32(), y.f32(), dout.f32(), x.numel());
    });
  }
  return out;
}

Tensor sigmoid(const Tensor& x) {
  require_cpu_f32(x, "sigmoid", "x");
  Tensor out = Tensor::empty(x.shape());
  sigmoid_forward(out.f32(), x.f32(), x.numel());
  if (should_record({&x})) {
    record("sigmoid", out, [x, y = out](const Tensor& dout) {
      sigmoid_backward(x.grad_ref().f32(), y.f32(), dout.f32(), x.numel());
    });
  }
  return out;
}

Tensor log_sigmoid(const Tensor& x) {
  require_cpu_f32(x, "log_sigmoid", "x");
  Tensor out = Tensor::empty(x.shape());
  log_sigmoid_forward(out.f32(), x.f32(), x.numel());
  if (should_record({&x})) {
    record("log_sigmoid", out, [x](const Tensor& dout) {
      log_sigmoid_backward(x.grad_ref().f32(), x.f32(), dout.f32(), x.numel());
    });
  }
  return out;
}

Tensor clamp(const Tensor& x, float lo, float hi) {
  require_cpu_f32(x, "clamp", "x");
  if (!(lo <= hi)) {
    throw std::invalid_argument("clamp: lo, hi: expected lo <= hi, found lo = " + std::to_string(lo) +
                                ", hi = " + std::to_string(hi));
  }
  Tensor out = Tensor::empty(x.shape());
  clamp_forward(out.f32(), x.f32(), lo, hi, x.numel());
  if (should_record({&x})) {
    record("clamp", out, [x, lo, hi](const Tensor& dout) {
      clamp_backward(x.grad_ref().f32(), x.f32(), dout.f32(), lo, hi, x.numel());
    });
  }
  return out;
}

Tensor minimum(const Tensor& a, const Tensor& b) {
  require_cpu_f32(a, "minimum", "a");
  require_cpu_f32(b, "minimum", "b");
  require_same_shape(a, b, "minimum");
  Tensor out = Tensor::empty(a.shape());
  minimum_forward(out.f32(), a.f32(), b.f32(), a.numel());
  if (should_record({&a, &b})) {
    record("minimum", out, [a, b](const Tensor& dout) {
      minimum_backward(grad_or_null(a), grad_or_null(b), a.f32(), b.f32(), dout.f32(), a.numel());
    });
  }
  return out;
}

Tensor maximum(const Tensor& a, const Tensor& b) {
  require_cpu_f32(a, "maximum", "a");
  require_cpu_f32(b, "maximum", "b");
  require_same_shape(a, b, "maximum");
  Tensor out = Tensor::empty(a.shape());
  maximum_forward(out.f32(), a.f32(), b.f32(), a.numel());
  if (should_record({&a, &b})) {
    record("maximum", out, [a, b](const Tensor& dout) {
      maximum_backward(grad_or_null(a), grad_or_null(b), a.f32(), b.f32(), dout.f32(), a.numel());
    });
  }
  return out;
}

}  // namespace sog
