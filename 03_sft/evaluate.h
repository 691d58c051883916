// `sft eval`: greedy accuracy per task on the world's held-out questions, in the three ways the
// chapter's table compares (see evaluate.cpp). Models load through common/nn/load_model.h (a
// checkpoint, optionally with a LoRA adapter attached, not merged).
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace sog {

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
