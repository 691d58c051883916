#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>
#include <filesystem>

#include "common/autograd/tape.h"
#include "common/generate/generate.h"
#include "common/nn/gpt.h"
#include "common/ops/cross_entropy.h"
#include "common/optim/adamw.h"
#include "common/tensor/allocator.h"
#include "gradcheck.h"

using namespace sog;
using namespace sog::testing;
namespace fs = std::filesystem;

namespace {
GPTConfig tiny_config() {
  GPTConfig c;
  c.L = 2, c.NH = 2, c.C = 16, c.max_T = 16, c.V = 50, c.Vp = padded_vocab(50);
  return c;
}
}  // namespace

TEST(GPT, LossAtInitIsLnV) {
  GPTConfig c = gpt_preset("nano", 256);
  GPT model(c);
  model.init_gpt2(1);
  NoGradGuard no_grad;
  float loss = model.loss(random_ids(4, 32, 256, 2), random_ids(4, 32, 256, 3)).item();
  EXPECT_NEAR(loss, std::log(256.0f), 0.02f * std::log(256.0f));  // within 2%
}

TEST(GPT, PaddedLogitsAreNeverPredictedAndStayZero) {
  GPT model(tiny_config());
  model.init_gpt2(1);
  const GPTConfig& c = model.config();
  for (int64_t i = int64_t(c.V) * c.C; i < int64_t(c.Vp) * c.C; i++) ASSERT_EQ(model.wte.f32()[i], 0.0f);
  Tensor loss = model.loss(random_ids(2, 8, c.V, 4), random_ids(2, 8, c.V, 5));
  loss.backward();
  for (int64_t i = int64_t(c.V) * c.C; i < int64_t(c.Vp) * c.C; i++) ASSERT_EQ(model.grads().f32()[i], 0.0f);
}

TEST(GPT, OverfitsOneBatch) {
  GPT model(tiny_config());
  model.init_gpt2(7);
  AdamW opt(model.num_params(), model.optimizer_segments(), {0.9f, 0.95f, 1e-8f, 0.0f});
  Tensor x = random_ids(2, 16, 50, 8), y = random_ids(2, 16, 50, 9);
  float loss = 0;
  for (int step = 0; step < 150; step++) {
    Tensor l = model.loss(x, y);
    loss = l.item();
    l.backward();
    opt.step(model.params(), model.grads(), 1e-2f);
    model.zero_grad();
  }
  EXPECT_LT(loss, 0.05f);
}

// The whole model's gradient against central differences, on a sample of parameters from every
// tensor. The loss is float32 (~1e-7 relative noise); h = 1e-2 on parameters of size ~0.02–1 keeps
// truncation error ~1e-4 and the rounding error of (L+ − L−)/2h ~1e-5. Four samples per tensor can
// only catch a wrong backward where the gradients are large next to the tolerance (2e-3 + 2%): each
// tensor's largest sampled gradient must be at least 10× that floor, and a backward that returned
// zeros, or half the gradient, must fail in every tensor.
TEST(GPT, WholeModelGradientMatchesFiniteDifferences) {
  GPTConfig c = tiny_config();
  c.L = 1;
  GPT model(c);
  model.init_gpt2(3);
  for (int64_t i = 0; i < model.num_params(); i++) model.params().f32()[i] *= 10.0f;  // larger signal
  Tensor x = random_ids(2, 5, c.V, 10), y = random_ids(2, 5, c.V, 11);
  model.loss(x, y).backward();
  const std::vector<float> analytic = model.grads().to_vector();
  NoGradGuard no_grad;
  std::vector<CheckedTensor> segments;
  int64_t offset = 0;
  for (const ParamSpec& spec : gpt_param_specs(c)) {
    const int64_t n = spec.shape.numel();
    segments.push_back({spec.name, offset, n, spec.name == "wte" ? int64_t(c.V) * c.C : -1});  // padded rows: no gradient
    offset += n;
  }
  const GradCheckOptions opt;  // atol 2e-3, rtol 2e-2
  const std::vector<NumericSample> samples =
      sample_numeric_gradients([&] { return double(model.loss(x, y).item()); }, model.params().f32(), segments, 4, 1e-2f, 12);
  const std::vector<GradCheckReport> right = compare_gradients(samples, analytic, segments, opt);
  std::vector<float> zeros(analytic.size(), 0.0f), halves = analytic;
  for (float& g : halves) g *= 0.5f;
  const std::vector<GradCheckReport> zero = compare_gradients(samples, zeros, segments, opt);
  const std::vector<GradCheckReport> half = compare_gradients(samples, halves, segments, opt);
  for (size_t s = 0; s < segments.size(); s++) {
    EXPECT_TRUE(right[s].ok()) << right[s].summary();
    EXPECT_GT(right[s].max_abs_numeric, 10 * opt.atol) << segments[s].name << ": gradients too small for the check to see";
    EXPECT_FALSE(zero[s].ok()) << segments[s].name << ": a zero backward would pass";
    EXPECT_FALSE(half[s].ok()) << segments[s].name << ": half the gradient would pass";
  }
}

