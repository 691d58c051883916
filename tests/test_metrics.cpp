#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "common/io/atomic_file.h"
#include "common/io/metrics.h"
#include "common/io/progress.h"

using namespace sog;
namespace fs = std::filesystem;

TEST(Metrics, JsonlAppendsAndReadsBack) {
  fs::path d = fs::temp_directory_path() / ("sog_metrics_" + std::to_string(::getpid()));
  std::string path = (d / "metrics.jsonl").string();
  {
    MetricsLog log(path);
    log.write({{"step", 0}, {"train_loss", 5.5}});
    log.write({{"step", 1}, {"train_loss", 5.1}});
  }
  {
    MetricsLog resumed(path, /*append=*/true);
    resumed.write({{"step", 2}, {"train_loss", 4.9}});
  }
  auto records = read_jsonl(path);
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records[2]["step"], 2);
  EXPECT_DOUBLE_EQ(records[1]["train_loss"].get<double>(), 5.1);
  {
    MetricsLog fresh(path);  // not appending: starts over
    fresh.write({{"step", 0}});
  }
  EXPECT_EQ(read_jsonl(path).size(), 1u);
  std::ofstream(path, std::ios::app) << "{not json\n";
  try {
    read_jsonl(path);
    FAIL() << "expected an exception";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("metrics.jsonl:2"), std::string::npos) << e.what();
  }
  fs::remove_all(d);
}

// summary.json is written whole: it reads back as the same JSON, replaces an older one, and
// leaves no temporary file beside it.
TEST(Metrics, SummaryIsWrittenAtomicallyAndReadsBack) {
  fs::path d = fs::temp_directory_path() / ("sog_summary_" + std::to_string(::getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  const std::string path = (d / "summary.json").string();
  write_json_atomic(path, {{"best_val_loss", 2.5}});
  const nlohmann::json summary = {{"best_val_loss", 1.8}, {"steps", 12}, {"model", "L=2 C=32"}};
  write_json_atomic(path, summary);
  EXPECT_EQ(nlohmann::json::parse(read_file(path)), summary);
  std::vector<std::string> files;
  for (const auto& entry : fs::directory_iterator(d)) files.push_back(entry.path().filename().string());
  EXPECT_EQ(files, std::vector<std::string>{"summary.json"});
  fs::remove_all(d);
}

TEST(Metrics, RequireFiniteNamesTheStepAndTheValue) {
  EXPECT_NO_THROW(require_finite(2.31, "training loss", 7));
  EXPECT_NO_THROW(require_finite(0.0, "gradient norm", 7));
  const struct {
    double value;
    const char* shown;
  } bad[] = {{std::nan(""), "NaN"}, {-std::nan(""), "NaN"}, {INFINITY, "+inf"}, {-INFINITY, "-inf"}};
  for (const auto& [value, shown] : bad) {
    try {
      require_finite(value, "training loss", 12);
      ADD_FAILURE() << "no error for " << shown;
    } catch (const std::runtime_error& e) {
      EXPECT_NE(std::string(e.what()).find(std::string("step 12: the training loss is ") + shown + ": training diverged"),
                std::string::npos)
          << e.what();
    }
  }
}

TEST(Progress, FormatsDurations) {
  EXPECT_EQ(format_duration(42.2), "42s");
  EXPECT_EQ(format_duration(185), "3m05s");
  EXPECT_EQ(format_duration(3720), "1h02m");
}

TEST(Progress, PlainModeLogsLinesWhenNotATerminal) {
  testing::internal::CaptureStdout();
  Progress p(100, "train", 50);
  for (int i = 1; i <= 100; i++) p.update(i, "loss 1.0");
  p.finish();
  std::string out = testing::internal::GetCapturedStdout();
  if (p.interactive()) GTEST_SKIP() << "stdout is a terminal here; plain mode is for pipes and files";
  // Logged at the first update, every 50 steps, and at the end.
  EXPECT_NE(out.find("train 1/100"), std::string::npos) << out;
  EXPECT_NE(out.find("train 51/100"), std::string::npos) << out;
  EXPECT_NE(out.find("train 100/100"), std::string::npos) << out;
}
