// The GPT-2 parameter table: one row per parameter tensor, in llm.c's order and shapes. This one
// table drives the single allocation, the checkpoint byte order, weight decay and the names used
// when exporting to Hugging Face's GPT-2 (safetensors).
//
//   name      shape          per layer  what
//   wte       (Vp, C)                   token embedding, tied to the LM head
//   wpe       (maxT, C)                 position embedding
//   ln1w/b    (L, C)         yes        LayerNorm before attention
//   qkvw/b    (L, 3C, C)/(L, 3C) yes    the q, k, v projections, stacked
//   attprojw/b (L, C, C)/(L, C)   yes   attention output projection
//   ln2w/b    (L, C)         yes        LayerNorm before the MLP
//   fcw/b     (L, 4C, C)/(L, 4C) yes    MLP up-projection
//   fcprojw/b (L, C, 4C)/(L, C)  yes    MLP down-projection
//   lnfw/b    (C)                       final LayerNorm
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "common/nn/gpt_config.h"
#include "common/tensor/tensor.h"

namespace sog {

struct ParamSpec {
  std::string name;
  Shape shape;        // the whole tensor; for per-layer parameters the first dimension is L
  bool per_layer;     // stacked over layers: layer l is a slice of the first dimension
  bool decay;         // weight decay applies (matrices: 2-D per layer or per model), not biases/norms
  std::string hf_name;  // Hugging Face GPT-2 name; "{l}" stands for the layer index
  bool hf_transposed;   // HF's Conv1D stores these matrices transposed: (in, out)
};

std::vector<ParamSpec> gpt_param_specs(const GPTConfig& cfg);
int64_t gpt_num_params(const GPTConfig& cfg);

}  // namespace sog
