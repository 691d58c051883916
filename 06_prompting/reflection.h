// Reflection on the assistant (common/eval/reflection.h's measures, with the model): every
// question answered `tries` times at a temperature (the evaluator's samples, so attempt t of a
// question has the same seed in every run), every attempt shown back to the model with the
// world's self-check prompt, and its P(yes) read from one forward of the two replies.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <vector>

#include "common/nn/gpt.h"
#include "common/tokenizer/tokenizer.h"
#include "common/world/question_set.h"

namespace sog {

struct ReflectionEvalOptions {
  int tries = 4;              // attempts per question at most
  float temperature = 0.7f;   // every attempt is a sample
  bool cot = false;           // each attempt works step by step (the check sees its final answer)
  int repeats = 1;            // each question asked this many times, independently (small sets)
  int64_t max_new_tokens = 0;  // 0: the technique's default
  uint64_t seed = 1337;
};

// The row (techniques.h's contract, technique "reflect"): "accuracy" after `tries` tries with the
// check, "first_attempt" (the accuracy of one attempt), "tries" (retry_curve), "check"
// (check_quality), "examples". Throws std::invalid_argument for tries < 1, repeats < 1 or a
// temperature ≤ 0.
nlohmann::json evaluate_reflection(GPT& model, const Tokenizer& tok, const std::vector<QuestionRow>& questions,
                                   const ReflectionEvalOptions& options);

}  // namespace sog
