// OpenAI's GPT-2 release files, read the way tiktoken's data_gym_to_mergeable_bpe_ranks reads them:
//
//   encoder.json  {"!": 0, "\"": 1, ..., "Ġthe": 262, ..., "<|endoftext|>": 50256}
//   vocab.bpe     "#version: 0.2", then one merge per line in priority order: "Ġ t" (line 2) ...
//
// Both spell bytes in GPT-2's printable alphabet (bytes_to_unicode, byte_alphabet.h).
//
// Ranks: first the 256 single bytes in that alphabet's order ('!' is rank 0), then merge k of vocab.bpe
// is rank 256 + k (its two halves concatenated). encoder.json must then give every token exactly its
// rank (it does: ids 0..50255), and <|endoftext|> (50256) becomes the special token.
#include <filesystem>
#include <stdexcept>
#include <unordered_map>

#include "common/io/atomic_file.h"
#include "common/tokenizer/byte_alphabet.h"
#include "common/tokenizer/file_errors.h"
#include "common/tokenizer/tokenizer.h"

namespace sog {

using namespace tokenizer_files;

Tokenizer Tokenizer::load_gpt2(const std::string& encoder_json, const std::string& vocab_bpe) {
  for (const std::string& path : {encoder_json, vocab_bpe}) {
    if (!std::filesystem::exists(path)) throw std::runtime_error(path + ": no such file (expected GPT-2's encoder.json and vocab.bpe)");
  }
  std::vector<std::string> ranks;
  std::unordered_map<std::string, size_t> line_of_token;  // merged token -> its vocab.bpe line
  for (uint8_t b : byte_alphabet_order()) ranks.emplace_back(1, static_cast<char>(b));

  // vocab.bpe: line 1 is the version, then "first second" per line.
  const std::string merges = read_file(vocab_bpe);
  size_t line_no = 0;
  for (size_t pos = 0; pos < merges.size();) {
    size_t end = merges.find('\n', pos);
    if (end == std::string::npos) end = merges.size();
    const std::string_view line(merges.data() + pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (line_no == 1) {
      if (!line.starts_with("#version")) fail_at(vocab_bpe, 1, "expected \"#version: 0.2\", found " + quote_token(line));
      continue;
    }
    const auto [left, right] = split_merge(vocab_bpe, line_no, line);
    const auto first = alphabet_to_bytes(left);
    const auto second = alphabet_to_bytes(right);
    if (!first || !second) {
      fail_at(vocab_bpe, line_no, "expected tokens in GPT-2's byte alphabet, found " + quote_token(line) +
                                      " (a character outside it, or broken UTF-8)");
    }
    for (const std::string* half : {&*first, &*second}) {
      if (half->size() > 1 && !line_of_token.count(*half)) {
        fail_at(vocab_bpe, line_no, "expected both halves to be earlier tokens, but " + quote_token(*half) + " is not");
      }
    }
    std::string merged = *first + *second;
    if (auto it = line_of_token.find(merged); it != line_of_token.end()) {
      fail_at(vocab_bpe, line_no, "duplicate merge: " + quote_token(merged) + " was already made on line " + std::to_string(it->second));
    }
    line_of_token.emplace(merged, line_no);
    ranks.push_back(std::move(merged));
  }
  const int32_t n_ranks = static_cast<int32_t>(ranks.size());

  // encoder.json: every token at exactly its rank, plus <|endoftext|>.
  const std::string encoder_text = read_file(encoder_json);
  const nlohmann::json encoder = parse_json_file(encoder_json, encoder_text);
  if (!encoder.is_object()) fail_at(encoder_json, 1, "expected a JSON object {token: id}, found " + std::string(encoder.type_name()));
  std::vector<std::pair<std::string, int32_t>> specials;
  size_t n_mergeable = 0;
  for (const auto& [key, value] : encoder.items()) {
    if (!value.is_number_integer()) fail_at(encoder_json, 1, "entry " + quote_token(key) + ": expected an integer id, found " + value.dump());
    const int64_t id = value.get<int64_t>();
    if (key == kEndOfText || key == "<|startoftext|>") {
      specials.emplace_back(key, static_cast<int32_t>(id));
      continue;
    }
    const auto bytes = alphabet_to_bytes(key);
    if (!bytes) fail_at(encoder_json, 1, "entry " + quote_token(key) + ": expected a token in GPT-2's byte alphabet");
    const bool matches = id >= 0 && id < n_ranks && ranks[id] == *bytes;
    if (!matches) {
      fail_at(encoder_json, 1, "entry " + quote_token(key) + ": has id " + std::to_string(id) +
                                   ", but the merges of " + vocab_bpe + " give that token " +
                                   (id >= 0 && id < n_ranks ? "a different id" : "no such id") +
                                   " (the two files do not belong together, or one is truncated)");
    }
    ++n_mergeable;
  }
  if (n_mergeable != ranks.size()) {
    throw std::runtime_error(encoder_json + ": expected " + std::to_string(ranks.size()) + " tokens (256 bytes + " +
                             std::to_string(ranks.size() - 256) + " merges of " + vocab_bpe + "), found " +
                             std::to_string(n_mergeable) + " (truncated file?)");
  }
  try {
    return from_ranks(std::move(ranks), SplitPattern::gpt2, std::move(specials));
  } catch (const std::invalid_argument& e) {
    throw std::runtime_error(encoder_json + ": " + e.what());
  }
}

}  // namespace sog
