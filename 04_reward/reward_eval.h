// What a reward model is worth on labelled comparisons: `reward eval` (pairwise accuracy, per task,
// and its calibration) and `reward score` (the reward of given replies).
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/nn/gpt.h"
#include "common/nn/load_model.h"
#include "common/nn/scalar_head.h"
#include "common/reward/preferences.h"
#include "common/tokenizer/tokenizer.h"

namespace sog {

struct PairCounts {
  int64_t pairs = 0, correct = 0;  // correct: the better reply scored strictly higher
  double accuracy() const { return pairs ? static_cast<double>(correct) / static_cast<double>(pairs) : 0.0; }
};

struct PairwiseResult {
  double loss = 0;  // the training loss on these groups: the mean over groups of −log σ(r_b − r_w)
  int64_t pairs = 0, correct = 0;
  std::map<std::string, PairCounts> per_task;
  // Pairs of a correct and a wrong reply (when the file says which is which: rankings.jsonl):
  // can the model tell a right answer from a wrong one? Per task.
  std::map<std::string, PairCounts> correct_vs_wrong;
  std::vector<double> margins;  // r_better − r_worse, pair after pair
  double accuracy() const { return pairs ? static_cast<double>(correct) / static_cast<double>(pairs) : 0.0; }
};


// Scores every group's replies once (no tape, batched) and compares each pair.
PairwiseResult evaluate_groups(GPT& model, const ScalarHead& head, const Tokenizer& tok,
                               const std::vector<ComparisonGroup>& groups);

// Predicted P(better preferred) = σ(margin) against how often the labelled order holds, in `bins`
// equal bins of [0, 1]. A pair enters with its two orientations (p, 1) and (1 − p, 0), so that
// the curve covers the whole range and a calibrated model lies on the diagonal.
struct CalibrationBin {
  double lo, hi, mean_predicted, observed;
  int64_t count;
};
std::vector<CalibrationBin> calibration_bins(const std::vector<double>& margins, int bins);

struct ScoreConfig {
  std::string model_path, tokenizer_dir, prompt, completion, data_path;
};
struct EvalConfig {
  std::string model_path, tokenizer_dir, data_path, out_path, calibration_svg;
};

// reward score: one line per reply, "reward\tprompt\tcompletion" (normalised reward).
int run_score(const ScoreConfig& cfg);

// reward eval: prints the table; --out writes
//   {"accuracy", "pairs", "per_task": {task: {"accuracy", "pairs"}}, …}
// (those fields are the command's contract; correct_vs_wrong, accuracy_interval and calibration
// are added beside them).
int run_eval(const EvalConfig& cfg);

}  // namespace sog
