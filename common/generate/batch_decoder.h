// The rows of one KV cache, each decoding its own sequence: the machine under generate_batch
// (fixed prompts, run to the end) and under the server's continuous batching (common/serve), where
// a request takes a free row between two steps and leaves it when it ends.
//
//   BatchDecoder dec(model, /*rows=*/16, /*cache_T=*/maxT);
//   dec.start(r, prompt);                    // row r: the prompt prefilled alone
//   int32_t next = sampler.sample(dec.logits(r), V);
//   dec.push(r, next);                       // next goes in at the next step …
//   dec.step();                              // … one position for every pushed row, together
//   dec.push_with(r, next, observation);     // or: next and a tool's result, row r alone, at once
//   dec.release(r);                          // the sequence ended: the row is free
//
// Every row computes exactly what generate() computes for its sequence alone (generate_batch.h):
// a prefill is a one-row forward_cached on KVCache::row, a step runs forward_cached_rows in groups
// of at most kMatmulDotRowsMaxM rows (each row's bits independent of the others), and a row whose
// cache is full slides as decode_with_cache does — its context's last window/2 tokens prefilled
// afresh. Runtime tokens (push_with) go through the model in one forward continuing the row's
// cache, with the token before them, as decode_with_tools feeds them.
#pragma once
#include <cstdint>
#include <span>
#include <vector>

#include "common/nn/gpt.h"

namespace sog {

class BatchDecoder {
 public:
  // rows sequences at a time, each holding at most cache_T positions (≤ the model's maxT; a
  // sequence that outgrows cache_T slides: give cache_T = maxT unless every sequence is known to
  // fit, as generate_batch knows).
  BatchDecoder(GPT& model, int64_t rows, int64_t cache_T);

  int64_t rows() const { return static_cast<int64_t>(slots_.size()); }
  // Row r takes a new sequence: the last min(|context|, maxT) tokens are prefilled alone, and its
  // first logits are ready. context non-empty.
  void start(int64_t r, std::vector<int32_t> context);
  // The logits row r's next token is drawn from: Vp floats, the first V of them real tokens.
  const float* logits(int64_t r) const;
  // Everything row r has read or will read: its prompt, then every token pushed.
  const std::vector<int32_t>& context(int64_t r) const { return slots_.at(static_cast<size_t>(r)).context; }
  // Row r's drawn token: it goes through the model at the next step() (or at once, alone, when the
  // row's cache is full and the window slides).
  void push(int64_t r, int32_t token);
  // Row r's drawn token and the tokens the runtime writes after it (a tool's observation): one
  // forward of row r alone continuing its cache, now; its logits are those after the last of them.
  void push_with(int64_t r, int32_t token, std::span<const int32_t> runtime);
  // Row r's sequence ended: the row is free for start().
  void release(int64_t r);
  // One position for every row pushed since the last step, decoded together.
  void step();

 private:
  struct Slot {
    std::vector<int32_t> context;
    int64_t cached = 0;  // positions its row of the cache holds
    Tensor logits;       // the next token's logits: row logits_row of this (·,Vp) tensor
    int64_t logits_row = 0;
  };
  // Row r alone: `ids` after its first `after` cached positions (0: a fresh prefill).
  void forward_alone(int64_t r, const std::vector<int32_t>& ids, int64_t after);
  void prefill(int64_t r, int64_t keep);  // its context's last `keep` tokens, fresh

  GPT& model_;
  int64_t window_;
  std::vector<KVCache> caches_;
  std::vector<Slot> slots_;
  std::vector<int64_t> pending_;  // the rows push()ed since the last step
};

}  // namespace sog
