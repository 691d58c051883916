#include "common/generate/generate_batch.h"

#include <algorithm>
#include <stdexcept>
#include <string>

#include "common/generate/batch_decoder.h"
#include "common/ops/cross_entropy.h"

namespace sog {

std::vector<Sampler> make_samplers(const SamplingConfig& config, const std::vector<uint64_t>& seeds) {
  std::vector<Sampler> samplers;
  samplers.reserve(seeds.size());
  for (uint64_t seed : seeds) samplers.emplace_back(config, seed);
  return samplers;
}

std::vector<GeneratedRow> generate_batch(GPT& model, const std::vector<std::vector<int32_t>>& prompts,
                                         const BatchGenerateOptions& options, std::vector<Sampler>& samplers) {
  const GPTConfig& cfg = model.config();
  const int64_t N = static_cast<int64_t>(prompts.size()), window = cfg.max_T;
  if (static_cast<int64_t>(samplers.size()) != N) {
    throw std::invalid_argument("generate_batch: expected one sampler per prompt (" + std::to_string(N) +
                                "), found " + std::to_string(samplers.size()) + " (make_samplers)");
  }
  if (options.batch_size < 1) {
    throw std::invalid_argument("generate_batch: batch_size must be >= 1, found " + std::to_string(options.batch_size));
  }
  int64_t longest = 0;  // positions a row's cache ever holds: its prefill, then a position per new token
  for (int64_t i = 0; i < N; i++) {
    if (prompts[i].empty()) {
      throw std::invalid_argument("generate_batch: prompt " + std::to_string(i) +
                                  " is empty (start from <|endoftext|>)");
    }
    longest = std::max(longest, std::min<int64_t>(static_cast<int64_t>(prompts[i].size()), window));
  }
  std::vector<GeneratedRow> out(N);
  if (N == 0 || options.max_new_tokens <= 0) return out;

  const int64_t B = std::min(options.batch_size, N);
  // A row that slides needs the whole window; otherwise its prefill and max_new_tokens − 1 more.
  BatchDecoder decoder(model, B, std::min(window, longest + options.max_new_tokens));
  std::vector<int64_t> row_prompt(B, -1);  // the prompt each row decodes; −1: free
  int64_t next_prompt = 0;
  auto start_next = [&](int64_t s) {  // row s takes the next prompt, if one is left
    row_prompt[s] = next_prompt < N ? next_prompt++ : -1;
    if (row_prompt[s] >= 0) decoder.start(s, prompts[row_prompt[s]]);
  };
  for (int64_t s = 0; s < B; s++) start_next(s);

  while (true) {
    // Each live row draws its next token from its logits, then ends or goes into the next step.
    bool live = false;
    for (int64_t s = 0; s < B; s++) {
      const int64_t p = row_prompt[s];
      if (p < 0) continue;
      live = true;
      GeneratedRow& row = out[p];
      const float* logits = decoder.logits(s);
      const int32_t next = samplers[p].sample(logits, static_cast<int>(cfg.V));
      row.tokens.push_back(next);
      row.logprobs.push_back(logprob_row(logits, cfg.V, next));
      const auto& stop = options.stop_ids;
      row.stopped = std::find(stop.begin(), stop.end(), next) != stop.end() ||
                    (options.should_stop && options.should_stop(p, row.tokens));
      if (row.stopped || static_cast<int64_t>(row.tokens.size()) == options.max_new_tokens) {
        decoder.release(s);
        start_next(s);  // sampled from the next round on
      } else {
        decoder.push(s, next);
      }
    }
    if (!live) break;
    decoder.step();
  }
  return out;
}

}  // namespace sog
