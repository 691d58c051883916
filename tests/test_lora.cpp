// LoRA and the frozen (bf16) base: target parsing, the fused lora_linear op's gradients, a fresh
// adapter changing nothing, merge = attach, gradients reaching only the adapters (and matching
// finite differences), the bf16 base's logits and memory, the KV cache with adapters, the adapter
// file's round trip and its errors.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "common/autograd/tape.h"
#include "common/nn/gpt_checkpoint.h"
#include "common/nn/gpt.h"
#include "common/nn/lora.h"
#include "common/ops/embedding.h"
#include "common/ops/lora_linear.h"
#include "common/optim/adamw.h"
#include "common/tensor/allocator.h"
#include "gradcheck.h"
#include "test_util.h"

using namespace sog;
using namespace sog::testing;
namespace fs = std::filesystem;

namespace {

GPTConfig nano() { return gpt_preset("nano", 50); }  // L=2 NH=2 C=32 maxT=32, V=50 (Vp=128)

// A base model as after pretraining, not at GPT-2's init (whose logits are all ≈ 0): 40 full
// AdamW steps on one random batch give logits of order 1–10, so rounding and merge differences
// are measured against real values. Deterministic for a seed.
GPT make_model(uint64_t seed, const GPTConfig& c = nano()) {
  GPT model(c);
  model.init_gpt2(seed);
  AdamW opt(model.num_params(), model.optimizer_segments(), {0.9f, 0.95f, 1e-8f, 0.0f});
  Tensor x = random_ids(2, 16, c.V, seed + 100), y = random_ids(2, 16, c.V, seed + 200);
  for (int step = 0; step < 40; step++) {
    model.loss(x, y).backward();
    opt.step(model.params(), model.grads(), 1e-2f);
    model.zero_grad();
  }
  return model;
}

// An adapter as after some training: A from init, B drawn N(0, std) instead of 0.
LoRA trained_lora(const GPTConfig& c, LoRAConfig lc, uint64_t seed, float b_std = 0.3f) {
  LoRA lora(c, lc);
  lora.init(seed);
  Rng rng(seed + 1);
  for (int64_t l = 0; l < c.L; l++)
    for (int t = 0; t < kLoRATargets; t++)
      if (const LoRAAdapter* ad = lora.adapter(l, LoRATarget(t)))
        for (int64_t i = 0; i < ad->B.numel(); i++) ad->B.f32()[i] = b_std * rng.normal();
  return lora;
}

std::vector<float> logits_of(GPT& model, const Tensor& ids) {
  NoGradGuard no_grad;
  return model.forward(ids).to_vector();
}

double max_abs(const std::vector<float>& v) {
  double m = 0;
  for (float x : v) m = std::max(m, double(std::fabs(x)));
  return m;
}

double max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  double m = 0;
  for (size_t i = 0; i < a.size(); i++) m = std::max(m, double(std::fabs(a[i] - b[i])));
  return m;
}

double squared_norm(const Tensor& t) {
  double s = 0;
  for (float x : t.to_vector()) s += double(x) * x;
  return s;
}

// ---- configuration ----------------------------------------------------------------------------

TEST(LoRAConfig, TargetsParseSingleItemsGroupsAndSpaces) {
  LoRAConfig base;
  EXPECT_EQ(LoRAConfig::with_targets(base, "qkv").targets_string(), "qkv");
  EXPECT_EQ(LoRAConfig::with_targets(base, "fcproj, qkv").targets_string(), "qkv,fcproj");
  EXPECT_EQ(LoRAConfig::with_targets(base, "attn").targets_string(), "qkv,attproj");
  EXPECT_EQ(LoRAConfig::with_targets(base, "mlp").targets_string(), "fc,fcproj");
  EXPECT_EQ(LoRAConfig::with_targets(base, "all").targets_string(), "qkv,attproj,fc,fcproj");
  EXPECT_EQ(LoRAConfig::with_targets(base, "attn,fc").targets_string(), "qkv,attproj,fc");
  EXPECT_EQ(base.targets_string(), "qkv,attproj");  // the default
  LoRAConfig r = base;
  r.rank = 4, r.alpha = 8.0f;
  LoRAConfig t = LoRAConfig::with_targets(r, "mlp");  // keeps rank, alpha, dropout
  EXPECT_EQ(t.rank, 4);
  EXPECT_EQ(t.alpha, 8.0f);
}

