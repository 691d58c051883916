// generate_batch: every row equals generate() on its prompt alone with its own seed, token for token
// (greedy and sampled, prompts of mixed lengths, a row that stops at once, rows whose window slides,
// fewer cache rows than prompts, more rows than one decoding step takes), its log-probabilities
// equal log_softmax of a plain forward of the context each token was drawn from, and its `stopped`
// says why it ended.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "common/autograd/tape.h"
#include "common/generate/generate.h"
#include "common/generate/generate_batch.h"
#include "common/nn/gpt.h"
#include "common/ops/matmul_kernels.h"
#include "test_util.h"

using namespace sog;
using namespace sog::testing;

namespace {

// C = 24: a row of activations is 96 bytes, so the rows of a batch sit at different alignments (a
// kernel whose sums depended on a row's address would show here). maxT = 16: windows slide.
GPTConfig test_config() {
  GPTConfig c;
  c.L = 2, c.NH = 2, c.C = 24, c.max_T = 16, c.V = 50, c.Vp = padded_vocab(50);
  return c;
}

GPT test_model() {
  GPT model(test_config());
  model.init_gpt2(5);
  return model;
}

// Mixed lengths: one token, a few, longer than the window (cropped to its last maxT tokens).
std::vector<std::vector<int32_t>> test_prompts(int64_t n = 7, uint64_t seed = 3) {
  const int64_t lengths[] = {1, 3, 7, 12, 20, 5, 9};
  Rng rng(seed);
  std::vector<std::vector<int32_t>> prompts(n);
  for (int64_t i = 0; i < n; i++) {
    prompts[i].resize(lengths[i % 7] + i / 7);
    for (auto& id : prompts[i]) id = static_cast<int32_t>(rng.below(50));
  }
  return prompts;
}

std::vector<uint64_t> seeds_for(int64_t n) {
  std::vector<uint64_t> seeds(n);
  for (int64_t i = 0; i < n; i++) seeds[i] = 1000 + 7 * i;
  return seeds;
}

// generate() on prompt i alone with the batch's rule for row i.
std::vector<int32_t> generate_alone(GPT& model, const std::vector<int32_t>& prompt, int64_t i,
                                    const BatchGenerateOptions& batch, const SamplingConfig& sampling, uint64_t seed) {
  GenerateOptions options;
  options.max_new_tokens = batch.max_new_tokens;
  options.stop_ids = batch.stop_ids;
  if (batch.should_stop) options.should_stop = [&](const std::vector<int32_t>& g) { return batch.should_stop(i, g); };
  Sampler sampler(sampling, seed);
  return generate(model, prompt, options, sampler);
}

// log_softmax(logits)[id] over the first V, in double.
double log_prob(const float* logits, int64_t V, int32_t id) {
  double m = logits[0];
  for (int64_t v = 1; v < V; v++) m = std::max(m, double(logits[v]));
  double sum = 0;
  for (int64_t v = 0; v < V; v++) sum += std::exp(double(logits[v]) - m);
  return double(logits[id]) - m - std::log(sum);
}

struct RowCheck {
  bool slid = false;
};

// The row's log-probabilities against a plain forward (no cache) of the context each token was
// drawn from: the prompt's last maxT tokens and the tokens so far, the window sliding as generate's
// does (when the cache holds maxT positions, it keeps the last maxT/2 tokens).
RowCheck expect_logprobs_match_full_forward(GPT& model, const std::vector<int32_t>& prompt, const GeneratedRow& row,
                                            const std::string& what) {
  NoGradGuard no_grad;
  const GPTConfig& cfg = model.config();
  const int64_t W = cfg.max_T;
  std::vector<int32_t> context = prompt;
  int64_t cached = std::min<int64_t>(W, context.size());
  int64_t start = static_cast<int64_t>(context.size()) - cached;
  RowCheck check;
  EXPECT_EQ(row.logprobs.size(), row.tokens.size()) << what;
  for (size_t t = 0; t < row.tokens.size(); t++) {
    std::vector<int32_t> seq(context.begin() + start, context.end());
    const int64_t T = static_cast<int64_t>(seq.size());
    Tensor logits = model.forward(Tensor::from_ids({1, T}, seq));  // (1,T,Vp)
    const double expected = log_prob(logits.f32() + (T - 1) * cfg.Vp, cfg.V, row.tokens[t]);
    EXPECT_NEAR(row.logprobs[t], expected, 1e-4) << what << ", token " << t;
    context.push_back(row.tokens[t]);
    if (cached >= W) {
      start = static_cast<int64_t>(context.size()) - W / 2;
      cached = W / 2;
      check.slid = true;
    } else {
      cached++;
    }
  }
  return check;
}

// Runs generate_batch and checks every row against generate alone, its log-probabilities (counting
// the rows whose window slid into *slid) and its `stopped`; returns the rows.
std::vector<GeneratedRow> expect_rows_equal_generate_alone(GPT& model, const std::vector<std::vector<int32_t>>& prompts,
                                                           const BatchGenerateOptions& options,
                                                           const SamplingConfig& sampling,
                                                           bool check_logprobs = true, int* slid = nullptr) {
  const int64_t N = static_cast<int64_t>(prompts.size());
  std::vector<Sampler> samplers = make_samplers(sampling, seeds_for(N));
  std::vector<GeneratedRow> rows = generate_batch(model, prompts, options, samplers);
  EXPECT_EQ(static_cast<int64_t>(rows.size()), N);
  for (int64_t i = 0; i < N; i++) {
    const std::string what = "row " + std::to_string(i) + " (batch_size " + std::to_string(options.batch_size) + ")";
    const GeneratedRow& row = rows[i];
    EXPECT_EQ(row.tokens, generate_alone(model, prompts[i], i, options, sampling, seeds_for(N)[i])) << what;
    if (check_logprobs && expect_logprobs_match_full_forward(model, prompts[i], row, what).slid && slid) ++*slid;
    if (row.tokens.empty()) {
      ADD_FAILURE() << what << ": no tokens";
      continue;
    }
    const auto& stop = options.stop_ids;
    const bool by_rule = std::find(stop.begin(), stop.end(), row.tokens.back()) != stop.end() ||
                         (options.should_stop && options.should_stop(i, row.tokens));
    EXPECT_EQ(row.stopped, by_rule) << what;
    if (!row.stopped) EXPECT_EQ(static_cast<int64_t>(row.tokens.size()), options.max_new_tokens) << what;
  }
  return rows;
}

}  // namespace

