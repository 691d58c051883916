// The model a program runs, loaded in one call and checked against its tokenizer:
//
//   LoadedModel m = load_model("runs/sft/model.bin", "runs/sft/adapter.bin", tok, tokenizer_dir);
//   GPT& model = *m.model;            // the adapter is attached; m.lora owns it
//
// model_path is a checkpoint (model.bin), a model folder (config.json + model.bin + its parts:
// model_folder.h), or a run folder holding a model.bin (what 02 and 03 write). lora_path, when
// not empty, is an adapter file to attach (it replaces a folder's own adapter). The tokenizer must
// produce exactly the model's vocabulary (V): the error names the model, the tokenizer and both
// sizes.
#pragma once
#include <string>

#include "common/nn/model_folder.h"
#include "common/tokenizer/tokenizer.h"

namespace sog {

// tokenizer_dir only names the tokenizer in the error message.
LoadedModel load_model(const std::string& model_path, const std::string& lora_path, const Tokenizer& tok,
                       const std::string& tokenizer_dir = "");

// Folds m's adapter, if it has one, into its weights (W += (α/r)·B·A: LoRA::merge_into) and drops
// it: a plain model that computes what the adapted one did — what PPO starts its own adapters
// from, and what an export writes.
void merge_lora(LoadedModel& m);

}  // namespace sog