TEST(GPT, SaveLoadGivesIdenticalLogits) {
  GPT model(tiny_config());
  model.init_gpt2(5);
  fs::path path = fs::temp_directory_path() / ("sog_gpt_" + std::to_string(::getpid()) + ".bin");
  model.save(path.string());
  GPT back = GPT::load(path.string());
  NoGradGuard no_grad;
  Tensor x = random_ids(2, 8, 50, 6);
  EXPECT_EQ(model.forward(x).to_vector(), back.forward(x).to_vector());
  fs::remove(path);
}

// forward() is lm_head(hidden()): the same numbers bit for bit, with dropout too (the same RNG
// draws in the same order), and the logits' gradient reaches the parameters the same way.
TEST(GPT, ForwardIsLmHeadOfHiddenBitwise) {
  GPTConfig c = tiny_config();
  c.dropout = 0.1f;
  GPT model(c);
  model.init_gpt2(5);
  Tensor x = random_ids(2, 8, c.V, 6);
  Rng a(7), b(7);
  Tensor h = model.hidden(x, &b);
  EXPECT_EQ(h.shape(), (Shape{2, 8, c.C}));
  Tensor via_hidden = model.lm_head(h);
  Tensor direct = model.forward(x, &a);
  EXPECT_EQ(direct.shape(), (Shape{2, 8, c.Vp}));
  EXPECT_EQ(direct.to_vector(), via_hidden.to_vector());
  EXPECT_EQ(a.state(), b.state());
  clear_tape();
  NoGradGuard no_grad;
  EXPECT_EQ(model.forward(x).to_vector(), model.lm_head(model.hidden(x)).to_vector());
}

// hidden() is on the tape: a loss on the hidden states alone (no LM head) trains every parameter
// below it, and the gradient of lm_head(hidden) equals forward's.
TEST(GPT, GradientsFlowThroughHidden) {
  GPT model(tiny_config());
  model.init_gpt2(8);
  Tensor x = random_ids(2, 6, 50, 9);
  Tensor h = model.hidden(x);
  ASSERT_TRUE(h.requires_grad());
  backward(h, Tensor::randn(h.shape(), 1.0f, 10));
  const std::vector<float> g = model.grads().to_vector();
  for (const char* name : {"wpe", "qkvw", "fcprojw", "lnfw", "lnfb"}) {
    Tensor gp = model.param(name);  // the gradient at the same offset of the flat buffer
    const int64_t offset = gp.f32() - model.params().f32();
    double norm = 0;
    for (int64_t i = 0; i < gp.numel(); i++) norm += std::fabs(g[offset + i]);
    EXPECT_GT(norm, 0.0) << name << " got no gradient through hidden()";
  }
  model.zero_grad();
  Tensor y = random_ids(2, 6, 50, 11);
  cross_entropy(model.lm_head(model.hidden(x)), y, Tensor(), -1, 50).backward();
  const std::vector<float> split = model.grads().to_vector();
  model.zero_grad();
  model.loss(x, y).backward();
  EXPECT_EQ(split, model.grads().to_vector());
}

