// A progress bar with ETA and the latest figures on a terminal; plain log lines otherwise (when
// stdout is a file or a pipe, as in CI and in the pipeline's logs).
//
//   Progress bar(total_steps, "pretrain");
//   bar.update(step + 1, "loss 2.31 | 812 tok/s");   // redraws at most ~10 times a second
//   bar.finish();
#pragma once
#include <chrono>
#include <cstdint>
#include <string>

namespace sog {

// Seconds on the steady clock: only differences mean anything (a phase's duration).
inline double steady_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

class Progress {
 public:
  Progress(int64_t total, std::string label, int64_t log_every = 0 /* plain mode: 0 = ~20 lines a run */);
  void update(int64_t done, const std::string& status);
  void finish();
  double elapsed_s() const;
  bool interactive() const { return interactive_; }

 private:
  int64_t total_, log_every_;
  std::string label_;
  bool interactive_;
  bool finished_ = false;
  std::chrono::steady_clock::time_point start_, last_draw_;
  int64_t last_logged_ = -1;
};

// "1h02m", "3m05s", "42s"
std::string format_duration(double seconds);

}  // namespace sog