TEST(LoRAConfig, TargetErrorsNameTheBadItem) {
  std::string e = error_of([] { LoRAConfig::with_targets({}, "qkv,mlpp"); });
  EXPECT_NE(e.find("unknown target \"mlpp\""), std::string::npos) << e;
  EXPECT_NE(e.find("qkv, attproj, fc, fcproj"), std::string::npos) << e;
  e = error_of([] { LoRAConfig::with_targets({}, "qkv,,fc"); });
  EXPECT_NE(e.find("empty item"), std::string::npos) << e;
  e = error_of([] { LoRAConfig::with_targets({}, ""); });
  EXPECT_NE(e.find("empty item"), std::string::npos) << e;
}

TEST(LoRAConfig, ValidateNamesTheField) {
  LoRAConfig c;
  c.rank = 0;
  EXPECT_NE(error_of([&] { c.validate(); }).find("rank: expected ≥ 1, found 0"), std::string::npos);
  c = {};
  c.dropout = 1.0f;
  EXPECT_NE(error_of([&] { c.validate(); }).find("dropout"), std::string::npos);
  c = {};
  c.alpha = -1.0f;
  EXPECT_NE(error_of([&] { c.validate(); }).find("alpha"), std::string::npos);
  c = {};
  c.qkv = c.attproj = false;
  EXPECT_NE(error_of([&] { LoRA(nano(), c); }).find("targets"), std::string::npos);
}

TEST(LoRA, ParameterCountLayoutAndOptimizerSegment) {
  const GPTConfig c = nano();  // C = 32
  LoRAConfig lc;
  lc.rank = 4;
  // qkv: 4·(32 + 96), attproj: 4·(32 + 32), per layer, 2 layers.
  EXPECT_EQ(lora_num_params(c, lc), 2 * (4 * (32 + 96) + 4 * (32 + 32)));
  lc = LoRAConfig::with_targets(lc, "all");
  EXPECT_EQ(lora_num_params(c, lc), 2 * 4 * ((32 + 96) + (32 + 32) + (32 + 128) + (128 + 32)));
  LoRA lora(c, lc);
  EXPECT_EQ(lora.num_params(), lora_num_params(c, lc));
  // The views tile the buffer in order: layer 0 qkv A, qkv B, attproj A, …
  const LoRAAdapter* q0 = lora.adapter(0, LoRATarget::qkv);
  ASSERT_NE(q0, nullptr);
  EXPECT_EQ(q0->A.shape(), Shape({4, 32}));
  EXPECT_EQ(q0->B.shape(), Shape({96, 4}));
  EXPECT_EQ(q0->A.f32(), lora.params().f32());
  EXPECT_EQ(q0->B.f32(), lora.params().f32() + 4 * 32);
  EXPECT_EQ(lora.adapter(1, LoRATarget::fcproj)->B.f32() + 32 * 4, lora.params().f32() + lora.num_params());
  EXPECT_EQ(LoRA(c, LoRAConfig{}).adapter(0, LoRATarget::fc), nullptr);  // not a default target
  auto seg = lora.optimizer_segments();
  ASSERT_EQ(seg.size(), 1u);
  EXPECT_EQ(seg[0].offset, 0);
  EXPECT_EQ(seg[0].count, lora.num_params());
  EXPECT_FALSE(seg[0].decay);
}

TEST(LoRA, InitIsKaimingUniformForAAndZeroForB) {
  LoRAConfig lc = LoRAConfig::with_targets({}, "all");
  LoRA lora(nano(), lc);
  lora.init(3);
  for (int64_t l = 0; l < 2; l++) {
    for (int t = 0; t < kLoRATargets; t++) {
      const LoRAAdapter* ad = lora.adapter(l, LoRATarget(t));
      const double bound = 1.0 / std::sqrt(double(ad->A.size(1)));  // 1/√in
      double sum_sq = 0;
      for (float a : ad->A.to_vector()) {
        ASSERT_LE(std::fabs(a), bound);
        sum_sq += double(a) * a;
      }
      // U(−b, b) has variance b²/3; over ≥ 256 draws the sample variance is within 30% of it.
      EXPECT_NEAR(sum_sq / ad->A.numel(), bound * bound / 3, 0.3 * bound * bound / 3) << lora_target_name(LoRATarget(t));
      EXPECT_EQ(squared_norm(ad->B), 0.0);
    }
  }
}

// ---- the fused op -----------------------------------------------------------------------------