TEST(GPT, KVCacheLogitsEqualFullRecompute) {
  GPT model(tiny_config());
  model.init_gpt2(9);
  NoGradGuard no_grad;
  const int64_t T = 10;
  Tensor ids = random_ids(1, T, 50, 13);
  Tensor full = model.forward(ids);  // (1,T,Vp)
  std::vector<KVCache> caches = model.make_caches(1, 16);
  const int64_t Vp = model.config().Vp;
  // the first 3 tokens in one chunk, then one at a time
  Tensor logits = model.forward_cached(Tensor::from_ids({1, 3}, {ids.i32()[0], ids.i32()[1], ids.i32()[2]}), caches);
  for (int64_t t = 2; t < T; t++) {
    if (t > 2) logits = model.forward_cached(Tensor::from_ids({1, 1}, {ids.i32()[t]}), caches);
    for (int64_t v = 0; v < Vp; v++) ASSERT_NEAR(logits.f32()[v], full.f32()[t * Vp + v], 1e-4) << "t=" << t;
  }
}

TEST(GPT, GreedySamplingIsDeterministic) {
  GPT model(tiny_config());
  model.init_gpt2(21);
  GenerateOptions opt;
  opt.max_new_tokens = 12;
  Sampler a({0.0f, 0, 1.0f}, 1), b({0.0f, 0, 1.0f}, 2);  // seeds differ: greedy ignores them
  EXPECT_EQ(generate(model, {1, 2, 3}, opt, a), generate(model, {1, 2, 3}, opt, b));
}

// The decoding loop alone, with a forward that records what it is fed and makes greedy sampling
// pick token 10 + (calls so far): the window slides by re-prefilling the last window/2 tokens.
TEST(Generate, DecodeLoopPrefillsStepsAndSlidesTheWindow) {
  struct Call {
    std::vector<int32_t> ids;
    bool fresh;
  };
  std::vector<Call> calls;
  const int64_t V = 64, window = 8;
  CachedForward forward = [&](const std::vector<int32_t>& ids, bool fresh) {
    calls.push_back({ids, fresh});
    std::vector<float> logits(V, 0.0f);
    logits[10 + calls.size() - 1] = 1.0f;
    return Tensor::from_vector({1, V}, logits);
  };
  Sampler greedy({0.0f, 0, 1.0f}, 1);
  GenerateOptions opt;
  opt.max_new_tokens = 12;
  const std::vector<int32_t> prompt = {1, 2, 3, 4, 5, 6, 7, 8, 9, 0};  // longer than the window
  std::vector<int32_t> out = decode_with_cache(prompt, V, window, opt, greedy, {}, forward);

  std::vector<int32_t> context = prompt;
  for (int32_t i = 0; i < 12; ++i) {
    ASSERT_EQ(out[i], 10 + i) << i;
    context.push_back(10 + i);
  }
  // The prompt's last 8 fill the caches: the first step already slides (the last 4 afresh), then
  // 4 single steps fill them again, and so on.
  auto tail = [&](int64_t end, int64_t n) {
    return std::vector<int32_t>(context.begin() + end - n, context.begin() + end);
  };
  ASSERT_EQ(calls.size(), 12u);  // the last token is not fed
  const std::vector<std::pair<size_t, std::vector<int32_t>>> fresh = {
      {0, tail(10, 8)}, {1, tail(11, 4)}, {6, tail(16, 4)}, {11, tail(21, 4)}};
  for (const auto& [k, ids] : fresh) {
    EXPECT_TRUE(calls[k].fresh) << k;
    EXPECT_EQ(calls[k].ids, ids) << k;
  }
  for (size_t k : {2, 3, 4, 5, 7, 8, 9, 10}) {
    EXPECT_FALSE(calls[k].fresh) << k;
    EXPECT_EQ(calls[k].ids, std::vector<int32_t>{static_cast<int32_t>(10 + k - 1)}) << k;  // the token just sampled
  }

  // A stop token ends it, and is returned; so does should_stop.
  calls.clear();
  opt.stop_ids = {13};
  EXPECT_EQ(decode_with_cache({1}, V, window, opt, greedy, {}, forward), (std::vector<int32_t>{10, 11, 12, 13}));
  calls.clear();
  opt.stop_ids = {};
  opt.should_stop = [](const std::vector<int32_t>& g) { return g.size() == 2; };
  std::vector<int32_t> seen;
  EXPECT_EQ(decode_with_cache({1}, V, window, opt, greedy, [&](int32_t id) { seen.push_back(id); }, forward),
            (std::vector<int32_t>{10, 11}));
  EXPECT_EQ(seen, (std::vector<int32_t>{10, 11}));
  EXPECT_THROW(decode_with_cache({}, V, window, opt, greedy, {}, forward), std::invalid_argument);
}

