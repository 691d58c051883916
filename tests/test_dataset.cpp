// The batch loader: rows are T+1 consecutive tokens of one source; an epoch visits every window
// once, all from one random shift; the mixture follows the weights; state() / restore() resumes
// the exact batch sequence, across epochs.
#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "test_util.h"
#include "common/data/dataset.h"
#include "common/data/shard.h"

namespace fs = std::filesystem;
using namespace sog;

namespace {

constexpr int kEot = 99;

// A shard folder with one source per entry of `sources` (train tokens; val is a short copy).
fs::path write_dataset(const std::string& name, const std::vector<std::vector<int32_t>>& sources,
                       const std::vector<double>& weights) {
  fs::path dir = sog::testing::fresh_temp_dir("test_dataset_" + name);
  nlohmann::json meta = {{"n_vocab", 100}, {"eot_id", kEot}, {"sources", nlohmann::json::array()}};
  for (size_t s = 0; s < sources.size(); s++) {
    const std::string src = "src" + std::to_string(s);
    fs::create_directories(dir / src);
    write_shard((dir / src / "train_000000.bin").string(), sources[s]);
    write_shard((dir / src / "val_000000.bin").string(), std::vector<int32_t>(sources[s].begin(), sources[s].begin() + 40));
    meta["sources"].push_back({{"name", src}, {"weight", weights[s]}, {"train_shards", 1}, {"val_shards", 1}});
  }
  std::ofstream(dir / "meta.json") << meta.dump(2);
  return dir;
}

// Documents of the given lengths (each <|endoftext|> + length tokens); token values encode
// (document, position) as 1 + (doc·7 + pos) % 90, so a row's origin can be checked.
std::vector<int32_t> documents(const std::vector<int>& lengths) {
  std::vector<int32_t> t;
  for (size_t d = 0; d < lengths.size(); d++) {
    t.push_back(kEot);
    for (int p = 0; p < lengths[d]; p++) t.push_back(1 + static_cast<int32_t>((d * 7 + p) % 90));
  }
  return t;
}

std::vector<std::vector<int32_t>> rows_of(BatchLoader& loader, int batches) {
  std::vector<std::vector<int32_t>> rows;
  Tensor x, y;
  for (int i = 0; i < batches; i++) {
    loader.next(x, y);
    for (int64_t b = 0; b < loader.B(); b++) {
      std::vector<int32_t> row(x.i32() + b * loader.T(), x.i32() + (b + 1) * loader.T());
      // targets are the inputs shifted by one
      for (int64_t t = 0; t + 1 < loader.T(); t++) EXPECT_EQ(y.i32()[b * loader.T() + t], row[t + 1]);
      rows.push_back(row);
    }
  }
  return rows;
}

// Where in `tokens` a row of T tokens starts (the first match), or -1.
int64_t find_row(const std::vector<int32_t>& tokens, const std::vector<int32_t>& row) {
  for (size_t i = 0; i + row.size() <= tokens.size(); i++)
    if (std::equal(row.begin(), row.end(), tokens.begin() + static_cast<int64_t>(i))) return static_cast<int64_t>(i);
  return -1;
}

}  // namespace

TEST(Dataset, LoadsSourcesAndWeights) {
  const auto a = documents({30, 50, 20}), b = documents({200});
  TokenDataset data = TokenDataset::load(write_dataset("load", {a, b}, {1.0, 3.0}).string());
  ASSERT_EQ(data.sources.size(), 2u);
  EXPECT_EQ(data.sources[1].weight, 3.0);
  EXPECT_EQ(data.train_tokens(), static_cast<int64_t>(a.size() + b.size()));
}

TEST(Dataset, StridedRowsShareOneShiftPerEpoch) {
  const int64_t T = 10;  // divides the period 90 of the token values, so a match's residue is exact
  const auto tokens = documents({300});  // one long document
  TokenDataset data = TokenDataset::load(write_dataset("strided", {tokens}, {1.0}).string());
  BatchLoader loader(data, 1, T, 7);
  const int64_t windows = (static_cast<int64_t>(tokens.size()) - 1 - T) / T;  // at least this many per epoch
  std::set<int64_t> starts;
  for (const auto& row : rows_of(loader, static_cast<int>(windows))) {
    const int64_t at = find_row(tokens, row);
    ASSERT_GE(at, 0);
    starts.insert(at % T);  // one shift per epoch: every start has the same residue
  }
  EXPECT_EQ(starts.size(), 1u);
}

TEST(Dataset, ResumeContinuesTheSameSequence) {
  const auto a = documents({5, 9, 14, 3, 40, 7, 11, 6, 12, 8, 25, 4}), b = documents({400});
  TokenDataset data = TokenDataset::load(write_dataset("resume", {a, b}, {2.0, 1.0}).string());
  BatchLoader first(data, 3, 8, 5);
  rows_of(first, 7);
  const LoaderState st = first.state();
  const auto expected = rows_of(first, 20);  // crosses epochs of the small source
  BatchLoader resumed(data, 3, 8, 5);
  resumed.restore(st);
  EXPECT_EQ(rows_of(resumed, 20), expected);
}

TEST(Dataset, MixtureFollowsTheWeights) {
  // Source 0 holds only tokens 1..49, source 1 only 50..89 (no <|endoftext|> inside the rows).
  std::vector<int32_t> a(2000), b(2000);
  for (size_t i = 0; i < a.size(); i++) a[i] = 1 + static_cast<int32_t>(i % 49), b[i] = 50 + static_cast<int32_t>(i % 40);
  TokenDataset data = TokenDataset::load(write_dataset("mixture", {a, b}, {1.0, 3.0}).string());
  BatchLoader loader(data, 8, 8, 21);
  int from_b = 0, total = 0;
  for (const auto& row : rows_of(loader, 200)) {
    from_b += row[0] >= 50;
    total++;
  }
  EXPECT_NEAR(static_cast<double>(from_b) / total, 0.75, 0.05);
}
