// Pre-tokenization: before BPE, text is cut into chunks ("pre-tokens") by a regular expression, and
// merges never cross a chunk boundary. That is why " the" and "the" are different tokens, and why
// digits and punctuation do not glue onto words.
//
//   GPT-2:          's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//   GPT-4 (cl100k): '(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}+|\p{N}{1,3}|
//                   ?[^\s\p{L}\p{N}]++[\r\n]*|\s*[\r\n]|\s+(?!\S)|\s+
//
//   "Hello world's  123!" --gpt2--> "Hello" " world" "'s" " " " 123" "!"
//   "Hello world's  123!" --gpt4--> "Hello" " world" "'s" " " " " "123" "!"
//
// The matcher is hand-written (no regex engine): for each position it tries the alternatives in
// order, exactly as a backtracking engine would, and is tested against the real regex engine for
// both patterns (tests/fixtures/pretokenize_cases.json). Character classes, as Rust's regex crate
// (which tiktoken uses) defines them, with categories from utf8proc:
//   \p{L} = Lu Ll Lt Lm Lo;   \p{N} = Nd Nl No;   \s = Unicode White_Space: \t \n \v \f \r, space,
//   U+0085, U+00A0, U+1680, U+2000-200A, U+2028, U+2029, U+202F, U+205F, U+3000.
// A combining mark (Mn) is not \p{L}: "e\u0301" is "e" then the mark.
//
// Bytes that are not valid UTF-8 (our byte-level extension; tiktoken only takes valid UTF-8): each
// invalid byte is one character outside \p{L}, \p{N} and \s, so it joins a punctuation run. The
// chunks still concatenate back to the input exactly, whatever the bytes.
#pragma once
#include <functional>
#include <string_view>
#include <vector>

namespace sog {

enum class SplitPattern { gpt2, gpt4 };  // gpt4 = cl100k_base's pattern

// The exact regex text (stored in tokenizer.json so other tools can reproduce the split).
std::string_view split_pattern_regex(SplitPattern p);
// "gpt2" | "gpt4" (std::invalid_argument otherwise), and back.
SplitPattern parse_split_pattern(std::string_view name);
std::string_view split_pattern_name(SplitPattern p);

// Calls emit for every pre-token of `text`, in order; the pre-tokens concatenate back to `text`.
void pretokenize(std::string_view text, SplitPattern p, const std::function<void(std::string_view)>& emit);
std::vector<std::string_view> pretokenize(std::string_view text, SplitPattern p);

// The byte length of the pre-token that starts at `text[pos]` (pos < text.size()); the building block
// of both functions above, exposed for the encoder's hot loop (no std::function call per chunk).
size_t pretoken_length(std::string_view text, size_t pos, SplitPattern p);

// True when cutting `text` at `pos` and pre-tokenizing both halves gives the same chunks as the
// whole, for both patterns: text[pos-1] is '\n', the character before that '\n' is not whitespace
// and the character at pos is not whitespace. (A '\n' after whitespace is not enough for GPT-2:
// "a\n\nb" splits as "a" "\n" "\n" "b", but "a\n\n" alone splits as "a" "\n\n".)
bool is_safe_split_point(std::string_view text, size_t pos);

}  // namespace sog
