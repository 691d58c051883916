#include "common/io/metrics.h"

#include <omp.h>
#include <sys/resource.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <sstream>
#include <filesystem>
#include <stdexcept>

#include "common/cpu/isa.h"
#include "common/io/atomic_file.h"

namespace sog {

MetricsLog::MetricsLog(const std::string& path, bool append) : path_(path) {
  auto parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent);
  out_.open(path, append ? std::ios::app : std::ios::trunc);
  if (!out_) throw std::runtime_error(path + ": cannot open for writing (" + std::strerror(errno) + ")");
}

void MetricsLog::write(const nlohmann::json& record) {
  out_ << record.dump() << '\n';
  out_.flush();
}

std::vector<nlohmann::json> read_jsonl(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error(path + ": cannot open (" + std::strerror(errno) + ")");
  std::vector<nlohmann::json> records;
  std::string line;
  for (int64_t number = 1; std::getline(in, line); number++) {
    if (line.empty()) continue;
    try {
      records.push_back(nlohmann::json::parse(line));
    } catch (const nlohmann::json::parse_error& e) {
      throw std::runtime_error(path + ":" + std::to_string(number) + ": not valid JSON: " + e.what());
    }
  }
  return records;
}

void write_json_atomic(const std::string& path, const nlohmann::json& value) {
  write_file_atomic(path, value.dump(2) + "\n");
}

void require_finite(double value, const char* what, int64_t step) {
  if (std::isfinite(value)) return;
  std::ostringstream s;
  s << "step " << step << ": the " << what << " is " << (std::isnan(value) ? "NaN" : value > 0 ? "+inf" : "-inf")
    << ": training diverged (lower --lr, or clip with --grad-clip); nothing from this step on was saved";
  throw std::runtime_error(s.str());
}

nlohmann::json cpu_json() {
  return {{"cpu_isa", isa_name(active_isa())}, {"cpu", cpu_model_name()}, {"threads", omp_get_max_threads()}};
}

nlohmann::json cpu_isas_json() {
  nlohmann::json runnable = nlohmann::json::array();
  for (Isa isa : runnable_isas()) runnable.push_back(isa_name(isa));
  return {{"active", isa_name(active_isa())}, {"runnable", runnable}, {"cpu", cpu_model_name()}};
}

double peak_rss_mb() {
  struct rusage usage;
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;  // Linux: kilobytes
}

}  // namespace sog
