// Token data for training: the shards chapter 01 wrote, grouped by source, and the loader that
// cuts them into B×T batches.
//
// A batch is B rows of T+1 consecutive tokens: inputs are the first T, targets the last T (the
// next token at every position). Documents were joined with <|endoftext|> in front of each, so a
// row may span a document boundary — the model learns that after <|endoftext|> a new document
// starts, exactly as GPT-2 and nanoGPT train.
//
//   sources:  several (Tiny Shakespeare, world documents, …), each with a sampling weight, as in
//             LLaMA's data mixture (their table: CommonCrawl 67%, C4 15%, GitHub 4.5%, …)
//   windows:  each source's training tokens are cut into windows of T+1 tokens at stride T, from a
//             random shift in [0, T) drawn each epoch; the windows are visited in a fresh seeded
//             permutation each epoch (every token seen once per epoch, in a new order)
//   mixture:  each row picks its source with probability weight / Σ weights
//   validation: a fixed set: the first windows of every source's validation split, in order
//
// Everything is drawn from one seeded Rng whose state, with each source's epoch and cursor, is
// the loader's state: saving and restoring it resumes the exact same batch sequence.
#pragma once
#include <array>
#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "common/tensor/random.h"
#include "common/tensor/tensor.h"

namespace sog {

struct TokenSource {
  std::string name;
  double weight = 1.0;
  std::vector<uint16_t> train, val;
};

struct TokenDataset {
  std::string dir;
  int n_vocab = 0;
  std::vector<TokenSource> sources;
  // Reads DIR/meta.json and every shard it lists; errors name the file and what is wrong.
  static TokenDataset load(const std::string& dir);
  // Throws, naming both folders, unless the shards were written with a tokenizer of n_vocab ids.
  void require_vocab(int tokenizer_n_vocab, const std::string& tokenizer_dir) const;
  int64_t train_tokens() const;
  int64_t val_tokens() const;
};

struct LoaderState {
  std::array<uint64_t, 4> rng{};
  std::vector<int64_t> epoch, cursor;  // per source
};
// The loader's position in a training state (common/io/train_state.h):
//   {"rng": [4 × u64 as decimal strings], "epoch": [per source], "cursor": [per source]}
void to_json(nlohmann::json& j, const LoaderState& s);
void from_json(const nlohmann::json& j, LoaderState& s);

class BatchLoader {
 public:
  BatchLoader(const TokenDataset& data, int64_t B, int64_t T, uint64_t seed);
  // inputs, targets: (B,T) i32, overwritten in place (no allocation after the first call).
  void next(Tensor& inputs, Tensor& targets);
  LoaderState state() const;
  void restore(const LoaderState& s);
  int64_t B() const { return B_; }
  int64_t T() const { return T_; }

 private:
  int pick_source();
  void start_epoch(size_t s);
  const TokenDataset& data_;
  int64_t B_, T_;
  uint64_t seed_;
  Rng rng_;
  std::vector<double> cumulative_weight_;
  std::vector<int64_t> epoch_, cursor_, shift_;
  std::vector<std::vector<int64_t>> order_;  // per source: window indices of this epoch
};

// The fixed validation set: up to max_batches (B,T) batches, from each source's validation split
// in order, sources taking turns. Each element is {inputs, targets}.
std::vector<std::pair<Tensor, Tensor>> validation_batches(const TokenDataset& data, int64_t B, int64_t T,
                                                          int64_t max_batches);

}  // namespace sog