TEST(GenerateBatch, GreedyRowsEqualGenerateAlone) {
  GPT model = test_model();
  const std::vector<std::vector<int32_t>> prompts = test_prompts();
  const SamplingConfig greedy{0.0f, 0, 1.0f};
  BatchGenerateOptions options;
  options.max_new_tokens = 30;  // past maxT = 16: windows slide
  // Row 2 stops at once: its first token alone is a stop id.
  BatchGenerateOptions first;
  first.max_new_tokens = 1;
  options.stop_ids = {generate_alone(model, prompts[2], 2, first, greedy, 0).at(0)};

  int slid = 0, ran_out = 0;
  std::vector<GeneratedRow> rows = expect_rows_equal_generate_alone(model, prompts, options, greedy, true, &slid);
  EXPECT_EQ(rows[2].tokens.size(), 1u);
  EXPECT_TRUE(rows[2].stopped);
  for (const GeneratedRow& row : rows) ran_out += !row.stopped;
  EXPECT_GE(slid, 2) << "the fixture must make some windows slide";
  EXPECT_GE(ran_out, 2) << "the fixture must let some rows run to max_new_tokens";
}

TEST(GenerateBatch, SampledRowsEqualGenerateAlone) {
  GPT model = test_model();
  const std::vector<std::vector<int32_t>> prompts = test_prompts();
  const SamplingConfig sampled{0.8f, 10, 1.0f};
  BatchGenerateOptions options;
  options.max_new_tokens = 30;
  options.stop_ids = {7};
  options.should_stop = [](int64_t row, const std::vector<int32_t>& g) { return row == 5 && g.size() == 4; };
  int slid = 0;
  std::vector<GeneratedRow> rows = expect_rows_equal_generate_alone(model, prompts, options, sampled, true, &slid);
  EXPECT_LE(rows[5].tokens.size(), 4u);
  EXPECT_TRUE(rows[5].stopped);
  EXPECT_GE(slid, 1) << "the fixture must make some windows slide";
  // Different seeds, different streams: not every row draws the same tokens.
  bool differ = false;
  for (size_t i = 1; i < rows.size(); i++) differ |= rows[i].tokens != rows[0].tokens;
  EXPECT_TRUE(differ);
}

// Fewer cache rows than prompts: a row that ends takes the next prompt. The same rows, whatever
// the batch size (one row at a time included), and top-p with top-k.
TEST(GenerateBatch, FewerCacheRowsThanPromptsGiveTheSameRows) {
  GPT model = test_model();
  const std::vector<std::vector<int32_t>> prompts = test_prompts();
  const SamplingConfig sampled{0.9f, 20, 0.9f};
  BatchGenerateOptions options;
  options.max_new_tokens = 24;
  options.stop_ids = {3, 11};
  std::vector<GeneratedRow> all = expect_rows_equal_generate_alone(model, prompts, options, sampled);
  for (int64_t batch_size : {1, 3}) {
    options.batch_size = batch_size;
    std::vector<GeneratedRow> rows = expect_rows_equal_generate_alone(model, prompts, options, sampled, false);
    for (size_t i = 0; i < rows.size(); i++) {
      EXPECT_EQ(rows[i].tokens, all[i].tokens) << "batch_size " << batch_size << ", row " << i;
      EXPECT_EQ(rows[i].logprobs, all[i].logprobs) << "batch_size " << batch_size << ", row " << i;
    }
  }
}