TEST(LoRALinear, GradientOfEveryInputMatchesFiniteDifferences) {
  // x and x_adapter separate (as with dropout), with bias.
  expect_gradients_match([](auto& in) { return lora_linear(in[0], in[1], in[2], in[3], in[4], in[5], 2.0f); },
                         {random_input({2, 3, 6}, 1), random_input({5, 6}, 2), random_input({5}, 3),
                          random_input({2, 3, 6}, 4), random_input({3, 6}, 5), random_input({5, 3}, 6)});
  // x_adapter = x (no dropout), no bias.
  expect_gradients_match([](auto& in) { return lora_linear(in[0], in[1], Tensor(), in[0], in[2], in[3], 0.5f); },
                         {random_input({4, 6}, 7), random_input({5, 6}, 8), random_input({2, 6}, 9),
                          random_input({5, 2}, 10)});
}

TEST(LoRALinear, FrozenBf16WeightGradientsForXAndTheAdapter) {
  Tensor w = Tensor::randn({5, 6}, 1.0f, 2).to(DType::bf16);
  expect_gradients_match([w](auto& in) { return lora_linear(in[0], w, Tensor(), in[0], in[1], in[2], 1.5f); },
                         {random_input({3, 6}, 1), random_input({4, 6}, 3), random_input({5, 4}, 4)});
}

TEST(LoRALinear, EqualsLinearPlusTheLowRankTerm) {
  Tensor x = Tensor::randn({3, 6}, 1.0f, 1), w = Tensor::randn({5, 6}, 1.0f, 2), b = Tensor::randn({5}, 1.0f, 3);
  Tensor A = Tensor::randn({2, 6}, 1.0f, 4), B = Tensor::randn({5, 2}, 1.0f, 5);
  std::vector<float> y = lora_linear(x, w, b, x, A, B, 0.25f).to_vector();
  for (int64_t i = 0; i < 3; i++) {
    for (int64_t o = 0; o < 5; o++) {
      double ref = b.f32()[o];
      for (int64_t c = 0; c < 6; c++) ref += double(x.f32()[i * 6 + c]) * w.f32()[o * 6 + c];
      for (int64_t r = 0; r < 2; r++) {
        double xa = 0;
        for (int64_t c = 0; c < 6; c++) xa += double(x.f32()[i * 6 + c]) * A.f32()[r * 6 + c];
        ref += 0.25 * xa * B.f32()[o * 2 + r];
      }
      EXPECT_NEAR(y[i * 5 + o], ref, 1e-5 * (1 + std::fabs(ref)));
    }
  }
  std::string e = error_of([&] { lora_linear(x, w, b, x, Tensor::zeros({2, 5}), B, 1.0f); });
  EXPECT_NE(e.find("lora_linear"), std::string::npos) << e;
  EXPECT_NE(e.find("expected A (r, 6)"), std::string::npos) << e;
}

// ---- the adapters on the GPT --------------------------------------------------------------------

// With B = 0 the adapter path adds exactly 0.0 to each output (y + 0 = y in floating point), and the
// base path runs the same kernel on the same operands: the logits are bitwise equal.
TEST(LoRAOnGPT, FreshAdapterLeavesLogitsUnchangedBitwise) {
  GPT model = make_model(1);
  Tensor ids = random_ids(2, 8, 50, 2);
  std::vector<float> before = logits_of(model, ids);
  LoRA lora(model.config(), LoRAConfig::with_targets({}, "all"));
  lora.init(5);
  EXPECT_GT(squared_norm(lora.params()), 0.0);  // A is not zero
  model.attach_lora(&lora);
  EXPECT_EQ(logits_of(model, ids), before);
  model.attach_lora(nullptr);
  EXPECT_EQ(logits_of(model, ids), before);
}

// Merged: W + s·B·A computed once in float32; attached: x Wᵀ + s·(x Aᵀ) Bᵀ. The two round
// differently, by a few float32 ulps of the intermediate values: measured 3.2e-6 with the largest
// logit 7.1 (4.5e-7 of it; float32 eps is 1.2e-7). We allow 1e-5 of the largest logit.
TEST(LoRAOnGPT, MergedGivesTheLogitsOfTheAttachedAdapter) {
  GPT model = make_model(1);
  Tensor ids = random_ids(2, 8, 50, 2);
  LoRA lora = trained_lora(model.config(), LoRAConfig::with_targets({}, "all"), 7);
  model.attach_lora(&lora);
  std::vector<float> attached = logits_of(model, ids);
  EXPECT_NE(attached, [&] {
    GPT plain = make_model(1);
    return logits_of(plain, ids);
  }());  // the adapter does change the model
  EXPECT_NE(error_of([&] { lora.merge_into(model); }).find("detach it first"), std::string::npos);
  model.attach_lora(nullptr);
  lora.merge_into(model);
  std::vector<float> merged = logits_of(model, ids);
  EXPECT_LE(max_abs_diff(merged, attached), 1e-5 * max_abs(attached)) << "largest logit " << max_abs(attached);
}

