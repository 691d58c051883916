#include "common/io/progress.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>

namespace sog {

std::string format_duration(double seconds) {
  if (seconds < 0) seconds = 0;
  int64_t s = static_cast<int64_t>(seconds + 0.5);
  char buf[32];
  if (s >= 3600) {
    std::snprintf(buf, sizeof(buf), "%lldh%02lldm", static_cast<long long>(s / 3600),
                  static_cast<long long>((s % 3600) / 60));
  } else if (s >= 60) {
    std::snprintf(buf, sizeof(buf), "%lldm%02llds", static_cast<long long>(s / 60), static_cast<long long>(s % 60));
  } else {
    std::snprintf(buf, sizeof(buf), "%llds", static_cast<long long>(s));
  }
  return buf;
}

Progress::Progress(int64_t total, std::string label, int64_t log_every)
    : total_(std::max<int64_t>(total, 1)),
      log_every_(log_every > 0 ? log_every : std::max<int64_t>(total / 20, 1)),
      label_(std::move(label)),
      interactive_(::isatty(STDOUT_FILENO) != 0),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_ - std::chrono::seconds(1)) {}

double Progress::elapsed_s() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

void Progress::update(int64_t done, const std::string& status) {
  const double elapsed = elapsed_s();
  const double eta = done > 0 ? elapsed / static_cast<double>(done) * static_cast<double>(total_ - done) : 0.0;
  if (interactive_) {
    auto now = std::chrono::steady_clock::now();
    if (done < total_ && now - last_draw_ < std::chrono::milliseconds(100)) return;
    last_draw_ = now;
    const int width = 30;
    int filled = static_cast<int>(static_cast<double>(width) * static_cast<double>(done) / static_cast<double>(total_));
    std::string bar(static_cast<size_t>(filled), '#');
    bar.resize(width, '.');
    std::printf("\r%s [%s] %lld/%lld  %s  eta %s \x1b[K", label_.c_str(), bar.c_str(), static_cast<long long>(done),
                static_cast<long long>(total_), status.c_str(), format_duration(eta).c_str());
    std::fflush(stdout);
  } else if (done == total_ || done - last_logged_ >= log_every_ || last_logged_ < 0) {
    last_logged_ = done;
    std::printf("%s %lld/%lld | %s | elapsed %s eta %s\n", label_.c_str(), static_cast<long long>(done),
                static_cast<long long>(total_), status.c_str(), format_duration(elapsed).c_str(),
                format_duration(eta).c_str());
    std::fflush(stdout);
  }
}

void Progress::finish() {
  if (finished_) return;
  finished_ = true;
  if (interactive_) std::printf("\n");
  std::fflush(stdout);
}

}  // namespace sog
