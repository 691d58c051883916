#include "common/generate/generate.h"

#include <algorithm>
#include <stdexcept>

#include "common/autograd/tape.h"

namespace sog {

std::vector<int32_t> decode_with_cache(const std::vector<int32_t>& prompt, int64_t V, int64_t window,
                                       const GenerateOptions& options, Sampler& sampler,
                                       const std::function<void(int32_t)>& on_token, const CachedForward& forward) {
  if (prompt.empty()) throw std::invalid_argument("generate: the prompt is empty (start from <|endoftext|>)");
  std::vector<int32_t> context = prompt;
  std::vector<int32_t> out;
  int64_t cached = 0;  // positions the caches hold
  auto prefill = [&](int64_t keep) {
    cached = keep;
    return forward(std::vector<int32_t>(context.end() - keep, context.end()), true);
  };
  Tensor logits = prefill(std::min<int64_t>(static_cast<int64_t>(context.size()), window));
  for (int64_t i = 0; i < options.max_new_tokens; i++) {
    int32_t next = sampler.sample(logits.f32(), V);
    out.push_back(next);
    context.push_back(next);
    if (on_token) on_token(next);
    if (std::find(options.stop_ids.begin(), options.stop_ids.end(), next) != options.stop_ids.end()) break;
    if (options.should_stop && options.should_stop(out)) break;
    if (i + 1 == options.max_new_tokens) break;
    if (cached >= window) {
      logits = prefill(window / 2);
    } else {
      logits = forward({next}, false);
      cached++;
    }
  }
  return out;
}

CachedForward gpt_cached_forward(GPT& model, std::vector<KVCache>& caches) {
  return [&model, &caches](const std::vector<int32_t>& ids, bool fresh) {
    if (fresh) {
      for (auto& c : caches) c.reset();
    }
    const int64_t n = static_cast<int64_t>(ids.size());
    return model.forward_cached(Tensor::from_ids({1, n}, ids), caches);
  };
}

std::vector<int32_t> generate(GPT& model, const std::vector<int32_t>& prompt, const GenerateOptions& options,
                              Sampler& sampler, const std::function<void(int32_t)>& on_token) {
  const GPTConfig& cfg = model.config();
  NoGradGuard no_grad;
  std::vector<KVCache> caches = model.make_caches(1, cfg.max_T);
  return decode_with_cache(prompt, cfg.V, cfg.max_T, options, sampler, on_token, gpt_cached_forward(model, caches));
}

}  // namespace sog