TEST(LoRAOnGPT, AttachChecksTheModelShape) {
  GPT model(nano());
  GPTConfig other = nano();
  other.C = 64, other.NH = 4;
  LoRA lora(other, LoRAConfig{});
  std::string e = error_of([&] { model.attach_lora(&lora); });
  EXPECT_NE(e.find("GPT::attach_lora"), std::string::npos) << e;
  EXPECT_NE(e.find("C: expected 64, found 32"), std::string::npos) << e;
  EXPECT_NE(e.find("NH: expected 4, found 2"), std::string::npos) << e;
}

TEST(LoRAOnGPT, FrozenBaseReleasesItsGradientsAndGetsNone) {
  GPT model = make_model(1);
  const size_t grad_bytes = model.gradient_bytes();
  EXPECT_EQ(grad_bytes, size_t(model.num_params()) * 4);
  model.set_base_trainable(false);
  EXPECT_FALSE(model.base_trainable());
  EXPECT_EQ(model.gradient_bytes(), 0u);
  EXPECT_NE(error_of([&] { model.grads(); }).find("frozen"), std::string::npos);
  model.zero_grad();  // a no-op, not an error

  LoRA lora = trained_lora(model.config(), LoRAConfig::with_targets({}, "all"), 3);
  model.attach_lora(&lora);
  model.loss(random_ids(2, 8, 50, 4), random_ids(2, 8, 50, 5)).backward();
  for (const ParamSpec& spec : gpt_param_specs(model.config())) {
    Tensor p = model.param(spec.name);
    EXPECT_FALSE(p.requires_grad()) << spec.name;
  }
  for (const Tensor* p : {&model.wte, &model.wpe, &model.lnfw, &model.lnfb}) EXPECT_FALSE(p->grad().defined());
  for (const GPTLayer& ly : model.layers)
    for (const Tensor* p : {&ly.ln1w, &ly.ln1b, &ly.qkvw, &ly.qkvb, &ly.attprojw, &ly.attprojb, &ly.ln2w, &ly.ln2b,
                            &ly.fcw, &ly.fcb, &ly.fcprojw, &ly.fcprojb})
      EXPECT_FALSE(p->grad().defined());
  for (int64_t l = 0; l < 2; l++) {
    for (int t = 0; t < kLoRATargets; t++) {
      const LoRAAdapter* ad = lora.adapter(l, LoRATarget(t));
      EXPECT_GT(squared_norm(ad->A.grad()), 0.0) << "layer " << l << " " << lora_target_name(LoRATarget(t)) << " A";
      EXPECT_GT(squared_norm(ad->B.grad()), 0.0) << "layer " << l << " " << lora_target_name(LoRATarget(t)) << " B";
    }
  }
  // Trainable again: a fresh zero gradient buffer, and the base gets gradients once more.
  model.set_base_trainable(true);
  EXPECT_EQ(model.gradient_bytes(), grad_bytes);
  EXPECT_EQ(squared_norm(model.grads()), 0.0);
  model.loss(random_ids(2, 8, 50, 4), random_ids(2, 8, 50, 5)).backward();
  EXPECT_GT(squared_norm(model.grads()), 0.0);
}

TEST(LoRAOnGPT, ModelBuiltOrLoadedFrozenNeverAllocatesGradients) {
  GPT frozen(nano(), /*base_trainable=*/false);
  EXPECT_FALSE(frozen.base_trainable());
  EXPECT_EQ(frozen.gradient_bytes(), 0u);
  EXPECT_FALSE(frozen.wte.requires_grad());
  GPT model = make_model(1);
  fs::path dir = fresh_temp_dir("lora_frozen_load");
  model.save((dir / "m.bin").string());
  GPT back = GPT::load((dir / "m.bin").string(), /*base_trainable=*/false);
  EXPECT_EQ(back.gradient_bytes(), 0u);
  Tensor ids = random_ids(2, 8, 50, 3);
  EXPECT_EQ(logits_of(back, ids), logits_of(model, ids));
  fs::remove_all(dir);
}

