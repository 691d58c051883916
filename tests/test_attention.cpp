#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/autograd/tape.h"
#include "common/ops/attention.h"
#include "gradcheck.h"

using namespace sog;
using namespace sog::testing;

// The textbook per-head causal attention in float64: for each (b, h, t), scores q_t·k_t2/√HS over
// t2 ≤ t, softmax, weighted sum of v. qkv (B,T,3C) → (B,T,C).
static std::vector<double> attention_reference(const Tensor& qkv, int64_t NH) {
  const int64_t B = qkv.size(0), T = qkv.size(1), C = qkv.size(2) / 3, HS = C / NH;
  const float* p = qkv.f32();
  auto at = [&](int64_t b, int64_t t, int64_t part, int64_t h, int64_t i) {
    return static_cast<double>(p[(b * T + t) * 3 * C + part * C + h * HS + i]);
  };
  std::vector<double> out(B * T * C, 0.0);
  for (int64_t b = 0; b < B; b++) {
    for (int64_t h = 0; h < NH; h++) {
      for (int64_t t = 0; t < T; t++) {
        std::vector<double> s(t + 1);
        double maxs = -1e300, sum = 0;
        for (int64_t t2 = 0; t2 <= t; t2++) {
          double dot = 0;
          for (int64_t i = 0; i < HS; i++) dot += at(b, t, 0, h, i) * at(b, t2, 1, h, i);
          s[t2] = dot / std::sqrt(static_cast<double>(HS));
          maxs = std::max(maxs, s[t2]);
        }
        for (auto& v : s) sum += (v = std::exp(v - maxs));
        for (int64_t i = 0; i < HS; i++) {
          double o = 0;
          for (int64_t t2 = 0; t2 <= t; t2++) o += s[t2] / sum * at(b, t2, 2, h, i);
          out[(b * T + t) * C + h * HS + i] = o;
        }
      }
    }
  }
  return out;
}

struct AttnShape {
  int64_t B, T, C, NH;
};

// Odd shapes on purpose: T = 1, C not a multiple of 16, NH = 1 and 3, T across several query
// blocks of 32 and not a multiple of the 16 key lanes (70).
static const AttnShape kShapes[] = {{2, 5, 12, 3}, {1, 1, 20, 1}, {3, 7, 21, 3}, {2, 9, 10, 1}, {2, 33, 48, 4},
                                    {1, 70, 24, 2}};

TEST(Attention, ForwardMatchesFloat64PerHeadReference) {
  for (const AttnShape& s : kShapes) {
    Tensor qkv = Tensor::randn({s.B, s.T, 3 * s.C}, 1.0f, 1);
    Tensor out = attention(qkv, static_cast<int>(s.NH));
    ASSERT_EQ(out.shape(), (Shape{s.B, s.T, s.C}));
    std::vector<double> ref = attention_reference(qkv, s.NH);
    for (int64_t i = 0; i < out.numel(); i++)
      EXPECT_NEAR(out.f32()[i], ref[i], 1e-5) << "B,T,C,NH=" << s.B << "," << s.T << "," << s.C << "," << s.NH
                                              << " i=" << i;
  }
}

TEST(Attention, FirstPositionReturnsItsOwnValue) {
  // t = 0 attends to itself alone: out_0 = v_0 for every head.
  const int64_t C = 6;
  Tensor qkv = Tensor::randn({2, 3, 3 * C}, 1.0f, 2);
  Tensor out = attention(qkv, 2);
  for (int64_t b = 0; b < 2; b++)
    for (int64_t c = 0; c < C; c++) EXPECT_FLOAT_EQ(out.f32()[(b * 3) * C + c], qkv.f32()[(b * 3) * 3 * C + 2 * C + c]);
}

