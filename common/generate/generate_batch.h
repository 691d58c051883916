// Batched generation: many prompts of different lengths decoded together through one KV cache,
// each row with its own sampler (its own RNG stream), its own stop rule and the log-probability of
// every token it draws — the rollouts of PPO (old_logprobs), best-of-N and batched evaluation.
//
//   std::vector<Sampler> samplers = make_samplers({0.8f, 40, 1.0f}, seeds);  // one per prompt
//   BatchGenerateOptions options;
//   options.max_new_tokens = 64;
//   options.stop_ids = {tok.eot_id()};
//   std::vector<GeneratedRow> out = generate_batch(model, prompts, options, samplers);
//   out[i].tokens, out[i].logprobs, out[i].stopped
//
// Row i is exactly what generate(model, prompts[i], …, samplers[i]) gives alone — token for token,
// greedy or sampled, sliding window included — so a batch is only faster, never different:
//   - each prompt is prefilled alone into its row of the cache (a one-row forward_cached on
//     KVCache::row: the computation of generate's prefill), and a row whose context reaches maxT
//     re-prefills its last maxT/2 tokens alone, as generate does (decode_with_cache);
//   - then every live row decodes one token per step together (BatchDecoder::step, the machine
//     this loop runs on, common/generate/batch_decoder.h): each row at its own position, attending
//     to its own row of the cache, and the only computation the rows share is the matmul of each
//     Linear layer, whose every row has the same bits whatever the number of rows
//     (matmul_kernels.h: at most kMatmulDotRowsMaxM rows per group).
// A row that stops leaves the step at once (it costs nothing more), and its row of the cache takes
// the next waiting prompt: options.batch_size rows decode at a time however many prompts there are.
//
// logprobs[t] = log softmax(logits)[tokens[t]] over the real vocabulary V, from the raw logits of the
// model (temperature 1) whatever the sampler's temperature, top-k or top-p — the probability that
// PPO's ratio needs. It is computed from the logits the token was drawn from: for a row whose
// window slid, from the slid context.
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

#include "common/generate/sampler.h"
#include "common/nn/gpt.h"

namespace sog {

struct BatchGenerateOptions {
  int64_t max_new_tokens = 128;
  std::vector<int32_t> stop_ids;  // a row ends after emitting one of these (it is returned)
  // Called with a row's index (into the prompts) and its new tokens so far after each one; returning
  // true ends that row (a stop sequence in decoded text, a finished answer, …).
  std::function<bool(int64_t row, const std::vector<int32_t>& generated)> should_stop;
  // Rows of the KV cache decoded at a time: the cache holds batch_size × maxT positions per layer.
  int64_t batch_size = 64;
};

struct GeneratedRow {
  std::vector<int32_t> tokens;  // the new tokens only
  std::vector<float> logprobs;  // log p(tokens[t]) under the model at temperature 1, over V
  bool stopped = false;         // true: a stop id or should_stop ended it; false: max_new_tokens did
};

// prompts[i] non-empty, samplers[i] the sampler of row i (prompts.size() of them). Returns one
// GeneratedRow per prompt, in the prompts' order.
std::vector<GeneratedRow> generate_batch(GPT& model, const std::vector<std::vector<int32_t>>& prompts,
                                         const BatchGenerateOptions& options, std::vector<Sampler>& samplers);

// One sampler per seed, all with the same settings.
std::vector<Sampler> make_samplers(const SamplingConfig& config, const std::vector<uint64_t>& seeds);

}  // namespace sog