// Freezing the base removes work, never changes the adapters' gradients: the products that feed
// them are the same, in the same order.
TEST(LoRAOnGPT, AdapterGradientsAreTheSameWithTheBaseFrozenOrTrainable) {
  Tensor x = random_ids(2, 8, 50, 4), y = random_ids(2, 8, 50, 5);
  std::vector<float> grads[2];
  for (int frozen = 0; frozen < 2; frozen++) {
    GPT model = make_model(1);
    model.set_base_trainable(!frozen);
    LoRA lora = trained_lora(model.config(), LoRAConfig{}, 3);
    model.attach_lora(&lora);
    model.loss(x, y).backward();
    grads[frozen] = lora.grads().to_vector();
  }
  EXPECT_EQ(grads[0], grads[1]);
}

// The adapters' gradient of the whole model's loss against central differences, on a sample of A
// and B of every target, with tests/test_gpt.cpp's tolerance. h = 3e-3 rather than its 1e-2: the
// loss is more curved along an adapter entry (it moves a whole row or column of ΔW, times alpha/
// rank = 4), and at 1e-2 the truncation error reached ~10% on a few qkv entries; at 3e-3 it is
// ~1%, while float32 rounding of the loss (~3e-7) over 2h stays ~5e-5. As there, each matrix's
// largest sampled gradient must be 10× the tolerance's floor, so that a zero backward would fail.
TEST(LoRAOnGPT, AdapterGradientMatchesFiniteDifferences) {
  GPTConfig c = nano();
  c.L = 1;
  GPT model = make_model(3, c);
  model.set_base_trainable(false);
  LoRAConfig lc = LoRAConfig::with_targets({}, "all");
  lc.rank = 4;
  LoRA lora = trained_lora(c, lc, 9, 0.5f);
  model.attach_lora(&lora);
  Tensor x = random_ids(2, 5, c.V, 10), y = random_ids(2, 5, c.V, 11);
  model.loss(x, y).backward();
  const std::vector<float> analytic = lora.grads().to_vector();
  NoGradGuard no_grad;
  std::vector<CheckedTensor> segments;
  for (int t = 0; t < kLoRATargets; t++) {
    const LoRAAdapter* ad = lora.adapter(0, LoRATarget(t));
    for (const Tensor* m : {&ad->A, &ad->B}) {
      segments.push_back({lora_target_name(LoRATarget(t)) + (m == &ad->A ? std::string(" A") : std::string(" B")),
                          m->f32() - lora.params().f32(), m->numel(), -1});
    }
  }
  const GradCheckOptions opt;  // atol 2e-3, rtol 2e-2
  const std::vector<NumericSample> samples =
      sample_numeric_gradients([&] { return double(model.loss(x, y).item()); }, lora.params().f32(), segments, 4, 3e-3f, 12);
  const std::vector<GradCheckReport> right = compare_gradients(samples, analytic, segments, opt);
  const std::vector<GradCheckReport> zero =
      compare_gradients(samples, std::vector<float>(analytic.size(), 0.0f), segments, opt);
  for (size_t s = 0; s < segments.size(); s++) {
    EXPECT_TRUE(right[s].ok()) << right[s].summary();
    EXPECT_GT(right[s].max_abs_numeric, 10 * opt.atol) << segments[s].name << ": gradients too small for the check to see";
    EXPECT_FALSE(zero[s].ok()) << segments[s].name << ": a zero backward would pass";
  }
}

TEST(LoRAOnGPT, TrainingTheAdaptersLowersTheLossAndLeavesTheBaseUntouched) {
  GPTConfig c = nano();
  GPT model = make_model(7);
  const std::vector<float> base_before = model.params().to_vector();
  model.set_base_trainable(false);
  LoRAConfig lc = LoRAConfig::with_targets({}, "all");
  LoRA lora(c, lc);
  lora.init(8);
  model.attach_lora(&lora);
  AdamW opt(lora.num_params(), lora.optimizer_segments(), {0.9f, 0.95f, 1e-8f, 0.0f});
  Tensor x = random_ids(2, 16, 50, 8), y = random_ids(2, 16, 50, 9);
  float first = 0, last = 0;
  for (int step = 0; step < 60; step++) {
    Tensor l = model.loss(x, y);
    (step == 0 ? first : last) = l.item();
    l.backward();
    opt.step(lora.params(), lora.grads(), 1e-2f);
    lora.zero_grad();
  }
  EXPECT_LT(last, 0.25f * first) << "first " << first << ", last " << last;
  EXPECT_EQ(model.params().to_vector(), base_before);
}