// A fixed 10-step trajectory on a fixed seed: any silent change in the numerics moves it. The
// values were produced by this code; a deliberate change of the numerics must update them.
TEST(GPT, FixedTenStepLossTrajectory) {
  GPT model(tiny_config());
  model.init_gpt2(42);
  AdamW opt(model.num_params(), model.optimizer_segments(), {0.9f, 0.95f, 1e-8f, 0.1f});
  std::vector<float> losses;
  Tensor x = random_ids(2, 16, 50, 100), y = random_ids(2, 16, 50, 200);
  for (int step = 0; step < 10; step++) {
    Tensor l = model.loss(x, y);
    losses.push_back(l.item());
    l.backward();
    clip_grad_norm(model.grads(), 1.0f);
    opt.step(model.params(), model.grads(), 3e-3f);
    model.zero_grad();
  }
  const std::vector<float> expected = {3.887408f, 3.791598f, 3.723340f, 3.663341f, 3.611099f,
                                       3.562713f, 3.515705f, 3.468648f, 3.423575f, 3.379542f};
  ASSERT_EQ(losses.size(), expected.size());
  for (size_t i = 0; i < losses.size(); i++) EXPECT_NEAR(losses[i], expected[i], 2e-5f) << "step " << i;
}

// Training does not depend on the number of threads: a few steps of a char-baby model (large
// enough that every op, the gradient norm and AdamW take their parallel paths) give the same
// losses and the same weights, bit for bit, on 1 thread and on 2. (common/world/README.md relies on
// it: the pipeline's figures reproduce exactly.)
TEST(GPT, TrainingIsBitwiseTheSameOnOneAndTwoThreads) {
  const GPTConfig c = gpt_preset("char-baby", 264);
  Tensor x = random_ids(8, 64, c.V, 40), y = random_ids(8, 64, c.V, 41);
  ASSERT_GT(8 * 64 * c.C, 1 << 15);  // activations above the elementwise ops' parallel threshold
  ASSERT_GT(gpt_num_params(c), 1 << 16);  // and the parameters above the norm's and AdamW's
  auto train = [&](int threads, std::vector<float>& losses) {
    omp_set_num_threads(threads);
    GPT model(c);
    model.init_gpt2(43);
    AdamW opt(model.num_params(), model.optimizer_segments(), {0.9f, 0.99f, 1e-8f, 0.1f});
    for (int step = 0; step < 4; step++) {
      Tensor l = model.loss(x, y);
      losses.push_back(l.item());
      l.backward();
      clip_grad_norm(model.grads(), 1.0f);
      opt.step(model.params(), model.grads(), 2e-3f);
      model.zero_grad();
    }
    return model.params().to_vector();
  };
  const int saved = omp_get_max_threads();
  std::vector<float> losses1, losses2;
  const std::vector<float> params1 = train(1, losses1), params2 = train(2, losses2);
  omp_set_num_threads(saved);
  EXPECT_EQ(losses1, losses2);
  int64_t differ = 0;
  for (size_t i = 0; i < params1.size(); i++) differ += params1[i] != params2[i];
  EXPECT_EQ(differ, 0) << "weights that differ between 1 and 2 threads";
}

// A whole training step's memory comes from the caching allocator: the second identical step asks
// the OS for nothing (every activation, gradient and packing buffer is a cache hit).
TEST(GPT, SecondTrainingStepAllocatesNothing) {
  GPT model(tiny_config());
  model.init_gpt2(2);
  AdamW opt(model.num_params(), model.optimizer_segments(), AdamWConfig{});
  Tensor x = random_ids(4, 16, 50, 30), y = random_ids(4, 16, 50, 31);
  auto step = [&] {
    model.loss(x, y).backward();
    opt.step(model.params(), model.grads(), 1e-3f);
    model.zero_grad();
  };
  step();
  const uint64_t before = cpu_allocator().stats().os_allocations;
  step();
  EXPECT_EQ(cpu_allocator().stats().os_allocations, before);
}
