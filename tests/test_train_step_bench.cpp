// bench/train_step, the training-step benchmark bench/train_step_table.sh runs: one JSON line with
// the fields the table reads, and the CPU's instruction sets for the script to pick from.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "test_util.h"

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {
const std::string kTrainStep = std::string(SOG_BINARY_DIR) + "/bench/train_step";

class TrainStepBench : public sog::testing::ScratchFolderTest {
 protected:
  void SetUp() override {
    if (!fs::exists(kTrainStep)) GTEST_SKIP() << kTrainStep << " is not built (SOG_BENCH=OFF)";
    ScratchFolderTest::SetUp();
  }
};
}  // namespace

TEST_F(TrainStepBench, PrintsOneJsonLineWithTheTablesFields) {
  auto r = sog::testing::run_command(kTrainStep, "--preset nano --vocab 264 -B 2 -T 16 --steps 2", dir_);
  ASSERT_EQ(r.rc, 0) << r.out << r.err;
  ASSERT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1) << r.out;
  const json j = json::parse(r.out);
  EXPECT_EQ(j["peer"], "stateofgpt");
  EXPECT_EQ(j["model"], "nano");
  EXPECT_EQ(j["B"], 2);
  EXPECT_EQ(j["T"], 16);
  for (const char* key : {"ms_per_step", "median_ms_per_step", "tokens_per_s", "mfu", "sample_tokens_per_s",
                          "peak_rss_mb", "params_grads_adam_mb"})
    EXPECT_GT(j.at(key).get<double>(), 0) << key;
  EXPECT_LE(j["ms_per_step"].get<double>(), j["median_ms_per_step"].get<double>());
  EXPECT_DOUBLE_EQ(j["tokens_per_s"].get<double>(), 32.0 / (j["ms_per_step"].get<double>() / 1e3));

  auto isas = sog::testing::run_command(kTrainStep, "--isas", dir_);
  ASSERT_EQ(isas.rc, 0) << isas.err;
  const json k = json::parse(isas.out);
  EXPECT_EQ(k["active"], j["cpu_isa"]);
  EXPECT_NE(std::find(k["runnable"].begin(), k["runnable"].end(), json("generic")), k["runnable"].end()) << isas.out;

  auto bad = sog::testing::run_command(kTrainStep, "--preset huge", dir_);
  EXPECT_NE(bad.rc, 0);
  EXPECT_NE(bad.err.find("unknown model preset 'huge'"), std::string::npos) << bad.err;
}