TEST(LoRAOnGPT, SecondTrainingStepAllocatesNothing) {
  GPT model(nano());
  model.init_gpt2(2);
  model.freeze_base_bf16();
  LoRAConfig lc;
  lc.dropout = 0.1f;
  LoRA lora(nano(), lc);
  lora.init(3);
  Rng drop_rng(4);
  model.attach_lora(&lora, &drop_rng);
  AdamW opt(lora.num_params(), lora.optimizer_segments(), AdamWConfig{});
  Tensor x = random_ids(4, 16, 50, 30), y = random_ids(4, 16, 50, 31);
  auto step = [&] {
    model.loss(x, y).backward();
    opt.step(lora.params(), lora.grads(), 1e-3f);
    lora.zero_grad();
  };
  step();
  const uint64_t before = cpu_allocator().stats().os_allocations;
  step();
  EXPECT_EQ(cpu_allocator().stats().os_allocations, before);
}

// Dropout on the adapter path runs only while training (grad mode on, an Rng attached).
TEST(LoRAOnGPT, DropoutOnlyWhileTraining) {
  GPT model = make_model(1);
  LoRAConfig lc;
  lc.dropout = 0.5f;
  LoRA lora = trained_lora(model.config(), lc, 3);
  Tensor x = random_ids(2, 8, 50, 4), y = random_ids(2, 8, 50, 5);
  model.attach_lora(&lora);
  const float plain = model.loss(x, y).item();
  clear_tape();
  Rng r1(11), r2(11);
  model.attach_lora(&lora, &r1);
  const float dropped = model.loss(x, y).item();
  clear_tape();
  EXPECT_NE(dropped, plain);
  {
    NoGradGuard no_grad;  // evaluation: no dropout even with the Rng attached
    EXPECT_EQ(model.loss(x, y).item(), plain);
  }
  model.attach_lora(&lora, &r2);  // the same seed gives the same masks
  EXPECT_EQ(model.loss(x, y).item(), dropped);
  clear_tape();
}

TEST(LoRAOnGPT, KVCacheLogitsEqualFullRecomputeWithAdapters) {
  GPT model = make_model(9);
  LoRA lora = trained_lora(model.config(), LoRAConfig::with_targets({}, "all"), 4);
  model.attach_lora(&lora);
  for (int bf16 = 0; bf16 < 2; bf16++) {
    if (bf16) model.freeze_base_bf16();
    NoGradGuard no_grad;
    const int64_t T = 10, Vp = model.config().Vp;
    Tensor ids = random_ids(1, T, 50, 13);
    Tensor full = model.forward(ids);  // (1,T,Vp)
    std::vector<KVCache> caches = model.make_caches(1, 16);
    for (int64_t t = 0; t < T; t++) {
      Tensor logits = model.forward_cached(Tensor::from_ids({1, 1}, {ids.i32()[t]}), caches);
      for (int64_t v = 0; v < Vp; v++)
        ASSERT_NEAR(logits.f32()[v], full.f32()[t * Vp + v], 1e-4 * (1 + std::fabs(full.f32()[t * Vp + v])))
            << "t=" << t << (bf16 ? " bf16 base" : "");
    }
  }
}

// ---- the frozen bf16 base -------------------------------------------------------------------------

TEST(FrozenBf16Base, EmbeddingFromABf16TableWidensExactly) {
  Tensor wte = Tensor::randn({7, 5}, 1.0f, 1).to(DType::bf16), wpe = Tensor::randn({4, 5}, 1.0f, 2).to(DType::bf16);
  Tensor ids = Tensor::from_ids({2, 3}, {1, 6, 0, 3, 3, 2});
  Tensor ref = embed_tokens_and_positions(ids, wte.to(DType::f32), wpe.to(DType::f32));
  EXPECT_EQ(embed_tokens_and_positions(ids, wte, wpe).to_vector(), ref.to_vector());
  EXPECT_EQ(embedding(ids, wte).to_vector(), embedding(ids, wte.to(DType::f32)).to_vector());
  std::string e = error_of([&] { embed_tokens_and_positions(ids, wte, wpe.to(DType::f32)); });
  EXPECT_NE(e.find("expected the dtype of wte (bf16), found f32"), std::string::npos) << e;
}

