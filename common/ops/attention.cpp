#include "common/ops/attention.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/autograd/tape.h"
#include "common/cpu/kernels.h"
#include "common/ops/op_checks.h"

namespace sog {

// This thread's scratch for the kernels: grown, never shrunk, so a training step allocates nothing
// after the first.
float* attention_thread_scratch(size_t floats) {
  thread_local std::vector<float> buffer;
  if (buffer.size() < floats) buffer.resize(floats);
  return buffer.data();
}

// The kernels are attention_simd.cpp's, one copy per instruction set (cpu/kernels.h).
void attention_forward(float* out, float* att, const float* qkv, int64_t B, int64_t T, int64_t C, int64_t NH) {
  cpu_kernels().attention_forward(out, att, qkv, B, T, C, NH);
}

void attention_backward(float* dqkv, float* dpreatt, const float* dout, const float* qkv, const float* att,
                        int64_t B, int64_t T, int64_t C, int64_t NH, bool accumulate) {
  cpu_kernels().attention_backward(dqkv, dpreatt, dout, qkv, att, B, T, C, NH, accumulate);
}

void attention_forward_cached(float* out, float* kcache, float* vcache, const float* qkv_new, int64_t B,
                              int64_t Tn, int64_t C, int64_t NH, int64_t max_T, int64_t length) {
  cpu_kernels().attention_forward_cached(out, kcache, vcache, qkv_new, B, Tn, C, NH, max_T, length);
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
    bool fresh = false;
    float* dqkv = qkv.grad_ref(&fresh).f32();
    attention_backward(dqkv, dpreatt.f32(), dout.f32(), qkv.f32(), att.f32(), B, T, C, NH, /*accumulate=*/!fresh);
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
  cache.k = Tensor::zeros({B, NH, HS, kv_cache_key_stride(max_T)});
  cache.v = Tensor::zeros({B, NH, max_T, HS});
  cache.max_T = max_T;
  return cache;
}

KVCache KVCache::row(int64_t b) const {
  if (!k.defined() || b < 0 || b >= k.size(0)) {
    throw std::out_of_range("KVCache::row: row " + std::to_string(b) + " of a cache with " +
                            std::to_string(k.defined() ? k.size(0) : 0) + " rows");
  }
  KVCache one;
  one.k = k.rows(b, 1);  // (1,NH,maxT,HS), row b's storage
  one.v = v.rows(b, 1);
  one.max_T = max_T;
  return one;
}

Tensor attention_forward_cached(const Tensor& qkv_new, int NH, KVCache& cache) {
  const char* op = "attention_forward_cached";
  const int64_t C = check_qkv(qkv_new, NH, op);
  const int64_t B = qkv_new.size(0), Tn = qkv_new.size(1), HS = C / NH;
  if (!cache.k.defined() || !cache.v.defined()) {
    throw std::invalid_argument(std::string(op) + ": cache: expected a cache from KVCache::make, found an empty one");
  }
  check_shape(cache.k, Shape{B, NH, HS, kv_cache_key_stride(cache.max_T)},
              "attention_forward_cached: cache.k (B,NH,HS,kv_cache_key_stride(maxT))");
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

// ---- batched decoding ------------------------------------------------------------------------

void attention_forward_cached_rows(float* out, float* kcache, float* vcache, const float* qkv_new, int64_t n,
                                   const int64_t* rows, const int64_t* lengths, int64_t C, int64_t NH, int64_t max_T) {
  const int64_t HS = C / NH;
  const int64_t k_row = NH * HS * kv_cache_key_stride(max_T), v_row = NH * max_T * HS;  // one row of each
  int64_t keys = 0;                                   // the work: keys attended, over the entries
  for (int64_t i = 0; i < n; i++) keys += lengths[i] + 1;
  auto entry = [&](int64_t i) {
    attention_forward_cached(out + i * C, kcache + rows[i] * k_row, vcache + rows[i] * v_row,
                             qkv_new + i * 3 * C, 1, 1, C, NH, max_T, lengths[i]);
  };
  if (n == 1 || keys * C <= (1 << 15)) {  // (the kernel may use the threads for one long row's heads)
    for (int64_t i = 0; i < n; i++) entry(i);
    return;
  }
  // The kernel's own threads stay off in here: a nested region runs on one thread.
#pragma omp parallel for schedule(dynamic)
  for (int64_t i = 0; i < n; i++) entry(i);
}

Tensor attention_forward_cached_rows(const Tensor& qkv_new, int NH, KVCache& cache, const std::vector<int64_t>& rows,
                                     const std::vector<int64_t>& lengths) {
  const char* op = "attention_forward_cached_rows";
  const int64_t C = check_qkv(qkv_new, NH, op);
  const int64_t n = qkv_new.size(0), HS = C / NH;
  if (qkv_new.size(1) != 1) {
    throw std::invalid_argument(std::string(op) + ": qkv_new: expected one new token per row, (n,1,3C), found " +
                                qkv_new.shape().str());
  }
  if (!cache.k.defined() || !cache.v.defined()) {
    throw std::invalid_argument(std::string(op) + ": cache: expected a cache from KVCache::make, found an empty one");
  }
  const int64_t B = cache.k.size(0);
  check_shape(cache.k, Shape{B, NH, HS, kv_cache_key_stride(cache.max_T)},
              "attention_forward_cached_rows: cache.k (B,NH,HS,kv_cache_key_stride(maxT))");
  check_shape(cache.v, Shape{B, NH, cache.max_T, HS}, "attention_forward_cached_rows: cache.v (B,NH,maxT,HS)");
  if (static_cast<int64_t>(rows.size()) != n || static_cast<int64_t>(lengths.size()) != n) {
    throw std::invalid_argument(std::string(op) + ": expected one row index and one length per entry of qkv_new (" +
                                std::to_string(n) + "), found " + std::to_string(rows.size()) + " rows and " +
                                std::to_string(lengths.size()) + " lengths");
  }
  std::vector<bool> used(B, false);
  for (int64_t i = 0; i < n; i++) {
    if (rows[i] < 0 || rows[i] >= B || used[rows[i]]) {
      throw std::invalid_argument(std::string(op) + ": rows[" + std::to_string(i) + "] = " + std::to_string(rows[i]) +
                                  ": expected a distinct row of the cache's " + std::to_string(B));
    }
    used[rows[i]] = true;
    if (lengths[i] < 0 || lengths[i] + 1 > cache.max_T) {
      throw std::out_of_range(std::string(op) + ": row " + std::to_string(rows[i]) + " holds " +
                              std::to_string(lengths[i]) + " positions and the cache max_T = " +
                              std::to_string(cache.max_T) + ": no room for one more (slide the window first)");
    }
  }
  Tensor out = Tensor::empty({n, 1, C});  // (n,1,C)
  attention_forward_cached_rows(out.f32(), cache.k.f32(), cache.v.f32(), qkv_new.f32(), n, rows.data(),
                                lengths.data(), C, NH, cache.max_T);
  return out;
}

}  // namespace sog