TEST(Attention, IsCausalFutureKeysAndValuesDoNotChangeEarlierOutputs) {
  const int64_t B = 2, T = 8, C = 12, NH = 3, future = 5;
  Tensor qkv = Tensor::randn({B, T, 3 * C}, 1.0f, 3);
  Tensor before = attention(qkv, NH);
  Tensor changed = qkv.clone();
  for (int64_t b = 0; b < B; b++)
    for (int64_t c = C; c < 3 * C; c++) changed.f32()[(b * T + future) * 3 * C + c] += 1.5f;  // k and v of t = 5
  Tensor after = attention(changed, NH);
  for (int64_t b = 0; b < B; b++) {
    for (int64_t t = 0; t < T; t++) {
      bool same = true;
      for (int64_t c = 0; c < C; c++) same &= before.f32()[(b * T + t) * C + c] == after.f32()[(b * T + t) * C + c];
      if (t < future) EXPECT_TRUE(same) << "t=" << t << " saw a future key/value";
      else EXPECT_FALSE(same) << "t=" << t << " ignored a key/value it may see";
    }
  }
}

TEST(Attention, GradientMatchesFiniteDifferences) {
  expect_gradients_match([](auto& in) { return attention(in[0], 3); }, {random_input({2, 4, 3 * 6}, 4)});
  expect_gradients_match([](auto& in) { return attention(in[0], 1); }, {random_input({1, 5, 3 * 5}, 5)});
  expect_gradients_match([](auto& in) { return attention(in[0], 2); }, {random_input({2, 1, 3 * 4}, 6)});  // T = 1
  // T = 37: two query blocks, keys not a multiple of the 16 lanes
  expect_gradients_match([](auto& in) { return attention(in[0], 2); }, {random_input({1, 37, 3 * 4}, 16)});
}

TEST(Attention, BackwardIsBitwiseTheSameOnOneThreadAndOnMany) {
  const int64_t B = 2, T = 32, C = 48, NH = 4;  // large enough for the parallel path
  Tensor qkv = Tensor::randn({B, T, 3 * C}, 1.0f, 7), dout = Tensor::randn({B, T, C}, 1.0f, 8);
  Tensor out = Tensor::empty({B, T, C}), att = Tensor::empty({B, NH, T, T}), dpre = Tensor::empty({B, NH, T, T});
  attention_forward(out.f32(), att.f32(), qkv.f32(), B, T, C, NH);
  auto run = [&](int threads) {
    omp_set_num_threads(threads);
    std::vector<float> g(B * T * 3 * C, 0.0f);
    attention_backward(g.data(), dpre.f32(), dout.f32(), qkv.f32(), att.f32(), B, T, C, NH);
    return g;
  };
  const int threads = omp_get_max_threads();
  std::vector<float> one = run(1), many = run(std::max(threads, 2));
  omp_set_num_threads(threads);
  EXPECT_EQ(one, many);
}

TEST(Attention, SavedProbabilitiesAreCausalRowsSummingToOne) {
  const int64_t B = 1, T = 6, C = 8, NH = 2;
  Tensor qkv = Tensor::randn({B, T, 3 * C}, 1.0f, 9);
  Tensor out = Tensor::empty({B, T, C}), att = Tensor::empty({B, NH, T, T});
  attention_forward(out.f32(), att.f32(), qkv.f32(), B, T, C, NH);
  for (int64_t h = 0; h < NH; h++) {
    for (int64_t t = 0; t < T; t++) {
      double sum = 0;
      for (int64_t t2 = 0; t2 < T; t2++) {
        float a = att.f32()[(h * T + t) * T + t2];
        if (t2 > t) EXPECT_EQ(a, 0.0f);
        sum += a;
      }
      EXPECT_NEAR(sum, 1.0, 1e-6);
    }
  }
}

TEST(Attention, WrongArgumentsAreErrors) {
  EXPECT_THROW(attention(Tensor::zeros({2, 3, 10}), 1), std::invalid_argument);  // 10 is not 3C
  try {
    attention(Tensor::zeros({2, 3, 12}), 3);  // C = 4, NH = 3
    FAIL() << "expected an exception";
  } catch (const std::invalid_argument& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("NH = 3"), std::string::npos) << msg;
    EXPECT_NE(msg.find("C = 4"), std::string::npos) << msg;
  }
  EXPECT_THROW(attention(Tensor::zeros({6, 12}), 2), std::invalid_argument);  // not (B,T,3C)
}

// ---- KV cache ----

