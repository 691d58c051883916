// A model artifact that is more than a checkpoint is a folder, one file per part, so that the GPT
// stays a plain llm.c checkpoint that llm.c loads alone:
//
//   DIR/model.bin     the GPT (gpt_checkpoint.h: llm.c's format, unchanged)
//   DIR/head.bin      a scalar head (scalar_head.h), when the model has one (reward, value)
//   DIR/adapter.bin   a LoRA adapter (lora.h), when the model has one
//   DIR/config.json   what the folder is:
//     {"format": "stateofgpt model folder", "version": 1,
//      "kind": "reward",                                   one of kModelKinds
//      "model": {"max_T": 64, "V": 300, "Vp": 384, "L": 2, "NH": 2, "C": 32},
//      "head": {"type": "scalar", "C": 32},                only with head.bin
//      "adapter": {"rank": 8, "targets": "qkv,attproj"}}   only with adapter.bin
//
// config.json is for people and for the loader: the loader checks that each part it lists is
// there and agrees with it (the model's shape with model.bin's header, the head's width, the
// adapter's rank and targets), and names the missing or disagreeing file. Every file is written
// atomically; the folder is written part by part, config.json last.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "common/nn/gpt.h"
#include "common/nn/lora.h"
#include "common/nn/scalar_head.h"

namespace sog {

// base: pretrained; sft: fine-tuned assistant; reward: a reward model (GPT + scalar head);
// value: PPO's value model (GPT + scalar head); policy: PPO's trained policy.
inline const std::vector<std::string> kModelKinds = {"base", "sft", "reward", "value", "policy"};

// A loaded model and its parts. Heap-held, so the adapter's pointer the GPT holds stays valid
// when the struct moves; the adapter (when there is one) is attached.
struct LoadedModel {
  std::string kind;                  // "" for a bare checkpoint
  std::unique_ptr<GPT> model;
  std::unique_ptr<LoRA> lora;        // or null
  std::unique_ptr<ScalarHead> head;  // or null
};

// Writes DIR (created if needed): model.bin, head.bin and adapter.bin for the parts given, then
// config.json. Throws std::invalid_argument for an unknown kind or a part made for another model.
void save_model_folder(const std::string& dir, const std::string& kind, const GPT& model,
                       const ScalarHead* head = nullptr, const LoRA* lora = nullptr);
// Reads a folder written by save_model_folder. Errors name the missing file (config.json,
// model.bin, head.bin, adapter.bin) or the file that disagrees with config.json.
LoadedModel load_model_folder(const std::string& dir, bool base_trainable = true);
// True when `path` is a folder holding a config.json.
bool is_model_folder(const std::string& path);

}  // namespace sog
