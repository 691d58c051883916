#include "common/ops/attention.h"

#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/autograd/tape.h"
#include "common/ops/op_checks.h"

namespace sog {

// One query against n keys/values (the rows of one head), shared by attention() and the cached
// path so that both compute the same numbers in the same order:
//   att[t2] = softmax_t2(q · k_t2 · scale),  out = Σ att[t2] · v_t2      for t2 < n
// keys/values are the head's first row; row t2 sits `stride` floats after row t2−1.
static inline void attend_one_query(float* out, float* att, const float* q, const float* keys,
                                    const float* values, int64_t stride, int64_t n, int64_t HS, float scale) {
  float maxval = -INFINITY;
  for (int64_t t2 = 0; t2 < n; t2++) {
    const float* k = keys + t2 * stride;  // (HS)
    float dot = 0.0f;
#pragma omp simd reduction(+ : dot)
    for (int64_t i = 0; i < HS; i++) dot += q[i] * k[i];
    dot *= scale;
    att[t2] = dot;
    if (dot > maxval) maxval = dot;
  }
  float sum = 0.0f;  // subtracting the max keeps exp() in range; it cancels in the ratio
  for (int64_t t2 = 0; t2 < n; t2++) {
    float e = std::exp(att[t2] - maxval);
    att[t2] = e;
    sum += e;
  }
  const float inv_sum = 1.0f / sum;
  for (int64_t t2 = 0; t2 < n; t2++) att[t2] *= inv_sum;
  for (int64_t i = 0; i < HS; i++) out[i] = 0.0f;
  for (int64_t t2 = 0; t2 < n; t2++) {
    const float* v = values + t2 * stride;  // (HS)
    const float a = att[t2];
#pragma omp simd
    for (int64_t i = 0; i < HS; i++) out[i] += a * v[i];
  }
}

void attention_forward(float* out, float* att, const float* qkv, int64_t B, int64_t T, int64_t C, int64_t NH) {
  const int64_t C3 = 3 * C, HS = C / NH;
  const float scale = 1.0f / std::sqrt(static_cast<float>(HS));
#pragma omp parallel if (B * NH * T * T * HS > (1 << 16))
  {
    std::vector<float> scratch(att ? 0 : T);  // (T) this thread's probabilities when none are kept
#pragma omp for collapse(3) schedule(static, 1)
    for (int64_t b = 0; b < B; b++) {
      for (int64_t h = 0; h < NH; h++) {
        for (int64_t t = 0; t < T; t++) {
          const float* q = qkv + (b * T + t) * C3 + h * HS;  // (HS)
          const float* keys = qkv + b * T * C3 + C + h * HS;    // row 0 of (T,HS), stride 3C
          const float* values = keys + C;                       // row 0 of (T,HS), stride 3C
          float* a = att ? att + ((b * NH + h) * T + t) * T : scratch.data();  // (T)
          attend_one_query(out + (b * T + t) * C + h * HS, a, q, keys, values, C3, t + 1, HS, scale);
          if (att)
            for (int64_t t2 = t + 1; t2 < T; t2++) a[t2] = 0.0f;  // masked: the future gets no weight
        }
      }
    }
  }
}

void attention_backward(float* dqkv, float* dpreatt, const float* dout, const float* qkv, const float* att,
                        int64_t B, int64_t T, int64_t C, int64_t NH) {
  const int64_t C3 = 3 * C, HS = C / NH;
  const float scale = 1.0f / std::sqrt(static_cast<float>(HS));
  const bool parallel = B * NH * T * T * HS > (1 << 16);

  // Pass 1, one query row (b, h, t) per iteration: datt → dpreatt (softmax backward) → dq_t.
#pragma omp parallel for collapse(3) schedule(static, 1) if (parallel)
  for (int64_t b = 0; b < B; b++) {
    for (int64_t h = 0; h < NH; h++) {
      for (int64_t t = 0; t < T; t++) {
        const float* a = att + ((b * NH + h) * T + t) * T;   // (T)
        float* dp = dpreatt + ((b * NH + h) * T + t) * T;    // (T)
        const float* g = dout + (b * T + t) * C + h * HS;    // (HS) dout_t of this head
        const float* keys = qkv + b * T * C3 + C + h * HS;   // row 0 of (T,HS), stride 3C
        const float* values = keys + C;
        float weighted = 0.0f;  // Σ_t3 att[t3] · datt[t3]
        for (int64_t t2 = 0; t2 <= t; t2++) {
          const float* v = values + t2 * C3;
          float datt = 0.0f;
#pragma omp simd reduction(+ : datt)
          for (int64_t i = 0; i < HS; i++) datt += v[i] * g[i];
          dp[t2] = datt;
          weighted += a[t2] * datt;
        }
        for (int64_t t2 = 0; t2 <= t; t2++) dp[t2] = a[t2] * (dp[t2] - weighted);
        float* dq = dqkv + (b * T + t) * C3 + h * HS;  // (HS)
        for (int64_t t2 = 0; t2 <= t; t2++) {
          const float* k = keys + t2 * C3;
          const float coef = dp[t2] * scale;
#pragma omp simd
          for (int64_t i = 0; i < HS; i++) dq[i] += coef * k[i];
        }
      }
    }
  }

  // Pass 2, one key/value row (b, h, t2) per iteration: gather from every query t ≥ t2 that saw it.
#pragma omp parallel for collapse(3) schedule(static, 1) if (parallel)
  for (int64_t b = 0; b < B; b++) {
    for (int64_t h = 0; h < NH; h++) {
      for (int64_t t2 = 0; t2 < T; t2++) {
        float* dk = dqkv + (b * T + t2) * C3 + C + h * HS;  // (HS)
        float* dv = dk + C;                                  // (HS)
        for (int64_t t = t2; t < T; t++) {
          const int64_t at = ((b * NH + h) * T + t) * T + t2;
          const float* q = qkv + (b * T + t) * C3 + h * HS;  // (HS)
          const float* g = dout + (b * T + t) * C + h * HS;  // (HS)
          const float coef = dpreatt[at] * scale, a = att[at];
#pragma omp simd
          for (int64_t i = 0; i < HS; i++) {
            dk[i] += coef * q[i];
            dv[i] += a * g[i];
          }
        }
      }
    }
  }
}

// qkv (B,T,3C) with 3C divisible by 3 and C by NH; returns C.
static int64_t check_qkv(const Tensor& qkv, int NH, const char* op) {
  require_cpu_f32(qkv, op, "qkv");
  require_ndim(qkv, 3, op, "qkv");
  const int64_t C3 = qkv.size(2);
  if (C3 % 3 != 0 || C3 == 0) {
    throw std::invalid_argument(std::string(op) + ": qkv: expected a last dimension 3C (q, k, v side by side), found " +
                                qkv.shape().str());
  }
  const int64_t C = C3 / 3;
  if (NH <= 0 || C % NH != 0) {
    throw std::invalid_argument(std::string(op) + ": NH: expected a positive divisor of C = " + std::to_string(C) +
                                " (head size C/NH), found NH = " + std::to_string(NH));
  }
  return C;
}

Tensor attention(const Tensor& qkv, int NH) {
  const int64_t C = check_qkv(qkv, NH, "attention");
  const int64_t B = qkv.size(0), T = qkv.size(1);
  Tensor out = Tensor::empty({B, T, C});  // (B,T,C)
  if (!should_record({&qkv})) {
    attention_forward(out.f32(), nullptr, qkv.f32(), B, T, C, NH);
    return out;
  }
  Tensor att = Tensor::empty({B, NH, T, T});  // (B,NH,T,T) the probabilities, kept for the backward
  attention_forward(out.f32(), att.f32(), qkv.f32(), B, T, C, NH);
  record("attention", out, [qkv, att, B, T, C, NH](const Tensor& dout) {
    Tensor dpreatt = Tensor::empty({B, NH, T, T});  // (B,NH,T,T) scratch
    attention_backward(qkv.grad_ref().f32(), dpreatt.f32(), dout.f32(), qkv.f32(), att.f32(), B, T, C, NH);
  });
  return out;
}

// ---- KV cache -----------------------------------------------------------------------------------

KVCache KVCache::make(int64_t B, int64_t NH, int64_t max_T, int64_t HS) {
  if (B <= 0 || NH <= 0 || max_T <= 0 || HS <= 0) {
    throw std::invalid_argument("KVCache::make: expected B, NH, max_T, HS > 0, found (" + std::to_string(B) + ", " +
                                std::to_string(NH) + ", " + std::to_string(max_T) + ", " + std::to_string(HS) + ")");
  }
  KVCache cache;
  cache.k = Tensor::zeros({B, NH, max_T, HS});
  cache.v = Tensor::zeros({B, NH, max_T, HS});
  cache.max_T = max_T;
  return cache;
}

void attention_forward_cached(float* out, float* kcache, float* vcache, const float* qkv_new, int64_t B,
                              int64_t Tn, int64_t C, int64_t NH, int64_t max_T, int64_t length) {
  const int64_t C3 = 3 * C, HS = C / NH;
  const float scale = 1.0f / std::sqrt(static_cast<float>(HS));
  // Append: the new tokens' k and v go to positions length..length+Tn−1 of their head's rows.
  for (int64_t b = 0; b < B; b++) {
    for (int64_t h = 0; h < NH; h++) {
      for (int64_t j = 0; j < Tn; j++) {
        const float* k = qkv_new + (b * Tn + j) * C3 + C + h * HS;  // (HS)
        const float* v = k + C;                                      // (HS)
        const int64_t row = ((b * NH + h) * max_T + length + j) * HS;
        for (int64_t i = 0; i < HS; i++) {
          kcache[row + i] = k[i];
          vcache[row + i] = v[i];
        }
      }
    }
  }
  // Attend: the query at absolute position p = length + j sees cache positions 0..p.
#pragma omp parallel if (B * NH * Tn * (length + Tn) * HS > (1 << 16))
  {
    std::vector<float> scratch(length + Tn);  // (length+Tn) this thread's probabilities
#pragma omp for collapse(3) schedule(static, 1)
    for (int64_t b = 0; b < B; b++) {
      for (int64_t h = 0; h < NH; h++) {
        for (int64_t j = 0; j < Tn; j++) {
          const float* q = qkv_new + (b * Tn + j) * C3 + h * HS;  // (HS)
          const float* keys = kcache + (b * NH + h) * max_T * HS;  // (maxT,HS)
          const float* values = vcache + (b * NH + h) * max_T * HS;
          attend_one_query(out + (b * Tn + j) * C + h * HS, scratch.data(), q, keys, values, HS, length + j + 1,
                           HS, scale);
        }
      }
    }
  }
}

Tensor attention_forward_cached(const Tensor& qkv_new, int NH, KVCache& cache) {
  const char* op = "attention_forward_cached";
  const int64_t C = check_qkv(qkv_new, NH, op);
  const int64_t B = qkv_new.size(0), Tn = qkv_new.size(1), HS = C / NH;
  if (!cache.k.defined() || !cache.v.defined()) {
    throw std::invalid_argument(std::string(op) + ": cache: expected a cache from KVCache::make, found an empty one");
  }
  check_shape(cache.k, Shape{B, NH, cache.max_T, HS}, "attention_forward_cached: cache.k (B,NH,maxT,HS)");
  check_shape(cache.v, Shape{B, NH, cache.max_T, HS}, "attention_forward_cached: cache.v (B,NH,maxT,HS)");
  if (cache.length + Tn > cache.max_T) {
    throw std::out_of_range(std::string(op) + ": the KV cache is full: it holds max_T = " +
                            std::to_string(cache.max_T) + " positions, " + std::to_string(cache.length) +
                            " are filled and " + std::to_string(Tn) + " new tokens would need " +
                            std::to_string(cache.length + Tn) + " (reset() the cache or make a longer one)");
  }
  Tensor out = Tensor::empty({B, Tn, C});  // (B,Tn,C)
  attention_forward_cached(out.f32(), cache.k.f32(), cache.v.f32(), qkv_new.f32(), B, Tn, C, NH, cache.max_T,
                           cache.length);
  cache.length += Tn;
  return out;
}

}  // namespace sog
