#include "common/nn/gpt_params.h"

namespace sog {

std::vector<ParamSpec> gpt_param_specs(const GPTConfig& c) {
  const int64_t L = c.L, C = c.C, Vp = c.Vp, maxT = c.max_T;
  return {
      {"wte", {Vp, C}, false, true, "wte.weight", false},
      {"wpe", {maxT, C}, false, true, "wpe.weight", false},
      {"ln1w", {L, C}, true, false, "h.{l}.ln_1.weight", false},
      {"ln1b", {L, C}, true, false, "h.{l}.ln_1.bias", false},
      {"qkvw", {L, 3 * C, C}, true, true, "h.{l}.attn.c_attn.weight", true},
      {"qkvb", {L, 3 * C}, true, false, "h.{l}.attn.c_attn.bias", false},
      {"attprojw", {L, C, C}, true, true, "h.{l}.attn.c_proj.weight", true},
      {"attprojb", {L, C}, true, false, "h.{l}.attn.c_proj.bias", false},
      {"ln2w", {L, C}, true, false, "h.{l}.ln_2.weight", false},
      {"ln2b", {L, C}, true, false, "h.{l}.ln_2.bias", false},
      {"fcw", {L, 4 * C, C}, true, true, "h.{l}.mlp.c_fc.weight", true},
      {"fcb", {L, 4 * C}, true, false, "h.{l}.mlp.c_fc.bias", false},
      {"fcprojw", {L, C, 4 * C}, true, true, "h.{l}.mlp.c_proj.weight", true},
      {"fcprojb", {L, C}, true, false, "h.{l}.mlp.c_proj.bias", false},
      {"lnfw", {C}, false, false, "ln_f.weight", false},
      {"lnfb", {C}, false, false, "ln_f.bias", false},
  };
}

int64_t gpt_num_params(const GPTConfig& cfg) {
  int64_t n = 0;
  for (const auto& p : gpt_param_specs(cfg)) n += p.shape.numel();
  return n;
}

}  // namespace sog