// bf16 keeps 8 significant bits: each weight moves by at most 2⁻⁹ ≈ 0.2% of itself. Those errors
// have random signs, so a dot product of K terms moves by ~2⁻⁹·√(Σ terms²), less than 0.2% of
// Σ|terms|, and they compound mildly over the layers. Measured on this model: the largest logit
// (10.0) moves by 0.027 (0.27% of it) and the mean loss (9.23) by 2.4e-4 (0.003%). We allow 1% of
// the largest logit, and 0.1% of the loss.
TEST(FrozenBf16Base, LogitsWithinToleranceOfF32AndMatrixMemoryHalves) {
  GPT model = make_model(5);
  Tensor ids = random_ids(2, 16, 50, 6), targets = random_ids(2, 16, 50, 7);
  const std::vector<float> f32_logits = logits_of(model, ids);
  float f32_loss;
  {
    NoGradGuard no_grad;
    f32_loss = model.loss(ids, targets).item();
  }
  const GPTConfig& c = model.config();
  const size_t matrices = size_t(c.Vp + c.max_T) * c.C + size_t(c.L) * (3 + 1 + 4 + 4) * c.C * c.C;
  const size_t all = size_t(model.num_params());
  EXPECT_EQ(model.matrix_bytes(), 4 * matrices);
  EXPECT_EQ(model.parameter_bytes(), 4 * all);

  model.freeze_base_bf16();
  EXPECT_TRUE(model.base_bf16());
  EXPECT_FALSE(model.base_trainable());
  EXPECT_EQ(model.matrix_bytes(), 2 * matrices);                         // half
  EXPECT_EQ(model.parameter_bytes(), 2 * matrices + 4 * (all - matrices));  // norms and biases stay f32
  EXPECT_EQ(model.gradient_bytes(), 0u);
  EXPECT_EQ(model.layers[1].fcw.dtype(), DType::bf16);
  EXPECT_EQ(model.layers[1].fcb.dtype(), DType::f32);
  EXPECT_EQ(model.param("wte").dtype(), DType::bf16);

  const std::vector<float> bf16_logits = logits_of(model, ids);
  const double diff = max_abs_diff(bf16_logits, f32_logits);
  EXPECT_GT(diff, 0.0);  // the weights were rounded
  EXPECT_LE(diff, 0.01 * max_abs(f32_logits)) << "largest logit " << max_abs(f32_logits);
  NoGradGuard no_grad;
  EXPECT_NEAR(model.loss(ids, targets).item(), f32_loss, 0.001 * f32_loss);
}

TEST(FrozenBf16Base, RefusesWhatNeedsTheF32Weights) {
  GPT model = make_model(5);
  model.freeze_base_bf16();
  fs::path dir = fresh_temp_dir("lora_bf16");
  std::string e = error_of([&] { model.save((dir / "m.bin").string()); });
  EXPECT_NE(e.find("GPT::save"), std::string::npos) << e;
  EXPECT_NE(e.find("bf16"), std::string::npos) << e;
  EXPECT_FALSE(fs::exists(dir / "m.bin"));
  EXPECT_NE(error_of([&] { model.params(); }).find("bf16"), std::string::npos);
  EXPECT_NE(error_of([&] { model.set_base_trainable(true); }).find("cannot train"), std::string::npos);
  LoRA lora(model.config(), LoRAConfig{});
  EXPECT_NE(error_of([&] { lora.merge_into(model); }).find("bf16"), std::string::npos);
  fs::remove_all(dir);
}

// The same adapter on the f32 and on the bf16 base: its gradients differ only through the rounding
// of the base — measured 0.8% (relative L2) on this model; we allow 5%.
TEST(FrozenBf16Base, AdapterGradientsCloseToTheF32Base) {
  Tensor x = random_ids(2, 8, 50, 4), y = random_ids(2, 8, 50, 5);
  std::vector<float> grads[2];
  for (int bf16 = 0; bf16 < 2; bf16++) {
    GPT model = make_model(1);
    if (bf16) model.freeze_base_bf16();
    else model.set_base_trainable(false);
    LoRA lora = trained_lora(model.config(), LoRAConfig::with_targets({}, "all"), 3);
    model.attach_lora(&lora);
    model.loss(x, y).backward();
    grads[bf16] = lora.grads().to_vector();
  }
  double num = 0, den = 0;
  for (size_t i = 0; i < grads[0].size(); i++) {
    num += double(grads[1][i] - grads[0][i]) * (grads[1][i] - grads[0][i]);
    den += double(grads[0][i]) * grads[0][i];
  }
  EXPECT_GT(den, 0.0);
  EXPECT_LT(std::sqrt(num / den), 0.05) << "relative difference of the adapter gradients";
}

