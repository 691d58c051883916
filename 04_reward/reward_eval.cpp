#include "04_reward/reward_eval.h"

#include <cmath>
#include <iostream>
#include <nlohmann/json.hpp>

#include "common/eval/eval_report.h"
#include "common/autograd/tape.h"
#include "common/io/atomic_file.h"
#include "common/io/jsonl_lines.h"
#include "common/io/svg_plot.h"
#include "common/nn/load_model.h"
#include "common/reward/reward_model.h"

namespace sog {

using json = nlohmann::json;

PairwiseResult evaluate_groups(GPT& model, const ScalarHead& head, const Tokenizer& tok,
                               const std::vector<ComparisonGroup>& groups) {
  std::vector<std::pair<Chat, std::string>> items;
  for (const auto& g : groups)
    for (const auto& c : g.completions) items.push_back({g.prompt, c});
  const std::vector<float> scores = score_completions(model, head, tok, items, 64, /*normalized=*/false);
  PairwiseResult r;
  size_t base = 0;
  int64_t groups_with_pairs = 0;
  NoGradGuard no_grad;
  for (const auto& g : groups) {
    for (const auto& [b, w] : g.pairs) {
      const double margin = static_cast<double>(scores[base + b]) - static_cast<double>(scores[base + w]);
      const bool right = margin > 0;
      r.margins.push_back(margin);
      r.pairs++, r.correct += right;
      PairCounts& t = r.per_task[g.task];
      t.pairs++, t.correct += right;
      if (g.correct[b] >= 0 && g.correct[w] >= 0 && g.correct[b] != g.correct[w]) {
        PairCounts& cw = r.correct_vs_wrong[g.task];
        cw.pairs++, cw.correct += right;
      }
    }
    if (!g.pairs.empty()) {  // the training loss of the group, on these scores
      const std::vector<float> group(scores.begin() + static_cast<int64_t>(base),
                                     scores.begin() + static_cast<int64_t>(base + g.completions.size()));
      r.loss += pairwise_ranking_loss(Tensor::from_vector({static_cast<int64_t>(group.size())}, group), g.pairs).item();
      groups_with_pairs++;
    }
    base += g.completions.size();
  }
  if (groups_with_pairs) r.loss /= static_cast<double>(groups_with_pairs);
  return r;
}

std::vector<CalibrationBin> calibration_bins(const std::vector<double>& margins, int bins) {
  std::vector<CalibrationBin> out(bins);
  std::vector<double> sum_p(bins, 0), sum_y(bins, 0);
  for (int i = 0; i < bins; i++) out[i] = {double(i) / bins, double(i + 1) / bins, 0, 0, 0};
  auto add = [&](double p, double y) {
    const int i = std::min(bins - 1, static_cast<int>(p * bins));
    sum_p[i] += p, sum_y[i] += y, out[i].count++;
  };
  for (double m : margins) {
    const double p = 1.0 / (1.0 + std::exp(-m));
    add(p, 1.0);
    add(1.0 - p, 0.0);
  }
  for (int i = 0; i < bins; i++) {
    if (out[i].count) out[i].mean_predicted = sum_p[i] / out[i].count, out[i].observed = sum_y[i] / out[i].count;
  }
  return out;
}

int run_score(const ScoreConfig& cfg) {
  Tokenizer tok = Tokenizer::load(cfg.tokenizer_dir);
  LoadedModel rm = load_reward_model(cfg.model_path, tok, cfg.tokenizer_dir);
  std::vector<std::pair<Chat, std::string>> items;
  if (!cfg.data_path.empty()) {
    for_each_jsonl_row(cfg.data_path, "replies to score", [&](const json& row) {
      if (!row.is_object() || !row.contains("prompt") || !row["prompt"].is_string() || !row.contains("completion") ||
          !row["completion"].is_string()) {
        throw std::invalid_argument("expected {\"prompt\": string, \"completion\": string}");
      }
      items.push_back({Chat{{ChatRole::user, row["prompt"].get<std::string>()}}, row["completion"].get<std::string>()});
    });
  } else {
    if (cfg.prompt.empty()) throw std::invalid_argument("score: give --prompt P --completion C, or --data F.jsonl");
    items.push_back({Chat{{ChatRole::user, cfg.prompt}}, cfg.completion});
  }
  const std::vector<float> r = score_completions(*rm.model, *rm.head, tok, items, 64, /*normalized=*/true);
  for (size_t i = 0; i < items.size(); i++)
    std::printf("%.4f\t%s\t%s\n", r[i], items[i].first.back().content.c_str(), items[i].second.c_str());
  return 0;
}

int run_eval(const EvalConfig& cfg) {
  Tokenizer tok = Tokenizer::load(cfg.tokenizer_dir);
  LoadedModel rm = load_reward_model(cfg.model_path, tok, cfg.tokenizer_dir);
  const PairwiseResult r = evaluate_groups(*rm.model, *rm.head, tok, read_preferences(cfg.data_path));
  if (r.pairs == 0) throw std::runtime_error(cfg.data_path + ": no pair to evaluate");
  auto interval = [](const PairCounts& c) {
    const Interval w = wilson_interval(static_cast<int>(c.correct), static_cast<int>(c.pairs));
    return json::array({w.low, w.high});
  };
  json out = {{"data", cfg.data_path}, {"model", cfg.model_path}, {"accuracy", r.accuracy()}, {"pairs", r.pairs},
              {"loss", r.loss}, {"accuracy_interval", interval({r.pairs, r.correct})}, {"per_task", json::object()},
              {"correct_vs_wrong", json::object()}};
  std::printf("| task | pairs | accuracy | 95%% interval | correct vs wrong: pairs | accuracy |\n|---|---:|---:|---|---:|---:|\n");
  for (const auto& [task, c] : r.per_task) {
    out["per_task"][task] = {{"accuracy", c.accuracy()}, {"pairs", c.pairs}, {"accuracy_interval", interval(c)}};
    const auto cw = r.correct_vs_wrong.find(task);
    if (cw != r.correct_vs_wrong.end())
      out["correct_vs_wrong"][task] = {{"accuracy", cw->second.accuracy()}, {"pairs", cw->second.pairs}};
    const json iv = interval(c);
    std::printf("| %s | %lld | %.3f | %.2f–%.2f | %s | %s |\n", task.c_str(), static_cast<long long>(c.pairs),
                c.accuracy(), iv[0].get<double>(), iv[1].get<double>(),
                cw == r.correct_vs_wrong.end() ? "" : std::to_string(cw->second.pairs).c_str(),
                cw == r.correct_vs_wrong.end() ? "" : std::to_string(cw->second.accuracy()).substr(0, 5).c_str());
  }
  const json iv = interval({r.pairs, r.correct});
  std::printf("| **all** | %lld | **%.3f** | %.2f–%.2f | | |\n", static_cast<long long>(r.pairs), r.accuracy(),
              iv[0].get<double>(), iv[1].get<double>());
  json bins = json::array();
  std::vector<double> predicted, observed;
  for (const CalibrationBin& b : calibration_bins(r.margins, 10)) {
    bins.push_back({{"lo", b.lo}, {"hi", b.hi}, {"mean_predicted", b.mean_predicted}, {"observed", b.observed}, {"count", b.count}});
    if (b.count) predicted.push_back(b.mean_predicted), observed.push_back(b.observed);
  }
  out["calibration"] = bins;
  if (!cfg.calibration_svg.empty()) {
    SvgPlot plot("reward model calibration (held-out pairs)", "predicted P(preferred)", "observed frequency");
    plot.add_series("reward model", predicted, observed);
    plot.add_series("calibrated", {0.0, 1.0}, {0.0, 1.0});
    plot.save(cfg.calibration_svg);
  }
  if (!cfg.out_path.empty()) write_file_atomic(cfg.out_path, out.dump(2) + "\n");
  return 0;
}

}  // namespace sog
