// Elementwise ops: the broadcasting binary ops add, sub, mul, and the unary ops a GPT, a reward
// model and PPO need (scale, exp, sigmoid, log_sigmoid, clamp, minimum, maximum).
//
// ---- Broadcasting (add, sub, mul), NumPy's rule -------------------------------------------------
// Shapes are aligned on the right; each pair of dimensions must be equal or one of them 1 (a
// missing dimension counts as 1); the output takes the larger. Either operand may broadcast, up to
// 4 dimensions:  (2,3,4) + (4) → (2,3,4);  (2,3,4) + (3,1) → (2,3,4);  (1,4) + (3,1) → (3,4).
//   add: out = a + b      da += dout        db += dout
//   sub: out = a − b      da += dout        db −= dout
//   mul: out = a · b      da += dout · b    db += dout · a
// where each operand's gradient is summed over the dimensions it was broadcast along, so it comes
// back in the operand's own shape (a bias (C) added to (B,T,C) gets dbias_c = Σ_{b,t} dout_{b,t,c}).
//
// Three paths, chosen once per call by `plan_broadcast`:
//   same_shape  a and b have the output's shape: one flat loop.
//   b_suffix    b's shape (less leading 1s) is the tail of a's, and a has the output's shape:
//               a (R, I) row by row against b (I) — the bias-like (B,T,C) + (C), and a scalar (1).
//               The backward walks dout once: each thread owns a slice of the I columns, adds
//               into da's slice and sums db's slice over the R rows in double (no partial buffers
//               to merge; the same result for any thread count).
//   general     any other pair: strided loops over the 4-D output; the backward of a broadcast
//               operand visits each of its elements once and sums its output positions (in double).
//
// ---- Unary ops (any shape; x and out have the same shape) ----------------------------------------
//   scale(x, s)        out = s · x                         dx += s · dout
//   exp(x)             out = eˣ                            dx += out · dout
//   sigmoid(x)         out = σ(x) = 1 / (1 + e⁻ˣ)           dx += out (1 − out) · dout
//   log_sigmoid(x)     out = log σ(x) = −softplus(−x) = min(x, 0) − log(1 + e^−|x|)
//                                                          dx += σ(−x) · dout
//                      (the stable form: no overflow for large |x|, no log(0) for x ≪ 0)
//   clamp(x, lo, hi)   out = min(max(x, lo), hi)           dx += dout where lo < x < hi, else 0
//   minimum(a, b)      out = min(a, b)   (same shapes)     the selected operand gets dout; on a tie
//   maximum(a, b)      out = max(a, b)   (same shapes)     (a = b) it goes to a, b gets 0
// exp, sigmoid and log_sigmoid use the C library's expf/log1pf (they are not on a hot path).
#pragma once
#include <cstdint>

#include "common/tensor/tensor.h"

namespace sog {

// How a pair of shapes broadcasts, in the output's index space padded on the left to 4 dims.
struct Broadcast {
  enum class Path { same_shape, b_suffix, general };
  Shape out;                  // the output shape
  Path path = Path::general;
  int64_t dims[kMaxDims]{};   // out's dims, padded with leading 1s
  int64_t a_stride[kMaxDims]{};  // a's element strides along those dims, 0 where a broadcasts
  int64_t b_stride[kMaxDims]{};
  int64_t rows = 0, inner = 0;   // b_suffix: a is (rows, inner), b is (inner)
};
// Throws std::invalid_argument naming `op` when the shapes do not broadcast.
Broadcast plan_broadcast(const Shape& a, const Shape& b, const char* op);

// Binary kernels. out has bc.out's shape; a and b their own. The backward accumulates into da and
// db, either of which may be nullptr (that operand needs no gradient).
void add_forward(float* out, const float* a, const float* b, const Broadcast& bc);
void add_backward(float* da, float* db, const float* dout, const Broadcast& bc);
void sub_forward(float* out, const float* a, const float* b, const Broadcast& bc);
void sub_backward(float* da, float* db, const float* dout, const Broadcast& bc);
void mul_forward(float* out, const float* a, const float* b, const Broadcast& bc);
void mul_backward(float* da, float* db, const float* a, const float* b, const float* dout, const Broadcast& bc);

// Unary kernels on N floats; the backward accumulates into dinp.
void scale_forward(float* out, const float* inp, float s, int64_t N);
void scale_backward(float* dinp, const float* dout, float s, int64_t N);
void exp_forward(float* out, const float* inp, int64_t N);
void exp_backward(float* dinp, const float* out, const float* dout, int64_t N);
void sigmoid_forward(float* out, const float* inp, int64_t N);
void sigmoid_backward(float* dinp, const float* out, const float* dout, int64_t N);
void log_sigmoid_forward(float* out, const float* inp, int64_t N);
void log_sigmoid_backward(float* dinp, const float* inp, const float* dout, int64_t N);
void clamp_forward(float* out, const float* inp, float lo, float hi, int64_t N);
void clamp_backward(float* dinp, const float* inp, const float* dout, float lo, float hi, int64_t N);
void minimum_forward(float* out, const float* a, const float* b, int64_t N);
void minimum_backward(float* da, float* db, const float* a, const float* b, const float* dout, int64_t N);
void maximum_forward(float* out, const float* a, const float* b, int64_t N);
void maximum_backward(float* da, float* db, const float* a, const float* b, const float* dout, int64_t N);

// The differentiable ops.
Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor scale(const Tensor& x, float s);
Tensor exp(const Tensor& x);
Tensor sigmoid(const Tensor& x);
Tensor log_sigmoid(const Tensor& x);
Tensor clamp(const Tensor& x, float lo, float hi);
Tensor minimum(const Tensor& a, const Tensor& b);
Tensor maximum(const Tensor& a, const Tensor& b);

}  // namespace sog
