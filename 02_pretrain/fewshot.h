// `pretrain fewshot`: greedy accuracy of a base model on question sets, with K solved examples in
// the prompt (K = 0: zero-shot). See fewshot.cpp.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace sog {

struct FewshotOptions {
  std::string model, tokenizer, eval_file, shots_from;  // shots_from: default eval_file
  int shots = 3;
  int64_t max_new_tokens = 16;
  int max_per_task = 0;  // 0: every question
  uint64_t seed = 1337;
};

struct FewshotExample {
  std::string prompt, answer, completion;
  std::string page;  // the whole Q/A sheet built for the question (the model reads its last max_T tokens)
};
struct TaskAccuracy {
  std::string task;
  int correct = 0, total = 0;
};
struct FewshotReport {
  std::vector<TaskAccuracy> tasks;
  std::vector<FewshotExample> examples, failures;
};

FewshotReport run_fewshot(const FewshotOptions& opt);
nlohmann::json fewshot_json(const FewshotReport& report, const FewshotOptions& opt);

}  // namespace sog
