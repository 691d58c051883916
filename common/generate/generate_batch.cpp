#include "common/generate/generate_batch.h"

#include <omp.h>

#include <algorithm>
#include <exception>
#include <stdexcept>
#include <string>

#include "common/autograd/tape.h"
#include "common/ops/cross_entropy.h"
#include "common/ops/matmul_kernels.h"

namespace sog {

std::vector<Sampler> make_samplers(const SamplingConfig& config, const std::vector<uint64_t>& seeds) {
  std::vector<Sampler> samplers;
  samplers.reserve(seeds.size());
  for (uint64_t seed : seeds) samplers.emplace_back(config, seed);
  return samplers;
}

namespace {

// One row of the KV cache and the sequence it decodes: the loop state of decode_with_cache.
struct Slot {
  int64_t prompt = -1;           // the index of the prompt it decodes; −1: free
  std::vector<int32_t> context;  // the prompt, then the new tokens
  int64_t cached = 0;            // positions its row of the cache holds
  Tensor logits;                 // the next token's logits: row logits_row of this (·,Vp) tensor
  int64_t logits_row = 0;
};

// One token for each decoding row: its last token goes in at its own position and its logits come
// back (slot.logits). The rows go in groups of at most kMatmulDotRowsMaxM, whose matmuls keep every
// row's bits (matmul_kernels.h). With several threads and enough rows the groups run side by side,
// a thread each (the ops inside a group then run on that one thread: a nested parallel region), so
// a step forks and joins once instead of once per op, each op's work being small: at B = 16 the
// small preset's ops split across 2 threads spent most of a step waiting for each other whenever
// another process held a core.
constexpr int64_t kRowsPerThreadMin = 4;  // fewer rows per group: the ops' own threads instead

void decode_step(GPT& model, std::vector<KVCache>& caches, std::vector<Slot>& slots, const std::vector<int64_t>& decoding) {
  const int64_t live = static_cast<int64_t>(decoding.size());
  if (live == 0) return;
  int64_t groups = (live + kMatmulDotRowsMaxM - 1) / kMatmulDotRowsMaxM;
  groups = std::max(groups, std::min<int64_t>(omp_get_max_threads(), live / kRowsPerThreadMin));
  std::vector<Tensor> logits(groups);
  auto run_group = [&](int64_t g) {
    std::vector<int32_t> ids;
    std::vector<int64_t> rows, lengths;
    for (int64_t j = live * g / groups; j < live * (g + 1) / groups; j++) {
      const Slot& slot = slots[decoding[j]];
      ids.push_back(slot.context.back());
      rows.push_back(decoding[j]);
      lengths.push_back(slot.cached);
    }
    logits[g] = model.forward_cached_rows(ids, rows, lengths, caches);  // (rows,Vp)
  };
  if (groups == 1) {
    run_group(0);  // (not inside an inactive parallel region, whose nested ones would be new teams)
  } else {
    std::vector<std::exception_ptr> errors(groups);
#pragma omp parallel for schedule(dynamic)
    for (int64_t g = 0; g < groups; g++) {
      try {
        run_group(g);
      } catch (...) {
        errors[g] = std::current_exception();
      }
    }
    for (const std::exception_ptr& e : errors)
      if (e) std::rethrow_exception(e);
  }
  for (int64_t g = 0; g < groups; g++) {
    const int64_t first = live * g / groups;
    for (int64_t j = first; j < live * (g + 1) / groups; j++) {
      Slot& slot = slots[decoding[j]];
      slot.logits = logits[g];
      slot.logits_row = j - first;
      slot.cached++;
    }
  }
}

}  // namespace

std::vector<GeneratedRow> generate_batch(GPT& model, const std::vector<std::vector<int32_t>>& prompts,
                                         const BatchGenerateOptions& options, std::vector<Sampler>& samplers) {
  const GPTConfig& cfg = model.config();
  const int64_t N = static_cast<int64_t>(prompts.size()), window = cfg.max_T, Vp = cfg.Vp;
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

  NoGradGuard no_grad;
  const int64_t B = std::min(options.batch_size, N);
  // A row that slides needs the whole window; otherwise its prefill and max_new_tokens − 1 more.
  const int64_t cache_T = std::min(window, longest + options.max_new_tokens);
  std::vector<KVCache> caches = model.make_caches(B, cache_T);
  std::vector<Slot> slots(B);

  // Prefills row s alone with the last `keep` tokens of its context (a fresh cache row).
  auto prefill = [&](int64_t s, int64_t keep) {
    Slot& slot = slots[s];
    std::vector<KVCache> row;
    for (const KVCache& c : caches) row.push_back(c.row(s));
    slot.cached = keep;
    std::vector<int32_t> ids(slot.context.end() - keep, slot.context.end());
    slot.logits = model.forward_cached(Tensor::from_ids({1, keep}, ids), row);  // (1,Vp)
    slot.logits_row = 0;
  };
  int64_t next_prompt = 0;
  auto start_next = [&](int64_t s) {  // row s takes the next prompt, if one is left
    Slot& slot = slots[s];
    slot.prompt = next_prompt < N ? next_prompt++ : -1;
    if (slot.prompt < 0) return;
    slot.context = prompts[slot.prompt];
    prefill(s, std::min<int64_t>(static_cast<int64_t>(slot.context.size()), window));
  };
  for (int64_t s = 0; s < B; s++) start_next(s);

  std::vector<int64_t> decoding;  // the rows that take a batched step
  while (true) {
    // Each live row draws its next token from its logits, then ends, slides or waits for the step.
    decoding.clear();
    bool live = false;
    for (int64_t s = 0; s < B; s++) {
      Slot& slot = slots[s];
      if (slot.prompt < 0) continue;
      live = true;
      GeneratedRow& row = out[slot.prompt];
      const float* logits = slot.logits.f32() + slot.logits_row * Vp;
      const int32_t next = samplers[slot.prompt].sample(logits, static_cast<int>(cfg.V));
      row.tokens.push_back(next);
      row.logprobs.push_back(logprob_row(logits, cfg.V, next));
      slot.context.push_back(next);
      const auto& stop = options.stop_ids;
      row.stopped = std::find(stop.begin(), stop.end(), next) != stop.end() ||
                    (options.should_stop && options.should_stop(slot.prompt, row.tokens));
      if (row.stopped || static_cast<int64_t>(row.tokens.size()) == options.max_new_tokens) {
        start_next(s);  // sampled from the next round on
      } else if (slot.cached >= window) {
        prefill(s, window / 2);
      } else {
        decoding.push_back(s);
      }
    }
    if (!live) break;
    decode_step(model, caches, slots, decoding);
  }
  return out;
}

}  // namespace sog
