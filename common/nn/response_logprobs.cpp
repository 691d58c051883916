#include "common/nn/response_logprobs.h"

#include <algorithm>
#include <stdexcept>
#include <string>

#include "common/ops/cross_entropy.h"

namespace sog {

ResponseBatch pack_responses(const std::vector<std::vector<int32_t>>& prompts,
                             const std::vector<std::vector<int32_t>>& responses, int64_t max_T, int32_t pad_id) {
  const int64_t B = static_cast<int64_t>(prompts.size());
  if (static_cast<int64_t>(responses.size()) != B) {
    throw std::invalid_argument("pack_responses: expected one response per prompt (" + std::to_string(B) +
                                "), found " + std::to_string(responses.size()));
  }
  if (B == 0) throw std::invalid_argument("pack_responses: no pairs");
  int64_t T = 1;
  for (int64_t b = 0; b < B; b++) {
    if (prompts[b].empty()) {
      throw std::invalid_argument("pack_responses: pair " + std::to_string(b) +
                                  ": the prompt is empty (start from <|endoftext|>)");
    }
    const int64_t positions = static_cast<int64_t>(prompts[b].size() + responses[b].size()) - 1;
    if (positions > max_T) {
      throw std::invalid_argument("pack_responses: pair " + std::to_string(b) + ": a prompt of " +
                                  std::to_string(prompts[b].size()) + " tokens and a response of " +
                                  std::to_string(responses[b].size()) + " need " + std::to_string(positions) +
                                  " positions, more than the model's maxT = " + std::to_string(max_T) +
                                  " (crop the prompt's start)");
    }
    T = std::max(T, positions);
  }
  std::vector<int32_t> ids(B * T, pad_id), targets(B * T, pad_id);
  std::vector<float> mask(B * T, 0.0f);
  for (int64_t b = 0; b < B; b++) {
    std::vector<int32_t> s = prompts[b];
    s.insert(s.end(), responses[b].begin(), responses[b].end());
    const int64_t P = static_cast<int64_t>(prompts[b].size());
    for (int64_t t = 0; t + 1 < static_cast<int64_t>(s.size()); t++) {
      ids[b * T + t] = s[t];
      targets[b * T + t] = s[t + 1];
      mask[b * T + t] = t + 1 >= P ? 1.0f : 0.0f;  // s[t+1] is response token t + 1 − P
    }
  }
  return {Tensor::from_ids({B, T}, ids), Tensor::from_ids({B, T}, targets), Tensor::from_vector({B, T}, mask)};
}

std::vector<float> response_values(const Tensor& x, int64_t b, int64_t prompt_tokens, int64_t response_tokens) {
  const int64_t T = x.size(1);
  if (b < 0 || b >= x.size(0) || prompt_tokens < 1 || response_position(prompt_tokens, response_tokens) > T) {
    throw std::out_of_range("response_values: row " + std::to_string(b) + " with a prompt of " +
                            std::to_string(prompt_tokens) + " tokens and " + std::to_string(response_tokens) +
                            " response tokens does not fit a (" + std::to_string(x.size(0)) + "," + std::to_string(T) +
                            ") tensor");
  }
  const float* row = x.f32() + b * T;
  std::vector<float> out(response_tokens);
  for (int64_t j = 0; j < response_tokens; j++) out[j] = row[response_position(prompt_tokens, j)];
  return out;
}

ResponseLogprobs response_logprobs(GPT& model, const std::vector<std::vector<int32_t>>& prompts,
                                   const std::vector<std::vector<int32_t>>& responses) {
  const GPTConfig& cfg = model.config();
  ResponseBatch batch = pack_responses(prompts, responses, cfg.max_T);
  Tensor logits = model.forward(batch.ids);  // (B,T,Vp)
  return {gather_logprobs(logits, batch.targets, cfg.V), entropy(logits, cfg.V), batch.mask};
}

}  // namespace sog