// More live rows than one decoding step takes (kMatmulDotRowsMaxM): the step runs in groups. Equal
// tokens could hide a last-bit difference in the logits; equal log-probabilities, bit for bit, with
// one row at a time would not.
TEST(GenerateBatch, MoreRowsThanOneStepTakes) {
  GPT model = test_model();
  const int64_t N = kMatmulDotRowsMaxM + 6;
  const std::vector<std::vector<int32_t>> prompts = test_prompts(N, 11);
  const SamplingConfig sampling{1.0f, 0, 1.0f};
  BatchGenerateOptions options;
  options.max_new_tokens = 6;
  options.batch_size = N;
  std::vector<GeneratedRow> all = expect_rows_equal_generate_alone(model, prompts, options, sampling, false);
  options.batch_size = 1;
  std::vector<Sampler> samplers = make_samplers(sampling, seeds_for(N));
  std::vector<GeneratedRow> one = generate_batch(model, prompts, options, samplers);
  for (int64_t i = 0; i < N; i++) EXPECT_EQ(all[i].logprobs, one[i].logprobs) << "row " << i;
}

// One decoding step of rows of different lengths: each row's logits have the bits of that
// sequence decoded alone (forward_cached on a one-row cache), and each row's cache the bits of its
// own cache.
TEST(GenerateBatch, DecodingStepRowsEqualEachRowAloneBitwise) {
  GPT model = test_model();
  const GPTConfig& cfg = model.config();
  NoGradGuard no_grad;
  const std::vector<std::vector<int32_t>> prompts = {{4, 8, 15}, {16}, {23, 42, 4, 8, 15, 16, 23}, {9, 9}};
  const int64_t R = static_cast<int64_t>(prompts.size());
  std::vector<KVCache> batch = model.make_caches(R + 1, cfg.max_T);  // row 0 stays unused
  const std::vector<int64_t> rows = {R, 1, 2, 3};                      // sequence r in cache row rows[r]
  std::vector<std::vector<KVCache>> alone;
  for (int64_t r = 0; r < R; r++) {
    alone.push_back(model.make_caches(1, cfg.max_T));
    std::vector<KVCache> row;
    for (const KVCache& c : batch) row.push_back(c.row(rows[r]));
    const Tensor ids = Tensor::from_ids({1, static_cast<int64_t>(prompts[r].size())}, prompts[r]);
    EXPECT_EQ(model.forward_cached(ids, row).to_vector(), model.forward_cached(ids, alone[r]).to_vector()) << r;
  }
  std::vector<int64_t> lengths;
  for (const auto& p : prompts) lengths.push_back(static_cast<int64_t>(p.size()));
  std::vector<int32_t> next = {1, 2, 3, 4};
  for (int step = 0; step < 3; step++) {
    Tensor logits = model.forward_cached_rows(next, rows, lengths, batch);  // (R,Vp)
    ASSERT_EQ(logits.shape(), Shape({R, cfg.Vp}));
    for (int64_t r = 0; r < R; r++) {
      std::vector<float> one = model.forward_cached(Tensor::from_ids({1, 1}, {next[r]}), alone[r]).to_vector();
      EXPECT_EQ(logits.rows(r, 1).reshape({cfg.Vp}).to_vector(), one) << "step " << step << ", row " << r;
      lengths[r]++;
      next[r] = static_cast<int32_t>((next[r] * 7 + step) % cfg.V);
    }
  }
  // Errors: a row twice, a row with no room left, a position past maxT.
  EXPECT_NE(error_of([&] { model.forward_cached_rows({1, 2}, {1, 1}, {3, 3}, batch); }).find("distinct row"),
            std::string::npos);
  EXPECT_NE(error_of([&] { model.forward_cached_rows({1}, {1}, {cfg.max_T}, batch); }).find("outside the model's context"),
            std::string::npos);
  std::vector<KVCache> short_caches = model.make_caches(2, 4);
  EXPECT_NE(error_of([&] { model.forward_cached_rows({1}, {0}, {4}, short_caches); }).find("no room for one more"),
            std::string::npos);
}

TEST(GenerateBatch, NoNewTokensAndBadInputs) {
  GPT model = test_model();
  std::vector<std::vector<int32_t>> prompts = test_prompts(3);
  std::vector<Sampler> samplers = make_samplers({0.0f, 0, 1.0f}, seeds_for(3));
  BatchGenerateOptions options;
  options.max_new_tokens = 0;
  for (const GeneratedRow& row : generate_batch(model, prompts, options, samplers)) {
    EXPECT_TRUE(row.tokens.empty());
    EXPECT_TRUE(row.logprobs.empty());
    EXPECT_FALSE(row.stopped);
  }
  options.max_new_tokens = 4;
  std::vector<Sampler> none;
  EXPECT_TRUE(generate_batch(model, {}, options, none).empty());
  std::vector<Sampler> two = make_samplers({0.0f, 0, 1.0f}, seeds_for(2));
  EXPECT_NE(error_of([&] { generate_batch(model, prompts, options, two); }).find("one sampler per prompt (3), found 2"),
            std::string::npos);
  prompts[1].clear();
  EXPECT_NE(error_of([&] { generate_batch(model, prompts, options, samplers); }).find("prompt 1 is empty"),
            std::string::npos);
  prompts[1] = {1};
  options.batch_size = 0;
  EXPECT_NE(error_of([&] { generate_batch(model, prompts, options, samplers); }).find("batch_size must be >= 1"),
            std::string::npos);
}
