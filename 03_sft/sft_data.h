// What SFT trains on: the conversations (a JSONL file, or the world's SFT split generated in
// memory), and optionally rows of pretraining text mixed into every step.
//
// Mixing pretraining text into fine-tuning is InstructGPT's "PPO-ptx" idea applied to SFT: next
// to the B rows of conversations, each step also trains `rows` rows of chapter 02's shards with
// their plain next-token loss, so the fine-tuned model keeps practising what the base learned
// from documents while it learns the assistant's format:
//
//   loss = L_sft + weight · L_pretrain       (two forward/backward passes; gradients add up)
#pragma once
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/chat/chat_template.h"
#include "common/chat/conversations.h"
#include "common/data/dataset.h"
#include "common/tokenizer/tokenizer.h"

namespace sog {

struct SftData {
  std::vector<Chat> train, val;
  std::string train_name, val_name;
  int64_t skipped_lines = 0;
};

// data_path empty: the SFT split of the world of `world_seed`. val_path empty: the world's sft_val,
// or the last 5% of data_path (at least one conversation, at most 200).
SftData load_sft_data(const std::string& data_path, const std::string& val_path, uint64_t world_seed,
                      bool skip_bad_lines);

class PretrainingMix {
 public:
  // Reads the shards in `dir` (chapter 01's folder); they must have been written with `tok`.
  PretrainingMix(const std::string& dir, const Tokenizer& tok, const std::string& tokenizer_dir, int64_t rows,
                 int64_t T, uint64_t seed, float weight);
  // (rows, T) inputs and targets, overwritten in place.
  void next(Tensor& inputs, Tensor& targets) { loader_->next(inputs, targets); }
  float weight() const { return weight_; }
  int64_t rows() const { return loader_->B(); }
  int64_t train_tokens() const { return data_->train_tokens(); }
  LoaderState state() const { return loader_->state(); }
  void restore(const LoaderState& s) { loader_->restore(s); }

 private:
  std::unique_ptr<TokenDataset> data_;  // the loader keeps a reference: its address must not move
  std::unique_ptr<BatchLoader> loader_;
  float weight_;
};

// The data position a training state records: the conversations' alone, or with a mix
// {"sft": …, "mix": …}.
nlohmann::json sft_data_position(const SftPosition& sft, const PretrainingMix* mix);
void restore_sft_data_position(const nlohmann::json& position, SftBatcher& sft, PretrainingMix* mix);

}  // namespace sog
