#include "common/ops/cross_entropy.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/autograd/tape.h"
#include "common/ops/op_checks.h"
#include "common/ops/softmax.h"

namespace sog {

static constexpr int64_t kParallelFloats = 1 << 15;

// log Σ_{v<V} exp(x_v) = max + log_sum, max-subtracted: two passes over the row.
struct RowLogSumExp {
  float max, log_sum;
  float lse() const { return max + log_sum; }
  // log p_t = (x_t − max) − log_sum; in this order x_t − max is exact near the max, where
  // x_t − lse would round away log_sum's low bits when |x| ≫ 1.
  float log_prob(float x_t) const { return (x_t - max) - log_sum; }
};
static RowLogSumExp row_logsumexp(const float* x, int64_t V) {
  float m = row_max(x, V);
  return {m, std::log(row_sum_exp(nullptr, x, V, m))};
}

// dl_v += (p_v − [v = t]) · scale for v < V, with p_v = exp(x_v − lse). (scale < 0 gives the
// gather_logprobs backward.)
static void row_softmax_grad(float* dl, const float* x, float lse, int32_t t, float scale, int64_t V) {
#pragma omp simd
  for (int64_t v = 0; v < V; v++) dl[v] += exp_poly(x[v] - lse) * scale;
  dl[t] -= scale;
}

void cross_entropy_forward(float* losses, float* lse, const float* logits, const int32_t* targets, int64_t N,
                           int64_t V, int64_t Vp, int32_t ignore_index) {
#pragma omp parallel for if (N * V > kParallelFloats)
  for (int64_t i = 0; i < N; i++) {
    if (targets[i] == ignore_index) {
      losses[i] = lse[i] = 0.0f;
      continue;
    }
    const float* x = logits + i * Vp;  // (Vp), of which the first V count
    RowLogSumExp row = row_logsumexp(x, V);
    lse[i] = row.lse();
    losses[i] = -row.log_prob(x[targets[i]]);
  }
}

void cross_entropy_backward(float* dlogits, const float* logits, const float* lse, const int32_t* targets,
                            const float* weights, float dloss_over_wsum, int64_t N, int64_t V, int64_t Vp,
                            int32_t ignore_index, bool accumulate) {
#pragma omp parallel for if (N * V > kParallelFloats)
  for (int64_t i = 0; i < N; i++) {
    if (!accumulate) std::fill(dlogits + i * Vp, dlogits + (i + 1) * Vp, 0.0f);  // the row, while it is hot
    float scale = weights ? weights[i] * dloss_over_wsum : dloss_over_wsum;
    if (targets[i] == ignore_index || scale == 0.0f) continue;
    row_softmax_grad(dlogits + i * Vp, logits + i * Vp, lse[i], targets[i], scale, V);
  }
}

void gather_logprobs_forward(float* out, float* lse, const float* logits, const int32_t* ids, int64_t N, int64_t V,
                             int64_t Vp) {
#pragma omp parallel for if (N * V > kParallelFloats)
  for (int64_t i = 0; i < N; i++) {
    const float* x = logits + i * Vp;
    RowLogSumExp row = row_logsumexp(x, V);
    lse[i] = row.lse();
    out[i] = row.log_prob(x[ids[i]]);
  }
}

void entropy_forward(float* out, float* lse, const float* logits, int64_t N, int64_t V, int64_t Vp) {
#pragma omp parallel for if (N * V > kParallelFloats)
  for (int64_t i = 0; i < N; i++) {
    const float* x = logits + i * Vp;  // (Vp), of which the first V count
    const float m = row_max(x, V);
    float sum = 0.0f, weighted = 0.0f;  // S = Σ e_v and Σ e_v·(x_v − m)
#pragma omp simd reduction(+ : sum, weighted)
    for (int64_t v = 0; v < V; v++) {
      const float e = exp_poly(x[v] - m);
      sum += e;
      weighted += e * (x[v] - m);
    }
    const float log_sum = std::log(sum);
    lse[i] = m + log_sum;
    out[i] = log_sum - weighted / sum;
  }
}

void entropy_backward(float* dlogits, const float* logits, const float* lse, const float* entropy, const float* dout,
                      int64_t N, int64_t V, int64_t Vp) {
#pragma omp parallel for if (N * V > kParallelFloats)
  for (int64_t i = 0; i < N; i++) {
    if (dout[i] == 0.0f) continue;
    const float* x = logits + i * Vp;
    float* dl = dlogits + i * Vp;
    const float l = lse[i], h = entropy[i], g = dout[i];
#pragma omp simd
    for (int64_t v = 0; v < V; v++) dl[v] += exp_poly(x[v] - l) * (l - x[v] - h) * g;  // p_v·(−log p_v − H)·dout
  }
}

float logprob_row(const float* logits, int64_t V, int32_t id) {
  return row_logsumexp(logits, V).log_prob(logits[id]);
}

void gather_logprobs_backward(float* dlogits, const float* logits, const float* lse, const int32_t* ids,
                              const float* dout, int64_t N, int64_t V, int64_t Vp) {
#pragma omp parallel for if (N * V > kParallelFloats)
  for (int64_t i = 0; i < N; i++) {
    if (dout[i] == 0.0f) continue;
    row_softmax_grad(dlogits + i * Vp, logits + i * Vp, lse[i], ids[i], -dout[i], V);
  }
}

// ---- argument checks -----------------------------------------------------------------------------

[[noreturn]] static void fail(const char* op, const char* arg, const std::string& expected, const std::string& found) {
  throw std::invalid_argument(std::string(op) + ": " + arg + ": expected " + expected + ", found " + found);
}

// The index of flat element i in `shape`, as "(b, t)".
static std::string position(const Shape& shape, int64_t i) {
  std::vector<int64_t> idx(shape.ndim);
  for (int k = shape.ndim - 1; k >= 0; k--) {
    idx[k] = i % shape.dims[k];
    i /= shape.dims[k];
  }
  std::string s = "(";
  for (int k = 0; k < shape.ndim; k++) s += (k ? ", " : "") + std::to_string(idx[k]);
  return s + ")";
}

// logits (...,Vp) f32 with at least 2 dimensions and V in [1, Vp] (0 = Vp); returns the resolved V.
static int64_t check_logits(const Tensor& logits, int64_t V, const char* op) {
  require_cpu_f32(logits, op, "logits");
  if (logits.ndim() < 2) fail(op, "logits", "at least 2 dimensions, (N,Vp) or (B,T,Vp)", logits.shape().str());
  const int64_t Vp = logits.shape().last();
  if (V == 0) V = Vp;
  if (V < 1 || V > Vp) fail(op, "V", "0 (= Vp) or 1 <= V <= Vp = " + std::to_string(Vp), std::to_string(V));
  return V;
}

// logits (...,Vp) f32 and targets (...) i32 with the same leading shape; returns the resolved V.
static int64_t check_logits_and_targets(const Tensor& logits, const Tensor& targets, int64_t V, const char* op,
                                        const char* targets_arg) {
  V = check_logits(logits, V, op);
  require_cpu_i32(targets, op, targets_arg);
  const Shape& ls = logits.shape();
  Shape leading(std::vector<int64_t>(ls.dims.begin(), ls.dims.begin() + ls.ndim - 1));
  if (targets.shape() != leading) {
    fail(op, targets_arg, "shape " + leading.str() + " (the logits " + ls.str() + " less the vocabulary)",
         targets.shape().str());
  }
  return V;
}

// Every id in [0, V), or equal to ignore_index when `has_ignore`.
static void check_ids(const Tensor& ids, int64_t V, bool has_ignore, int32_t ignore_index, const char* op,
                      const char* arg) {
  const int32_t* t = ids.i32();
  for (int64_t i = 0; i < ids.numel(); i++) {
    if ((has_ignore && t[i] == ignore_index) || (t[i] >= 0 && t[i] < V)) continue;
    std::string expected = "values in [0, " + std::to_string(V) + ")";
    if (has_ignore) expected += " or ignore_index " + std::to_string(ignore_index);
    fail(op, arg, expected, std::to_string(t[i]) + " at position " + position(ids.shape(), i));
  }
}

// ---- the differentiable ops ----------------------------------------------------------------------

Tensor cross_entropy(const Tensor& logits, const Tensor& targets, const Tensor& weights, int32_t ignore_index,
                     int64_t V) {
  const char* op = "cross_entropy";
  V = check_logits_and_targets(logits, targets, V, op, "targets");
  check_ids(targets, V, true, ignore_index, op, "targets");
  const int64_t N = targets.numel(), Vp = logits.shape().last();
  const int32_t* t = targets.i32();
  const float* w = nullptr;
  if (weights.defined()) {
    require_cpu_f32(weights, op, "weights");
    if (weights.shape() != targets.shape()) fail(op, "weights", "the targets' shape " + targets.shape().str(), weights.shape().str());
    w = weights.f32();
    for (int64_t i = 0; i < N; i++) {
      if (!(w[i] >= 0.0f && std::isfinite(w[i]))) {
        fail(op, "weights", "finite values >= 0", std::to_string(w[i]) + " at position " + position(weights.shape(), i));
      }
    }
  }

  Tensor losses = Tensor::empty({N}), lse = Tensor::empty({N});  // (N), (N)
  cross_entropy_forward(losses.f32(), lse.f32(), logits.f32(), t, N, V, Vp, ignore_index);
  double weighted = 0.0, wsum = 0.0;  // Σ w_i · loss_i and Σ w_i, in double, in row order
  const float* l = losses.f32();
  for (int64_t i = 0; i < N; i++) {
    if (t[i] == ignore_index) continue;
    double wi = w ? w[i] : 1.0;
    weighted += wi * l[i];
    wsum += wi;
  }
  Tensor out = Tensor::full({1}, wsum > 0.0 ? static_cast<float>(weighted / wsum) : 0.0f);
  if (wsum > 0.0 && should_record({&logits})) {
    record("cross_entropy", out, [logits, targets, weights, lse, wsum, ignore_index, N, V, Vp](const Tensor& dout) {
      float scale = static_cast<float>(dout.f32()[0] / wsum);
      bool fresh = false;
      float* dlogits = logits.grad_ref(&fresh).f32();
      cross_entropy_backward(dlogits, logits.f32(), lse.f32(), targets.i32(), weights.defined() ? weights.f32() : nullptr,
                             scale, N, V, Vp, ignore_index, /*accumulate=*/!fresh);
    });
  } else if (should_record({&logits})) {
    // Σw = 0: the loss is the constant 0; record it so backward() still reaches the logits (as 0s).
    record("cross_entropy", out, [logits](const Tensor&) { logits.grad_ref(); });
  }
  return out;
}

Tensor gather_logprobs(const Tensor& logits, const Tensor& ids, int64_t V) {
  const char* op = "gather_logprobs";
  V = check_logits_and_targets(logits, ids, V, op, "ids");
  check_ids(ids, V, false, 0, op, "ids");
  const int64_t N = ids.numel(), Vp = logits.shape().last();
  Tensor out = Tensor::empty(ids.shape()), lse = Tensor::empty({N});  // (B,T), (N)
  gather_logprobs_forward(out.f32(), lse.f32(), logits.f32(), ids.i32(), N, V, Vp);
  if (should_record({&logits})) {
    record("gather_logprobs", out, [logits, ids, lse, N, V, Vp](const Tensor& dout) {
      gather_logprobs_backward(logits.grad_ref().f32(), logits.f32(), lse.f32(), ids.i32(), dout.f32(), N, V, Vp);
    });
  }
  return out;
}

Tensor entropy(const Tensor& logits, int64_t V) {
  V = check_logits(logits, V, "entropy");
  const Shape& ls = logits.shape();
  const int64_t Vp = ls.last(), N = logits.numel() / Vp;
  Tensor out = Tensor::empty(Shape(std::vector<int64_t>(ls.dims.begin(), ls.dims.begin() + ls.ndim - 1)));  // (B,T)
  Tensor lse = Tensor::empty({N});                                                                           // (N)
  entropy_forward(out.f32(), lse.f32(), logits.f32(), N, V, Vp);
  if (should_record({&logits})) {
    record("entropy", out, [logits, lse, out, N, V, Vp](const Tensor& dout) {
      entropy_backward(logits.grad_ref().f32(), logits.f32(), lse.f32(), out.f32(), dout.f32(), N, V, Vp);
    });
  }
  return out;
}

}  // namespace sog
