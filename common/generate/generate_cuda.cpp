#include "common/generate/generate_cuda.h"

#include <algorithm>
#include <stdexcept>

namespace sog {

std::vector<int32_t> generate(GPTCuda& model, const std::vector<int32_t>& prompt, const GenerateOptions& options,
                              Sampler& sampler, const std::function<void(int32_t)>& on_token) {
  const GPTConfig& cfg = model.config();
  if (prompt.empty()) throw std::invalid_argument("generate: the prompt is empty (start from <|endoftext|>)");
  std::vector<int32_t> context = prompt;
  std::vector<int32_t> out;
  // The context window: when it fills up, re-prefill the last maxT/2 tokens (a sliding window).
  const int64_t window = cfg.max_T;
  CudaKVCache cache = model.make_caches(1, window);
  auto prefill = [&](int64_t keep) {
    cache.reset();
    std::vector<int32_t> tail(context.end() - keep, context.end());
    return model.forward_cached(Tensor::from_ids({1, keep}, tail), cache);
  };
  Tensor logits = prefill(std::min<int64_t>(static_cast<int64_t>(context.size()), window));  // (1,Vp)
  for (int64_t i = 0; i < options.max_new_tokens; i++) {
    int32_t next = sampler.sample(logits.f32(), cfg.V);
    out.push_back(next);
    context.push_back(next);
    if (on_token) on_token(next);
    if (std::find(options.stop_ids.begin(), options.stop_ids.end(), next) != options.stop_ids.end()) break;
    if (options.should_stop && options.should_stop(out)) break;
    if (i + 1 == options.max_new_tokens) break;
    if (cache.length >= window) {
      logits = prefill(window / 2);
    } else {
      logits = model.forward_cached(Tensor::from_ids({1, 1}, {next}), cache);
    }
  }
  return out;
}

}  // namespace sog
