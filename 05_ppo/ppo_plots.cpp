#include "05_ppo/ppo_plots.h"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "common/io/metrics.h"
#include "common/io/svg_plot.h"

namespace sog {

using json = nlohmann::json;

// (step, value) of every record that has a finite number under key.
static std::pair<std::vector<double>, std::vector<double>> series_of(const std::vector<json>& records,
                                                                     const std::string& key) {
  std::vector<double> x, y;
  for (const json& r : records) {
    if (!r.contains(key) || !r[key].is_number() || !r.contains("step")) continue;
    const double v = r[key].get<double>();
    if (!std::isfinite(v)) continue;
    x.push_back(r["step"].get<double>());
    y.push_back(v);
  }
  return {x, y};
}

void write_dashboard(const std::string& metrics_path, const std::string& svg_path, const std::string& title) {
  const std::vector<json> records = read_jsonl(metrics_path);
  struct Panel {
    std::string title, y_label;
    std::vector<std::pair<std::string, std::string>> series;  // (legend, key)
  };
  const std::vector<Panel> panels = {
      {title + ": rewards", "score", {{"RM score", "rm_score"}, {"training score", "score"}}},
      {"gold accuracy (grader)", "fraction", {{"gold accuracy", "gold_accuracy"}}},
      {"KL to the SFT model (nats/seq)", "nats", {{"k1", "kl_k1"}, {"k3", "kl_k3"}}},
      {"per-token entropy", "nats", {{"entropy", "entropy"}}},
      {"responses", "tokens / fraction", {{"length", "length"}, {"closed turn", "closed_fraction"}}},
      {"update size", "", {{"approx-KL old→new", "approx_kl"}, {"clip fraction", "clip_fraction"}}},
      {"probability ratio", "ratio", {{"mean", "ratio_mean"}, {"max", "ratio_max"}}},
      {"value loss", "loss", {{"value loss", "value_loss"}, {"value clip fraction", "value_clip_fraction"}}},
      {"explained variance of V", "", {{"explained variance", "explained_variance"}}},
      {"advantages before whitening", "", {{"mean", "advantage_mean"}, {"std", "advantage_std"}}},
      {"KL coefficient β", "β", {{"β", "kl_coef"}}},
      {"speed", "tokens/s", {{"sampling", "sample_tokens_per_s"}, {"rollout phase", "rollout_tokens_per_s"}}},
      {"time per iteration", "s", {{"rollout", "rollout_s"}, {"scoring", "scoring_s"}, {"update", "update_s"}}},
  };
  std::vector<SvgPlot> plots;
  for (const Panel& p : panels) {
    SvgPlot plot(p.title, "iteration", p.y_label);
    for (const auto& [legend, key] : p.series) {
      auto [x, y] = series_of(records, key);
      if (!x.empty()) plot.add_series(legend, std::move(x), std::move(y));
    }
    plots.push_back(std::move(plot));
  }
  save_grid(svg_path, plots, 3);
}

void write_overoptimization_plot(const std::vector<std::pair<std::string, std::string>>& runs,
                                 const std::string& svg_path, int smooth) {
  if (runs.empty()) throw std::invalid_argument("write_overoptimization_plot: no run");
  if (smooth < 1) throw std::invalid_argument("write_overoptimization_plot: smooth must be ≥ 1");
  SvgPlot rm("RM score (the proxy) against √KL", "√KL to the SFT model (√nats)", "RM score");
  SvgPlot gold("gold accuracy (the grader) against √KL", "√KL to the SFT model (√nats)", "gold accuracy");
  for (const auto& [legend, path] : runs) {
    const std::vector<json> records = read_jsonl(path);
    auto [sx, kl] = series_of(records, "kl_k1");
    auto [rx, score] = series_of(records, "rm_score");
    auto [gx, acc] = series_of(records, "gold_accuracy");
    if (kl.empty() || kl.size() != score.size() || kl.size() != acc.size()) {
      throw std::runtime_error(path + ": expected kl_k1, rm_score and gold_accuracy on every line (a bin/ppo train run)");
    }
    std::vector<double> x, y_rm, y_gold;
    const size_t w = std::min(static_cast<size_t>(smooth), kl.size());  // a run shorter than the window: one point
    for (size_t end = w; end <= kl.size(); end += w) {  // window means
      double k = 0, r = 0, g = 0;
      for (size_t i = end - w; i < end; i++) k += kl[i], r += score[i], g += acc[i];
      x.push_back(std::sqrt(std::max(0.0, k / static_cast<double>(w))));
      y_rm.push_back(r / static_cast<double>(w));
      y_gold.push_back(g / static_cast<double>(w));
    }
    rm.add_series(legend, x, y_rm);
    gold.add_series(legend, x, y_gold);
  }
  save_grid(svg_path, {rm, gold}, 2, 520, 360);
}

}  // namespace sog
