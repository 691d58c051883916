#include "common/generate/generate_cuda.h"

namespace sog {

std::vector<int32_t> generate(GPTCuda& model, const std::vector<int32_t>& prompt, const GenerateOptions& options,
                              Sampler& sampler, const std::function<void(int32_t)>& on_token) {
  const GPTConfig& cfg = model.config();
  CudaKVCache cache = model.make_caches(1, cfg.max_T);
  return decode_with_cache(prompt, cfg.V, cfg.max_T, options, sampler, on_token,
                           [&](const std::vector<int32_t>& ids, bool fresh) {
                             if (fresh) cache.reset();
                             const int64_t n = static_cast<int64_t>(ids.size());
                             return model.forward_cached(Tensor::from_ids({1, n}, ids), cache);
                           });
}

}  // namespace sog
