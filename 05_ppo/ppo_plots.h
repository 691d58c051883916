// The pictures of chapter 05, drawn from metrics.jsonl files (common/io/svg_plot.h):
//
//   dashboard.svg           one panel per diagnostic of a run, against the iteration: rewards and
//                           gold accuracy, KL (k1, k3), entropy, length and closed turns, approx-KL
//                           and clip fraction, ratios, value loss, explained variance, advantages,
//                           β, tokens/s, and the time split
//   overoptimization.svg    several runs (β = 0, a small β, the adaptive controller): the reward
//                           model's score and the gold accuracy against √KL to the SFT model — Gao
//                           et al. 2022's axes, on which the proxy reward keeps climbing while the
//                           true one peaks and falls
#pragma once
#include <string>
#include <utility>
#include <vector>

namespace sog {

// Reads RUN/metrics.jsonl, writes the dashboard to `svg_path`.
void write_dashboard(const std::string& metrics_path, const std::string& svg_path, const std::string& title);

// runs: (legend, metrics.jsonl path). Each run's points are averaged over a window of `smooth`
// iterations (the rollouts of one iteration are few and noisy).
void write_overoptimization_plot(const std::vector<std::pair<std::string, std::string>>& runs,
                                 const std::string& svg_path, int smooth = 5);

}  // namespace sog
