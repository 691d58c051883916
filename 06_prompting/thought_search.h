// Tree of thoughts on the assistant (common/eval/tree_of_thoughts.h's search, with the model as
// proposer and judge): each question asked "… Think step by step." in the chat format, every
// candidate line sampled from the model, every partial solution scored by the model's mean
// log-probability per token (or chapter 04's reward model), graded like any worked solution.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/eval/tree_of_thoughts.h"
#include "common/nn/load_model.h"
#include "common/tokenizer/tokenizer.h"
#include "common/world/question_set.h"

namespace sog {

struct ThoughtEvalOptions {
  ThoughtSearchOptions search;
  float temperature = 0.7f;      // the candidate lines' sampling temperature
  int64_t max_line_tokens = 48;  // a line longer than this is cut (and ends the reply)
  std::string judge = "logprob";  // logprob | rm
  uint64_t seed = 1337;
};

// Runs the search on every question. `reward` (a reward model folder, loaded) is needed when the
// judge is rm. Returns the row (techniques.h's contract, technique "tot") with the searches' depths
// and candidate lines.
nlohmann::json evaluate_tree_of_thoughts(GPT& model, const Tokenizer& tok, const std::vector<QuestionRow>& questions,
                                         const ThoughtEvalOptions& options, LoadedModel* reward = nullptr);

}  // namespace sog
