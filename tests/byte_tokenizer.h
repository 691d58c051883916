// The tokenizer of the tests that need text but not a trained vocabulary: one token per byte
// (ids 0–255) and the project's special tokens after them (256 + their index in kSpecialTokens).
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "common/tokenizer/special_tokens.h"
#include "common/tokenizer/tokenizer.h"

namespace sog::testing {

inline Tokenizer byte_tokenizer() {
  std::vector<std::string> ranks;
  for (int b = 0; b < 256; b++) ranks.push_back(std::string(1, static_cast<char>(b)));
  std::vector<std::pair<std::string, int32_t>> specials;
  for (size_t i = 0; i < kSpecialTokens.size(); i++) specials.push_back({std::string(kSpecialTokens[i]), 256 + int32_t(i)});
  return Tokenizer::from_ranks(ranks, SplitPattern::gpt2, specials);
}

// The same bytes with <|endoftext|> (256) alone, as a base model's tokenizer from elsewhere (GPT-2's):
// no chat or tool tokens.
inline Tokenizer byte_tokenizer_eot_only() {
  std::vector<std::string> ranks;
  for (int b = 0; b < 256; b++) ranks.push_back(std::string(1, static_cast<char>(b)));
  return Tokenizer::from_ranks(ranks, SplitPattern::gpt2, {{std::string(kEndOfText), 256}});
}

// One byte tokenizer for the whole test program.
inline const Tokenizer& shared_byte_tokenizer() {
  static const Tokenizer t = byte_tokenizer();
  return t;
}

}  // namespace sog::testing