// ---- the adapter file ---------------------------------------------------------------------------

TEST(LoRAFile, SaveLoadRoundTripIsIdentical) {
  fs::path dir = fresh_temp_dir("lora_file");
  LoRAConfig lc = LoRAConfig::with_targets({}, "qkv,fc");
  lc.rank = 3, lc.alpha = 6.0f, lc.dropout = 0.05f;
  LoRA lora = trained_lora(nano(), lc, 2);
  const std::string path = (dir / "adapter.bin").string();
  lora.save(path);
  EXPECT_EQ(fs::file_size(path), 128 + 4 * uint64_t(lora.num_params()));
  {
    std::ifstream in(path, std::ios::binary);
    char magic[4];
    in.read(magic, 4);
    EXPECT_EQ(std::string(magic, 4), "LoRA");
  }
  LoRA back = LoRA::load(path, nano());
  EXPECT_EQ(back.config().rank, 3);
  EXPECT_EQ(back.config().alpha, 6.0f);
  EXPECT_EQ(back.config().dropout, 0.05f);
  EXPECT_EQ(back.config().targets_string(), "qkv,fc");
  EXPECT_EQ(back.params().to_vector(), lora.params().to_vector());
  GPT model = make_model(1);
  Tensor ids = random_ids(2, 8, 50, 3);
  model.attach_lora(&lora);
  std::vector<float> a = logits_of(model, ids);
  model.attach_lora(&back);
  EXPECT_EQ(logits_of(model, ids), a);
  fs::remove_all(dir);
}

TEST(LoRAFile, LoadErrorsNameTheFileWhatWasExpectedAndFound) {
  fs::path dir = fresh_temp_dir("lora_errors");
  LoRA lora(nano(), LoRAConfig{});
  const std::string good = (dir / "adapter.bin").string();
  lora.save(good);

  // A model checkpoint is not an adapter.
  const std::string model_path = (dir / "model.bin").string();
  GPT(nano()).save(model_path);
  std::string e = error_of([&] { LoRA::load(model_path, nano()); });
  EXPECT_NE(e.find(model_path), std::string::npos) << e;
  EXPECT_NE(e.find("bad magic number"), std::string::npos) << e;
  EXPECT_NE(e.find("model checkpoint, not a LoRA adapter"), std::string::npos) << e;

  // Another model's shape.
  GPTConfig other = nano();
  other.C = 64, other.L = 3;
  e = error_of([&] { LoRA::load(good, other); });
  EXPECT_NE(e.find(good), std::string::npos) << e;
  EXPECT_NE(e.find("different model"), std::string::npos) << e;
  EXPECT_NE(e.find("L: expected 3, found 2"), std::string::npos) << e;
  EXPECT_NE(e.find("C: expected 64, found 32"), std::string::npos) << e;

  // Truncated body, truncated header.
  const std::string cut = (dir / "cut.bin").string();
  fs::copy_file(good, cut);
  fs::resize_file(cut, fs::file_size(good) - 10);
  e = error_of([&] { LoRA::load(cut, nano()); });
  EXPECT_NE(e.find(cut), std::string::npos) << e;
  EXPECT_NE(e.find("wrong size"), std::string::npos) << e;
  EXPECT_NE(e.find("truncated?"), std::string::npos) << e;
  fs::resize_file(cut, 20);
  e = error_of([&] { LoRA::load(cut, nano()); });
  EXPECT_NE(e.find("truncated LoRA header: expected 128 bytes, found 20"), std::string::npos) << e;

  // A future version.
  const std::string future = (dir / "future.bin").string();
  fs::copy_file(good, future);
  {
    std::fstream f(future, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(4);
    const int32_t v = 99;
    f.write(reinterpret_cast<const char*>(&v), 4);
  }
  e = error_of([&] { LoRA::load(future, nano()); });
  EXPECT_NE(e.find("unsupported LoRA version: expected 1, found 99"), std::string::npos) << e;

  e = error_of([&] { LoRA::load((dir / "missing.bin").string(), nano()); });
  EXPECT_NE(e.find("cannot open"), std::string::npos) << e;
  fs::remove_all(dir);
}

}  // namespace
