// `sft eval`: greedy accuracy per task on the world's held-out questions, in the three ways the
// chapter's table compares (see evaluate.cpp), and the model loading every subcommand shares.
#pragma once
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/nn/gpt.h"
#include "common/nn/lora.h"
#include "common/tokenizer/tokenizer.h"

namespace sog {

// A checkpoint, optionally with a LoRA adapter attached (not merged: the adapter path runs beside
// the frozen weights, exactly as in training). Heap-held so the attached pointer stays valid.
struct SftModel {
  std::unique_ptr<GPT> model;
  std::unique_ptr<LoRA> lora;
};
// Checks that the tokenizer's vocabulary is the model's, naming both files when not.
SftModel load_sft_model(const std::string& model_path, const std::string& lora_path, const Tokenizer& tok,
                        const std::string& tokenizer_dir);

// How the question is put to the model:
//   chat         the chat template: <|user|>QUESTION<|end|><|assistant|> → reply up to <|end|>
//   fewshot-doc  the talk's "assistant document" for a base model (chat_template.h), K examples
//   qa-fewshot   chapter 02's page of "Q: …\nA: …" lines, K examples
enum class EvalMode { chat, fewshot_doc, qa_fewshot };
EvalMode eval_mode_from_name(const std::string& name);  // throws naming the valid modes

struct EvalOptions {
  std::string model, lora, tokenizer, eval_file, shots_from;  // shots_from: default eval_file
  EvalMode mode = EvalMode::chat;
  int shots = 3;                // fewshot-doc, qa-fewshot
  int max_per_task = 0;         // 0: every question
  int64_t max_new_tokens = 24;
  uint64_t seed = 1337;
};

// {"model", "lora", "mode", "shots", "accuracy", "correct", "well_formed", "well_formed_rate", "total",
//  "tasks": [{"task", "correct", "well_formed", "total", "accuracy", "well_formed_rate"}],
//  "examples": [...], "failures": [...]}   (see evaluate.cpp for "well-formed")
nlohmann::json run_eval(const EvalOptions& opt);
void print_eval_table(const nlohmann::json& report);

}  // namespace sog
