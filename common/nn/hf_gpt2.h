// Hugging Face's GPT-2 (transformers' GPT2LMHeadModel) and ours, both ways: the same network, so
// a folder of theirs becomes our checkpoint and ours becomes a folder their library loads.
//
//   DIR/config.json             {"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"],
//                                "n_embd": C, "n_head": NH, "n_layer": L, "n_positions": maxT,
//                                "vocab_size": V, "layer_norm_epsilon": 1e-05,
//                                "activation_function": "gelu_new", "tie_word_embeddings": true, ...}
//   DIR/generation_config.json  bos/eos = <|endoftext|>
//   DIR/model.safetensors       the weights (common/io/safetensors.h), named by the parameter table
//                               (gpt_params.h: hf_name) under "transformer.":
//     ours (llm.c)               Hugging Face                         layout
//     wte (Vp, C)                transformer.wte.weight (V, C)        the V real rows only
//     wpe (maxT, C)              transformer.wpe.weight
//     qkvw[l] (3C, C)            transformer.h.{l}.attn.c_attn.weight (C, 3C)   Conv1D: (in, out),
//     attprojw[l] (C, C)         transformer.h.{l}.attn.c_proj.weight (C, C)    so the four matrices
//     fcw[l] (4C, C)             transformer.h.{l}.mlp.c_fc.weight (C, 4C)      are transposed
//     fcprojw[l] (C, 4C)         transformer.h.{l}.mlp.c_proj.weight (4C, C)
//     biases, ln_1, ln_2, ln_f   as they are
//   The LM head is tied to wte on both sides, so no lm_head.weight is written.
//
// Reading accepts what transformers and the original GPT-2 upload write: names with or without
// "transformer.", F32, F16 or BF16 (widened exactly to f32), the attention-mask buffers
// (attn.bias, attn.masked_bias: ignored), an lm_head.weight equal to wte. It refuses, naming the
// file and the field or tensor, what this GPT does not compute: another model_type or
// architecture, an activation other than GPT-2's tanh GELU, layer_norm_epsilon ≠ 1e-5, an MLP
// width ≠ 4C, scaled or reordered attention variants, cross-attention, an untied LM head whose
// weights differ from wte, a missing or misshapen tensor, a tensor it cannot place, a dtype it
// does not read, and pickled pytorch_model.bin folders.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "common/nn/gpt.h"

namespace sog {

// Writes DIR/model.safetensors, DIR/config.json and DIR/generation_config.json (atomically).
// eot_id: the <|endoftext|> id for bos/eos (none when absent); end_id: <|end|>, when the
// tokenizer has the chat tokens — generation_config's eos_token_id then lists both, so that
// transformers' generate() stops where an assistant's turn ends. The model must be f32 (not
// freeze_base_bf16'd) and have no LoRA attached (merge it first: LoRA::merge_into).
void save_hf_gpt2(const std::string& dir, const GPT& model, std::optional<int32_t> eot_id,
                  std::optional<int32_t> end_id = std::nullopt);

struct HfGpt2Import {
  GPT model;
  std::vector<std::string> notes;  // what was converted or left out ("F16 widened to f32", ...)
};
// DIR/config.json + DIR/model.safetensors → our GPT, its vocabulary the tokenizer's V tokens
// (V ≤ config.json's vocab_size; Vp = padded_vocab(V)).
HfGpt2Import load_hf_gpt2(const std::string& dir, int V);

}  // namespace sog
