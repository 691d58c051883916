#include "common/data/dataset.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "common/data/shard.h"
#include "common/io/train_state.h"

namespace sog {

namespace fs = std::filesystem;

// A split of one source: DIR/<source>/<split>_000000.bin, _000001.bin, … (`count` shards).
static std::vector<uint16_t> read_split(const fs::path& dir, const std::string& source, const std::string& split,
                                        int64_t count) {
  std::vector<uint16_t> tokens;
  for (int64_t i = 0; i < count; i++) {
    char name[64];
    std::snprintf(name, sizeof(name), "%s_%06lld.bin", split.c_str(), static_cast<long long>(i));
    std::vector<uint16_t> part = read_shard((dir / source / name).string());
    tokens.insert(tokens.end(), part.begin(), part.end());
  }
  return tokens;
}

void TokenDataset::require_vocab(int tokenizer_n_vocab, const std::string& tokenizer_dir) const {
  if (n_vocab != tokenizer_n_vocab) {
    throw std::runtime_error("the shards in " + dir + " were written with n_vocab " + std::to_string(n_vocab) +
                             " but the tokenizer in " + tokenizer_dir + " has " + std::to_string(tokenizer_n_vocab) +
                             " (shard with the same tokenizer)");
  }
}

TokenDataset TokenDataset::load(const std::string& dir) {
  const fs::path meta_path = fs::path(dir) / "meta.json";
  std::ifstream in(meta_path);
  if (!in) {
    throw std::runtime_error(meta_path.string() + ": cannot open (is " + dir +
                             " a shard folder written by `tokenizer shard`?)");
  }
  nlohmann::json meta;
  try {
    meta = nlohmann::json::parse(in);
  } catch (const nlohmann::json::parse_error& e) {
    throw std::runtime_error(meta_path.string() + ": not valid JSON: " + e.what());
  }
  TokenDataset data;
  data.dir = dir;
  auto field = [&](const nlohmann::json& obj, const char* name) -> const nlohmann::json& {
    if (!obj.contains(name)) throw std::runtime_error(meta_path.string() + ": missing field \"" + name + "\"");
    return obj.at(name);
  };
  data.n_vocab = field(meta, "n_vocab").get<int>();
  for (const auto& s : field(meta, "sources")) {
    TokenSource src;
    src.name = field(s, "name").get<std::string>();
    src.weight = s.value("weight", 1.0);
    if (!(src.weight >= 0)) {
      throw std::runtime_error(meta_path.string() + ": source '" + src.name + "' has weight " +
                               std::to_string(src.weight) + "; weights must be >= 0");
    }
    src.train = read_split(fs::path(dir), src.name, "train", field(s, "train_shards").get<int64_t>());
    src.val = read_split(fs::path(dir), src.name, "val", field(s, "val_shards").get<int64_t>());
    for (const auto* split : {&src.train, &src.val}) {
      for (uint16_t t : *split) {
        if (t >= data.n_vocab) {
          throw std::runtime_error(dir + ": source '" + src.name + "' holds token id " + std::to_string(t) +
                                   " but meta.json says n_vocab = " + std::to_string(data.n_vocab));
        }
      }
    }
    data.sources.push_back(std::move(src));
  }
  if (data.sources.empty()) throw std::runtime_error(meta_path.string() + ": no sources");
  double total_weight = 0;
  for (const auto& src : data.sources) total_weight += src.weight;
  if (!(total_weight > 0)) throw std::runtime_error(meta_path.string() + ": every source has weight 0");
  return data;
}

int64_t TokenDataset::train_tokens() const {
  int64_t n = 0;
  for (const auto& s : sources) n += static_cast<int64_t>(s.train.size());
  return n;
}

int64_t TokenDataset::val_tokens() const {
  int64_t n = 0;
  for (const auto& s : sources) n += static_cast<int64_t>(s.val.size());
  return n;
}

BatchLoader::BatchLoader(const TokenDataset& data, int64_t B, int64_t T, uint64_t seed)
    : data_(data), B_(B), T_(T), seed_(seed), rng_(seed) {
  double total = 0;
  for (const auto& s : data_.sources) {
    if (s.weight > 0 && static_cast<int64_t>(s.train.size()) < T + 1) {
      throw std::invalid_argument("BatchLoader: source '" + s.name + "' has " + std::to_string(s.train.size()) +
                                  " training tokens, fewer than one window of T+1 = " + std::to_string(T + 1));
    }
    total += s.weight;
    cumulative_weight_.push_back(total);
  }
  const size_t n = data_.sources.size();
  epoch_.assign(n, 0);
  cursor_.assign(n, 0);
  shift_.assign(n, 0);
  order_.resize(n);
  for (size_t s = 0; s < n; s++)
    if (data_.sources[s].weight > 0) start_epoch(s);
}

// The windows of one epoch of source s: a shift in [0, T) and a permutation, both drawn from a
// generator seeded by (seed, source, epoch) — so they can be rebuilt from the epoch number alone.
void BatchLoader::start_epoch(size_t s) {
  Rng r(seed_ ^ (0x9E3779B97F4A7C15ull * (s + 1)) ^ (0xC2B2AE3D27D4EB4Full * static_cast<uint64_t>(epoch_[s] + 1)));
  const int64_t n_tokens = static_cast<int64_t>(data_.sources[s].train.size());
  int64_t shift = static_cast<int64_t>(r.below(static_cast<uint64_t>(T_)));
  if ((n_tokens - 1 - shift) / T_ < 1) shift = 0;
  shift_[s] = shift;
  const int64_t windows = (n_tokens - 1 - shift) / T_;
  order_[s].resize(static_cast<size_t>(windows));
  for (int64_t i = 0; i < windows; i++) order_[s][i] = i;
  for (int64_t i = windows - 1; i > 0; i--) std::swap(order_[s][i], order_[s][r.below(static_cast<uint64_t>(i + 1))]);
}

int BatchLoader::pick_source() {
  if (cumulative_weight_.size() == 1) return 0;
  double u = rng_.uniform() * cumulative_weight_.back();
  auto it = std::upper_bound(cumulative_weight_.begin(), cumulative_weight_.end(), u);
  return static_cast<int>(std::min<size_t>(it - cumulative_weight_.begin(), cumulative_weight_.size() - 1));
}

void BatchLoader::next(Tensor& inputs, Tensor& targets) {
  if (!inputs.defined() || inputs.shape() != Shape({B_, T_})) inputs = Tensor::empty({B_, T_}, DType::i32);
  if (!targets.defined() || targets.shape() != Shape({B_, T_})) targets = Tensor::empty({B_, T_}, DType::i32);
  int32_t* x = inputs.i32();
  int32_t* y = targets.i32();
  for (int64_t b = 0; b < B_; b++) {
    const size_t s = static_cast<size_t>(pick_source());
    if (cursor_[s] >= static_cast<int64_t>(order_[s].size())) {
      epoch_[s]++;
      cursor_[s] = 0;
      start_epoch(s);
    }
    const int64_t start = shift_[s] + order_[s][static_cast<size_t>(cursor_[s]++)] * T_;
    const uint16_t* tok = data_.sources[s].train.data() + start;
    for (int64_t t = 0; t < T_; t++) {
      x[b * T_ + t] = tok[t];
      y[b * T_ + t] = tok[t + 1];
    }
  }
}

void to_json(nlohmann::json& j, const LoaderState& s) {
  j = {{"rng", u64_words_to_json(s.rng)}, {"epoch", s.epoch}, {"cursor", s.cursor}};
}

void from_json(const nlohmann::json& j, LoaderState& s) {
  s.rng = u64_words_from_json(j.at("rng"));
  s.epoch = j.at("epoch").get<std::vector<int64_t>>();
  s.cursor = j.at("cursor").get<std::vector<int64_t>>();
}

LoaderState BatchLoader::state() const { return {rng_.state(), epoch_, cursor_}; }

void BatchLoader::restore(const LoaderState& s) {
  if (s.epoch.size() != data_.sources.size() || s.cursor.size() != data_.sources.size()) {
    throw std::invalid_argument("BatchLoader::restore: the saved state has " + std::to_string(s.epoch.size()) +
                                " sources, this data set has " + std::to_string(data_.sources.size()));
  }
  rng_.set_state(s.rng);
  epoch_ = s.epoch;
  cursor_ = s.cursor;
  for (size_t i = 0; i < data_.sources.size(); i++)
    if (data_.sources[i].weight > 0) start_epoch(i);
}

std::vector<std::pair<Tensor, Tensor>> validation_batches(const TokenDataset& data, int64_t B, int64_t T,
                                                          int64_t max_batches) {
  // Windows of T+1 at stride T from each source's validation split, sources interleaved.
  std::vector<std::pair<size_t, int64_t>> windows;  // (source, start)
  std::vector<int64_t> next_start(data.sources.size(), 0);
  bool any = true;
  while (any && static_cast<int64_t>(windows.size()) < B * max_batches) {
    any = false;
    for (size_t s = 0; s < data.sources.size(); s++) {
      if (next_start[s] + T + 1 <= static_cast<int64_t>(data.sources[s].val.size())) {
        windows.push_back({s, next_start[s]});
        next_start[s] += T;
        any = true;
      }
    }
  }
  const int64_t n_batches = static_cast<int64_t>(windows.size()) / B;
  if (n_batches == 0) {
    throw std::invalid_argument("validation_batches: the validation splits hold " + std::to_string(data.val_tokens()) +
                                " tokens, not enough for one batch of B=" + std::to_string(B) +
                                " windows of T+1=" + std::to_string(T + 1));
  }
  std::vector<std::pair<Tensor, Tensor>> batches;
  for (int64_t i = 0; i < std::min(n_batches, max_batches); i++) {
    Tensor x = Tensor::empty({B, T}, DType::i32), y = Tensor::empty({B, T}, DType::i32);
    for (int64_t b = 0; b < B; b++) {
      auto [s, start] = windows[static_cast<size_t>(i * B + b)];
      const uint16_t* tok = data.sources[s].val.data() + start;
      for (int64_t t = 0; t < T; t++) {
        x.i32()[b * T + t] = tok[t];
        y.i32()[b * T + t] = tok[t + 1];
      }
    }
    batches.push_back({x, y});
  }
  return batches;
}

}  // namespace sog
