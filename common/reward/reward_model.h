// The reward model of chapter 04 (InstructGPT's RM, the talk's "reward modeling" stage): the SFT
// GPT's backbone with a scalar head (scalar_head.h) that reads ONE number per (prompt, completion).
//
//   sequence  = render_conversation(prompt + {assistant: completion})   ends with <|end|>
//   raw score = head( GPT::hidden(sequence)[last token] )                the "reward token"
//
// For a prompt [user "What is 2 + 3?"] and the completion "5", on a byte-level tokenizer:
//
//   <|endoftext|> <|user|> ␠ W h a t … 3 ? <|end|> <|assistant|> ␠ 5 <|end|>
//                                                                       ▲ the score is read here
//
// Training data: for each prompt, K completions ranked by the labeler (the world's "human"). Each
// ordered pair (better, worse) of the ranking is one comparison; InstructGPT's loss for a group is
// the mean over its pairs of
//
//   loss(b, w) = −log σ(s_b − s_w) = softplus(−(s_b − s_w))        (Bradley–Terry)
//
// and all K completions of a group go through the model in ONE forward (rows of one batch), so a
// group with all C(K,2) pairs costs K forwards, not 2·C(K,2) — InstructGPT's reason for training on
// whole groups (it also keeps the C(K,2) correlated comparisons of one prompt in one step).
//
// Shapes: N rows of a batch (the K completions of a group, or any list of pairs to score), T the
// longest row, C the model's width.
//
// Design choices:
// - The score is read at the last real token of each right-padded row (gather_rows): causal
//   attention makes the padding after it invisible, so a row scores the same in any batch.
// - A sequence longer than the model's maxT loses its FIRST tokens: the reply's end, where the
//   score is read, is what must be kept (the prompt's start is the least informative part).
// - The loss sees only differences of scores: the head's bias gets no gradient, and the raw scores
//   carry an arbitrary offset. zero_mean_normalization sets the head's stored normalisation so that
//   the SFT model's own samples score 0 on average (InstructGPT's choice), which PPO then reads.
// - pairwise_ranking_loss is one op with its own backward (in double inside), rather than
//   gather → sub → log_sigmoid → mean: one node on the tape per group, and the stable form is in
//   one place.
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "common/chat/chat_template.h"
#include "common/nn/gpt.h"
#include "common/nn/model_folder.h"
#include "common/nn/scalar_head.h"
#include "common/tensor/random.h"
#include "common/tensor/tensor.h"
#include "common/tokenizer/tokenizer.h"

namespace sog {

// The sequence a reward model reads for (prompt, completion): the chat template's rendering of
// prompt + {assistant, completion}, which ends with the <|end|> closing the reply — the talk's
// "reward token", where the score is read. `completion` is the reply's message text (without the
// space the template puts before it, as reply_text gives it). Longer than max_T: the first tokens
// are dropped (the reply's end is what must be kept). Throws for max_T < 1.
std::vector<int32_t> reward_sequence(const Tokenizer& tok, const Chat& prompt, const std::string& completion,
                                     int64_t max_T);

struct RewardBatch {
  Tensor ids;        // (N,T) i32, rows right-padded with pad_id to the longest
  Tensor positions;  // (N) i32: each row's last real token (its reward token)
};
// E.g. sequences {a b c}, {d}, {e f} with pad p → ids [a b c; d p p; e f p], positions [2, 0, 1].
// Throws for no sequences or an empty one (naming it).
RewardBatch make_reward_batch(const std::vector<std::vector<int32_t>>& sequences, int32_t pad_id);

// raw[n] = head(hidden(ids)[n, positions[n], :]) — one forward of all N rows, on the tape (the
// gradient reaches the head and the GPT or its adapters): (N,T) ids → (N) raw scores. dropout_rng
// as GPT::hidden.
Tensor reward_scores(GPT& model, const ScalarHead& head, const RewardBatch& batch, Rng* dropout_rng = nullptr);

// InstructGPT's loss for one group of K completions: the mean over its P pairs of
//   −log σ(s_better − s_worse)                                scores (K) f32 → loss (1)
// one op with its own backward: with d = s_b − s_w,
//   ∂/∂s_b += −σ(−d) / P,   ∂/∂s_w += σ(−d) / P.
// Computed stably (log σ(d) = −softplus(−d) = min(d, 0) − log(1 + e^−|d|)), in double. A completion
// may appear in several pairs (its gradient is the sum). Throws for no pairs, an index outside
// [0, K), or a pair that compares a completion with itself.
Tensor pairwise_ranking_loss(const Tensor& scores, std::span<const std::pair<int32_t, int32_t>> pairs);

// A group's loss with each completion's forward pass run once: builds the K sequences (cut to the
// model's maxT), one batch (padded with <|endoftext|>), one reward_scores call, pairwise_ranking_loss
// over all the group's pairs. rows_forwarded = K (what a test counts against the C(K,2) pairs it
// serves). The pairs are checked before the forward.
struct GroupLoss {
  Tensor loss;  // (1), on the tape
  int64_t rows_forwarded = 0;
  int64_t pairs = 0;
  std::vector<float> scores;  // (K) the raw scores, detached: the trainer's accuracy on the group
  int64_t tokens = 0;         // real tokens of the K sequences (padding not counted)
};
GroupLoss group_loss(GPT& model, const ScalarHead& head, const Tokenizer& tok, const Chat& prompt,
                     const std::vector<std::string>& completions,
                     std::span<const std::pair<int32_t, int32_t>> pairs, Rng* dropout_rng = nullptr);

// Fraction of pairs whose better completion scores strictly higher (a tie counts as wrong): the
// held-out number chapter 04 reports. Throws for no pairs or an index outside the scores.
double pairwise_accuracy(std::span<const float> scores, std::span<const std::pair<int32_t, int32_t>> pairs);

// Normalisation as InstructGPT's: gain 1, bias = −mean(raw), so that the given completions (the
// SFT model's samples on the training prompts) score 0 on average. Throws on an empty span.
HeadNormalization zero_mean_normalization(std::span<const float> raw_scores);

// Best-of-n's pick: the index of the highest reward among the first n (the first of them on a tie);
// n beyond the rewards' size is cut to it. 0 for n ≤ 1.
int64_t best_of_first(std::span<const float> rewards, int64_t n);

// Scores many (prompt, completion) pairs without the tape, at most batch_rows rows per forward,
// in order; normalized = apply head.norm (gain·raw + bias), else raw. No dropout. Throws for
// batch_rows < 1.
std::vector<float> score_completions(GPT& model, const ScalarHead& head, const Tokenizer& tok,
                                     const std::vector<std::pair<Chat, std::string>>& items,
                                     int64_t batch_rows, bool normalized);

// A reward model folder (bin/reward train) loaded and checked against the tokenizer (load_model);
// an error names the path when it has no scalar head. base_trainable = false loads it frozen (no
// gradient buffer): the reward model PPO reads.
LoadedModel load_reward_model(const std::string& path, const Tokenizer& tok, const std::string& tokenizer_dir,
                              bool base_trainable = true);

}  // namespace sog
