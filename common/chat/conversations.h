// SFT data: conversations JSONL in, packed (inputs, targets, weights) batches out.
//
// File format, one conversation per line (the world's sft_*.jsonl, and the common convention):
//   {"messages":[{"role":"system","content":"…"}?,{"role":"user","content":"…"},
//                {"role":"assistant","content":"…"}, …]}
// A line is rejected — with "FILE:LINE: what was expected, what was found" — when it is not JSON,
// not an object with a "messages" array, has no messages, a message without a "role" or with a
// role other than system/user/assistant, a message without a string "content", or no assistant
// message (nothing to train on). Blank lines are skipped. With skip_bad_lines, rejected lines are
// counted (and the first few reasons kept) instead of stopping the run.
//
// Batches (SftBatcher): every row holds T+1 tokens of PACKED conversations, each rendered by the
// chat template (chat_template.h) and placed whole, in a seeded shuffled order:
//
//   row   <eot><user>Q1<end><assistant>A1<end><eot><user>Q2<end><assistant>A2<end> pad pad pad
//   mask    0    0   0   0       0      1   1    0    0   0   0       0      1   1   0   0   0
//   inputs  = row[0..T)      targets = row[1..T]      weights = mask of the TARGET position
//
// - A conversation that does not fit in what is left of a row starts the next row; the rest of the
//   row is padding (target −1, weight 0). No conversation is ever split across rows.
// - Across a boundary, the target is the next conversation's <|endoftext|>, whose mask is 0: no
//   token of one conversation is trained to predict another. The model still attends to the
//   earlier conversations of its row, as in pretraining's packed documents.
// - A conversation longer than a row (T+1 tokens) is TRUNCATED to its first T+1 tokens, and
//   DROPPED if no trained token is left in them; both are counted (truncated(), dropped()).
// - Order: epoch e visits the conversations in a permutation shuffled by Rng(seed, e); the
//   position (epoch, cursor) is the whole state, so a resumed run sees exactly the same rows.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/chat/chat_template.h"
#include "common/data/epoch_order.h"
#include "common/tensor/tensor.h"

namespace sog {

// One JSONL row → messages; throws std::invalid_argument with the reason (no file or line: the
// caller adds them).
Chat parse_conversation(const nlohmann::json& row);

// The message rules of the format above, for other files that hold messages (the reward model's
// preference pairs): one {"role", "content"} object → a message, and a JSON array of them → a
// chat, each reason prefixed "message I: " (I from 0). Throw std::invalid_argument with the
// reason; an empty array is the caller's to judge.
ChatMessage parse_chat_message(const nlohmann::json& message);
Chat parse_messages(const nlohmann::json& messages);
// The inverse: [{"role": "user", "content": "…"}, …], keys in that order.
nlohmann::ordered_json messages_json(const Chat& chat);

struct ConversationFile {
  std::vector<Chat> conversations;
  int64_t skipped_lines = 0;               // with skip_bad_lines
  std::vector<std::string> skipped_reasons;  // "FILE:LINE: reason", the first 10
};

// Throws std::runtime_error "FILE:LINE: reason" at the first bad line (or counts it with
// skip_bad_lines), and when the file cannot be read or holds no conversation at all.
ConversationFile read_conversations(const std::string& path, bool skip_bad_lines = false);

// The position in a training state: {"epoch": int, "cursor": int} (common/data/epoch_order.h).
using SftPosition = EpochPosition;

class SftBatcher {
 public:
  // Renders every conversation once. Throws when none has an assistant token left after truncation.
  SftBatcher(const Tokenizer& tok, const std::vector<Chat>& conversations, int64_t B, int64_t T, uint64_t seed);
  // inputs (B,T) i32, targets (B,T) i32, weights (B,T) f32: overwritten (allocated on first use).
  void next(Tensor& inputs, Tensor& targets, Tensor& weights);
  SftPosition position() const { return order_.position(); }
  void restore(const SftPosition& p) { order_.restore(p); }

  int64_t conversations() const { return static_cast<int64_t>(rendered_.size()); }
  int64_t truncated() const { return truncated_; }
  int64_t dropped() const { return dropped_; }
  int64_t B() const { return B_; }
  int64_t T() const { return T_; }
  // Fraction of target positions with weight 1 over the last batch (trained tokens / B·T).
  double last_trained_fraction() const { return last_trained_fraction_; }

  // Every conversation once, in file order, one per row (no packing), truncated to the row; those
  // left without an assistant token are skipped: for validation loss.
  static std::vector<std::vector<Tensor>> validation_batches(const Tokenizer& tok, const std::vector<Chat>& convs,
                                                             int64_t B, int64_t T, int64_t max_batches);

 private:
  std::vector<RenderedChat> rendered_;
  int64_t B_, T_;
  int64_t truncated_ = 0, dropped_ = 0;
  double last_trained_fraction_ = 0;
  EpochOrder order_;  // the conversations, a fresh seeded permutation each epoch
};

}  // namespace sog
