// CUDA causal attention (common/ops/attention.cu): every variant of attention_variants(), forward
// and backward, against the CPU attention_forward / attention_backward of attention.cpp on the same
// bf16 q, k, v: B = 3, T = 37 (not a multiple of any tile), NH = 3 heads of HS = 64 (GPT-2's head
// size), T = 150 at HS = 64, plus HS = 32 and 128 (the other compiled flash sizes). lse is checked against a float64
// log-sum-exp. Then the KV-cache decoding path against the full forward, the determinism of the
// flash backward, and the error for an unsupported head size. Outputs are poisoned first.
// Tolerances: out and dqkv are bf16 (one rounding each, ≤ 2⁻⁹ relative per element; the backward
// also starts from the bf16 out through D = rowsum(dout ∘ out)): out 1e-2, dqkv 2e-2. lse is fp32
// math on exact inputs: 1e-5.
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

#include "common/tensor/cuda.h"

#if SOG_HAVE_CUDA
#include <cmath>
#include <vector>

#include "common/ops/attention.h"
#include "cuda_ops_test_util.h"

using namespace sog;
using namespace sog::testing;

namespace {

struct Shape {
  int B, T, NH, HS;
  int C() const { return NH * HS; }
};
// T = 37 leaves most of a query tile empty; the longer T fill the second query of each thread
// group in the flash forward (its tiles hold 128, 256 and 64 queries at HS = 64, 32, 128).
const std::vector<Shape> kShapes = {{3, 37, 3, 64}, {1, 150, 2, 64}, {1, 300, 2, 32}, {2, 70, 2, 128}};
constexpr double kOutTolerance = 1e-2, kGradTolerance = 2e-2, kLseTolerance = 1e-5;

// The CPU reference: out (B,T,C), att (B,NH,T,T), and lse (B,NH,T) in float64.
struct Reference {
  std::vector<float> out, att, lse, dqkv;
};
Reference cpu_reference(const Shape& s, const std::vector<float>& qkv, const std::vector<float>& dout) {
  const int B = s.B, T = s.T, NH = s.NH, HS = s.HS, C = s.C();
  Reference r;
  r.out.resize(size_t(B) * T * C);
  r.att.resize(size_t(B) * NH * T * T);
  attention_forward(r.out.data(), r.att.data(), qkv.data(), B, T, C, NH);
  r.dqkv.assign(qkv.size(), 0.0f);
  std::vector<float> dpreatt(r.att.size());
  attention_backward(r.dqkv.data(), dpreatt.data(), dout.data(), qkv.data(), r.att.data(), B, T, C, NH);
  r.lse.resize(size_t(B) * NH * T);
  for (int b = 0; b < B; b++) {
    for (int h = 0; h < NH; h++) {
      for (int t = 0; t < T; t++) {
        std::vector<double> sc(size_t(t) + 1);
        double mx = -INFINITY;
        for (int t2 = 0; t2 <= t; t2++) {
          double dot = 0.0;
          for (int i = 0; i < HS; i++) {
            dot += double(qkv[(size_t(b) * T + t) * 3 * C + h * HS + i]) *
                   double(qkv[(size_t(b) * T + t2) * 3 * C + C + h * HS + i]);
          }
          sc[size_t(t2)] = dot / std::sqrt(double(HS));
          mx = std::max(mx, sc[size_t(t2)]);
        }
        double sum = 0.0;
        for (double x : sc) sum += std::exp(x - mx);
        r.lse[(size_t(b) * NH + h) * T + t] = float(mx + std::log(sum));
      }
    }
  }
  return r;
}

TEST(CudaAttention, EveryVariantMatchesCpuForwardAndBackward) {
  SKIP_WITHOUT_CUDA_DEVICE();
  for (const Shape& s : kShapes) {
    const int B = s.B, T = s.T, NH = s.NH, C = s.C();
    const auto qkv = random_bf16_values(size_t(B) * T * 3 * C, uint64_t(s.HS) + 1);
    const auto dout = random_bf16_values(size_t(B) * T * C, uint64_t(s.HS) + 2);
    const Reference ref = cpu_reference(s, qkv, dout);
    Bf16Buffer d_qkv(qkv.size()), d_dout(dout.size()), out(ref.out.size()), dqkv(qkv.size());
    DeviceBuffer<float> lse(ref.lse.size());
    upload(d_qkv, qkv);
    upload(d_dout, dout);
    for (const auto& variant : cuda::attention_variants()) {
      SCOPED_TRACE(std::string(variant.name) + ", HS = " + std::to_string(s.HS));
      out.poison();
      lse.poison();
      variant.forward(out.ptr, lse.ptr, d_qkv.ptr, B, T, C, NH, nullptr);
      EXPECT_LT(rel_error(download(out), ref.out), kOutTolerance);
      EXPECT_LT(rel_error(download(lse), ref.lse), kLseTolerance);

      DeviceBuffer<float> scratch(size_t(variant.backward_scratch_floats(B, T, C, NH)));
      scratch.poison();
      dqkv.poison();
      variant.backward(dqkv.ptr, scratch.ptr, d_dout.ptr, d_qkv.ptr, out.ptr, lse.ptr, B, T, C, NH, nullptr);
      const auto got = download(dqkv);
      EXPECT_EQ(count_nan(got), 0u) << "every element of dqkv is written";
      EXPECT_LT(rel_error(got, ref.dqkv), kGradTolerance);
    }
  }
}

TEST(CudaAttention, DefaultLaunchersMatchCpuAndBackwardIsDeterministic) {
  SKIP_WITHOUT_CUDA_DEVICE();
  const Shape s{3, 37, 3, 64};
  const int B = s.B, T = s.T, NH = s.NH, C = s.C();
  const auto qkv = random_bf16_values(size_t(B) * T * 3 * C, 31);
  const auto dout = random_bf16_values(size_t(B) * T * C, 32);
  const Reference ref = cpu_reference(s, qkv, dout);
  Bf16Buffer d_qkv(qkv.size()), d_dout(dout.size()), out(ref.out.size()), dqkv(qkv.size());
  DeviceBuffer<float> lse(ref.lse.size()), scratch(size_t(cuda::attention_backward_scratch_floats(B, T, C, NH)));
  upload(d_qkv, qkv);
  upload(d_dout, dout);
  out.poison();
  cuda::attention_forward(out.ptr, lse.ptr, d_qkv.ptr, B, T, C, NH, nullptr);
  EXPECT_LT(rel_error(download(out), ref.out), kOutTolerance);
  std::vector<float> first;
  for (int run = 0; run < 2; run++) {
    dqkv.poison();
    cuda::attention_backward(dqkv.ptr, scratch.ptr, d_dout.ptr, d_qkv.ptr, out.ptr, lse.ptr, B, T, C, NH, nullptr);
    const auto got = download(dqkv);
    EXPECT_LT(rel_error(got, ref.dqkv), kGradTolerance);
    if (run == 0) first = got;
    else EXPECT_EQ(got, first) << "the flash backward uses no atomics: bitwise the same on every run";
  }
}

// Feeding the sequence in pieces (100, 1, then 49 tokens) through the KV cache gives the full
// forward's outputs; the caches hold exactly the k and v of every position.
TEST(CudaAttention, CachedDecodingMatchesFullForward) {
  SKIP_WITHOUT_CUDA_DEVICE();
  const int B = 2, T = 150, NH = 3, HS = 64, C = NH * HS, max_T = 160;
  const auto qkv = random_bf16_values(size_t(B) * T * 3 * C, 41);
  std::vector<float> ref(size_t(B) * T * C);
  attention_forward(ref.data(), nullptr, qkv.data(), B, T, C, NH);

  Bf16Buffer kcache(size_t(B) * NH * max_T * HS), vcache(size_t(B) * NH * max_T * HS);
  kcache.poison();
  vcache.poison();
  std::vector<float> got(ref.size());
  int length = 0;
  for (int Tn : {100, 1, 49}) {
    std::vector<float> piece(size_t(B) * Tn * 3 * C);  // qkv_new (B,Tn,3C): rows length..length+Tn−1
    for (int b = 0; b < B; b++) {
      for (int j = 0; j < Tn; j++) {
        for (int c = 0; c < 3 * C; c++) {
          piece[(size_t(b) * Tn + j) * 3 * C + c] = qkv[(size_t(b) * T + length + j) * 3 * C + c];
        }
      }
    }
    Bf16Buffer d_piece(piece.size()), out(size_t(B) * Tn * C);
    upload(d_piece, piece);
    out.poison();
    cuda::attention_forward_cached(out.ptr, kcache.ptr, vcache.ptr, d_piece.ptr, B, Tn, C, NH, max_T, length,
                                   nullptr);
    const auto o = download(out);
    for (int b = 0; b < B; b++) {
      for (int j = 0; j < Tn; j++) {
        for (int c = 0; c < C; c++) got[(size_t(b) * T + length + j) * C + c] = o[(size_t(b) * Tn + j) * C + c];
      }
    }
    length += Tn;
  }
  EXPECT_LT(rel_error(got, ref), kOutTolerance);
  const auto k = download(kcache), v = download(vcache);
  size_t mismatches = 0;
  for (int b = 0; b < B; b++) {
    for (int h = 0; h < NH; h++) {
      for (int t = 0; t < T; t++) {
        for (int i = 0; i < HS; i++) {
          const size_t at = ((size_t(b) * NH + h) * max_T + t) * HS + i;
          const size_t src = (size_t(b) * T + t) * 3 * C + h * HS + i;
          mismatches += k[at] != qkv[src + C];
          mismatches += v[at] != qkv[src + 2 * C];
        }
      }
    }
  }
  EXPECT_EQ(mismatches, 0u) << "the caches hold the new tokens' k and v exactly";
  EXPECT_THROW(cuda::attention_forward_cached(nullptr, kcache.ptr, vcache.ptr, nullptr, B, 11, C, NH, max_T, length,
                                              nullptr),
               std::out_of_range);
}

}  // namespace

// The head-size check runs on the host before any launch, so it needs no device.
TEST(CudaAttention, FlashRejectsUnsupportedHeadSize) {
  try {
    sog::cuda::attention_forward(nullptr, nullptr, nullptr, 1, 8, 96, 2, nullptr);  // HS = 48
    FAIL() << "expected std::invalid_argument";
  } catch (const std::invalid_argument& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("HS = C/NH = 48"), std::string::npos) << msg;
    EXPECT_NE(msg.find("32, 64 or 128"), std::string::npos) << msg;
  }
}

#else
TEST(CudaAttention, Skipped) { GTEST_SKIP() << "built without CUDA"; }
#endif
