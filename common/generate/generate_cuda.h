// Autoregressive generation on the GPU model (common/nn/gpt_cuda.h): the loop of generate.h —
// prefill the prompt once, then one position per new token through the device KV cache — with the
// last position's logits coming back to the host for the sampler.
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

#include "common/generate/generate.h"
#include "common/generate/sampler.h"
#include "common/nn/gpt_cuda.h"

namespace sog {

// Same contract as generate(GPT&, …): returns the new tokens only; a context longer than maxT keeps
// its last tokens (the window slides by re-prefilling the last maxT/2).
std::vector<int32_t> generate(GPTCuda& model, const std::vector<int32_t>& prompt, const GenerateOptions& options,
                              Sampler& sampler, const std::function<void(int32_t)>& on_token = {});

}  // namespace sog
