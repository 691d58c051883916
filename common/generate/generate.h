// Autoregressive generation with a KV cache: the prompt goes through the model once (prefill),
// then each new token costs one forward of one position — O(T) work per token instead of the
// O(T²) of recomputing the whole sequence.
//
//   Sampler sampler({0.8f, 40, 0.95f}, seed);
//   auto ids = generate(model, prompt_ids, 200, sampler, {tok.eot_id()},
//                       [&](int32_t id) { std::cout << tok.decode({&id, 1}); });
//
// Many prompts at once, each row exactly what generate() gives it alone: generate_batch.h.
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

#include "common/generate/sampler.h"
#include "common/nn/gpt.h"

namespace sog {

struct GenerateOptions {
  int64_t max_new_tokens = 128;
  std::vector<int32_t> stop_ids;  // generation ends after emitting one of these (it is returned)
  // Called with the new tokens so far after each one; returning true ends generation (a stop
  // sequence such as "\n" in decoded text, a finished tool call, …).
  std::function<bool(const std::vector<int32_t>& generated)> should_stop;
};

// Returns the new tokens only. The prompt plus the new tokens must fit in maxT; longer prompts keep
// their last tokens (the model's context window), as nanoGPT's sampler crops.
std::vector<int32_t> generate(GPT& model, const std::vector<int32_t>& prompt, const GenerateOptions& options,
                              Sampler& sampler, const std::function<void(int32_t)>& on_token = {});

// The decoding loop every device shares. forward(ids, fresh) feeds `ids` to the model after the
// positions its caches hold (after none when fresh: the caches start empty) and returns the last
// position's logits, (1, Vp) on the host. The prompt's last `window` tokens are prefilled; when the
// caches hold `window` positions, the last window/2 tokens are prefilled afresh (a sliding window).
using CachedForward = std::function<Tensor(const std::vector<int32_t>& ids, bool fresh)>;
std::vector<int32_t> decode_with_cache(const std::vector<int32_t>& prompt, int64_t V, int64_t window,
                                       const GenerateOptions& options, Sampler& sampler,
                                       const std::function<void(int32_t)>& on_token, const CachedForward& forward);

// The CPU GPT as a CachedForward over its per-layer caches (fresh: the caches are reset first).
CachedForward gpt_cached_forward(GPT& model, std::vector<KVCache>& caches);

}  // namespace sog