// Feeds qkv (B,T,3C) through the cache in pieces of `chunk` tokens; returns the (B,T,C) outputs.
static Tensor run_cached(const Tensor& qkv, int64_t NH, int64_t chunk, KVCache& cache) {
  const int64_t B = qkv.size(0), T = qkv.size(1), C3 = qkv.size(2), C = C3 / 3;
  Tensor out = Tensor::empty({B, T, C});
  for (int64_t t0 = 0; t0 < T; t0 += chunk) {
    const int64_t Tn = std::min(chunk, T - t0);
    Tensor piece = Tensor::empty({B, Tn, C3});
    for (int64_t b = 0; b < B; b++)
      std::copy_n(qkv.f32() + (b * T + t0) * C3, Tn * C3, piece.f32() + b * Tn * C3);
    Tensor o = attention_forward_cached(piece, static_cast<int>(NH), cache);
    EXPECT_EQ(o.shape(), (Shape{B, Tn, C}));
    EXPECT_EQ(cache.length, t0 + Tn);
    for (int64_t b = 0; b < B; b++) std::copy_n(o.f32() + b * Tn * C, Tn * C, out.f32() + (b * T + t0) * C);
  }
  return out;
}

TEST(KVCache, TokenByTokenAndChunksOfThreeMatchFullAttention) {
  for (const AttnShape& s : kShapes) {
    Tensor qkv = Tensor::randn({s.B, s.T, 3 * s.C}, 1.0f, 10);
    Tensor full = attention(qkv, static_cast<int>(s.NH));
    for (int64_t chunk : {int64_t{1}, int64_t{3}, s.T}) {
      KVCache cache = KVCache::make(s.B, s.NH, s.T + 2, s.C / s.NH);
      Tensor cached = run_cached(qkv, s.NH, chunk, cache);
      for (int64_t i = 0; i < full.numel(); i++)
        ASSERT_NEAR(cached.f32()[i], full.f32()[i], 1e-5) << "chunk " << chunk << " T=" << s.T << " i=" << i;
    }
  }
}

TEST(KVCache, ResetStartsANewSequence) {
  const int64_t B = 2, T = 6, C = 12, NH = 3;
  KVCache cache = KVCache::make(B, NH, T, C / NH);
  Tensor first = Tensor::randn({B, T, 3 * C}, 1.0f, 11), second = Tensor::randn({B, T, 3 * C}, 1.0f, 12);
  run_cached(first, NH, 2, cache);
  cache.reset();
  EXPECT_EQ(cache.length, 0);
  Tensor cached = run_cached(second, NH, 1, cache);
  Tensor full = attention(second, NH);
  for (int64_t i = 0; i < full.numel(); i++) EXPECT_NEAR(cached.f32()[i], full.f32()[i], 1e-5) << i;
}

TEST(KVCache, OverflowIsAnErrorThatSaysSo) {
  const int64_t B = 1, C = 8, NH = 2;
  KVCache cache = KVCache::make(B, NH, 4, C / NH);
  attention_forward_cached(Tensor::randn({B, 3, 3 * C}, 1.0f, 13), NH, cache);
  try {
    attention_forward_cached(Tensor::randn({B, 2, 3 * C}, 1.0f, 14), NH, cache);
    FAIL() << "expected an exception";
  } catch (const std::out_of_range& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("max_T = 4"), std::string::npos) << msg;
    EXPECT_NE(msg.find("full"), std::string::npos) << msg;
  }
  EXPECT_EQ(cache.length, 3);  // the failed call changed nothing
  attention_forward_cached(Tensor::randn({B, 1, 3 * C}, 1.0f, 15), NH, cache);  // exactly fills it
  EXPECT_EQ(cache.length, 4);
}

TEST(KVCache, ShapeMismatchIsAnError) {
  KVCache cache = KVCache::make(1, 2, 8, 4);
  EXPECT_THROW(attention_forward_cached(Tensor::zeros({2, 1, 24}), 2, cache), std::invalid_argument);  // B = 2
  EXPECT_THROW(attention_forward_cached(Tensor::zeros({1, 1, 24}), 4, cache), std::invalid_argument);  // HS = 2
  KVCache empty;
  EXPECT_THROW(attention_forward_cached(Tensor::zeros({1, 1, 24}), 2, empty), std::invalid_argument);
}
