// Best-of-N, the reward model's first use and no RL at all: sample N replies from the SFT model,
// keep the one the reward model scores highest. Its true accuracy (the world's grader) against
// SFT greedy, one sample, and the oracle that picks a correct reply whenever one of the N is —
// the gap between best-of-N and the oracle is what the reward model misses.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace sog {

struct BestOfNConfig {
  std::string reward_path, policy_path, tokenizer_dir, prompts_path, out_path;
  int n = 16;
  int max_per_task = 0;
  float temperature = 1.0f;
  int64_t max_new_tokens = 48;
  uint64_t seed = 4242;
};

// bin/reward best-of-n: prints the table; --out writes
//   {"questions", "greedy_accuracy", "sample_accuracy",
//    "best_of": [{"n", "accuracy", "accuracy_interval", "oracle", "mean_reward"}, …],
//    "per_task": {task: {"questions", "greedy", "sample", "best_of_n", "oracle_n"}}}
int run_best_of_n(const BestOfNConfig& cfg);

}  // namespace sog
