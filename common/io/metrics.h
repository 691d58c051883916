// Run outputs: metrics.jsonl (one JSON object per logged step, appended and flushed as training
// goes, so a crash keeps what was logged) and summary.json (written atomically at the end).
//
//   MetricsLog log(run_dir + "/metrics.jsonl");
//   log.write({{"step", 10}, {"train_loss", 2.31}, {"lr", 1e-3}});
#pragma once
#include <cstdint>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace sog {

class MetricsLog {
 public:
  // append: keep the existing lines (a resumed run); otherwise start the file afresh.
  explicit MetricsLog(const std::string& path, bool append = false);
  void write(const nlohmann::json& record);
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::ofstream out_;
};

// Reads every line of a metrics.jsonl; a line that is not JSON is an error naming file and line.
std::vector<nlohmann::json> read_jsonl(const std::string& path);
void write_json_atomic(const std::string& path, const nlohmann::json& value);

// The rail of every training loop: a loss or gradient norm that is NaN or infinite means the run
// has diverged (too high a learning rate, an overflow), and every later step would only carry the
// NaN on into the weights and the checkpoint. Throws std::runtime_error naming the step:
//
//   require_finite(train_loss, "training loss", step);
//   → "step 3: the training loss is NaN: training diverged (lower --lr, or clip with --grad-clip);
//      nothing from this step on was saved"
void require_finite(double value, const char* what, int64_t step);

// Where a run's CPU work ran, for summary.json and benchmark records: the instruction set of the
// kernels (common/cpu/isa.h), the CPU's model name and the OpenMP threads, e.g.
//   {"cpu_isa": "avx2", "cpu": "AMD EPYC 7B12", "threads": 2}
nlohmann::json cpu_json();
// The instruction sets this CPU runs and the one in use, for `pretrain cpu` and scripts that pick
// one per run (SOG_CPU=…): {"active": "avx2", "runnable": ["generic", "avx2"], "cpu": "…"}
nlohmann::json cpu_isas_json();
// This process's peak resident memory in MB (getrusage), for summaries and benchmark records.
double peak_rss_mb();

}  // namespace sog
