// Our tokenizer folder: tokenizer.tiktoken + tokenizer.json (read and written) and vocab.txt
// (written). The byte-exact formats are at the top of tokenizer.h. Every error names the file, the
// line, what was expected and what was found.
#include <algorithm>
#include <charconv>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "common/io/atomic_file.h"
#include "common/tokenizer/base64.h"
#include "common/tokenizer/file_errors.h"
#include "common/tokenizer/tokenizer.h"

namespace sog {
namespace tokenizer_files {

[[noreturn]] void fail_at(const std::string& file, size_t line, const std::string& what) {
  throw std::runtime_error(file + ":" + std::to_string(line) + ": " + what);
}

[[noreturn]] void field_error(const std::string& file, const std::string& field, const std::string& what) {
  throw std::runtime_error(file + ": field \"" + field + "\": " + what);
}

std::pair<std::string_view, std::string_view> split_merge(const std::string& file, size_t line_no, std::string_view line) {
  const size_t space = line.find(' ');
  if (space == std::string_view::npos || space == 0 || space + 1 == line.size() || line.find(' ', space + 1) != std::string_view::npos) {
    fail_at(file, line_no, "expected a merge \"<first> <second>\" (two tokens, one space), found " + quote_token(line));
  }
  return {line.substr(0, space), line.substr(space + 1)};
}

std::string quote_token(std::string_view s) { return "\"" + render_token(s.substr(0, 60)) + (s.size() > 60 ? "...\"" : "\""); }

// The line number (1-based) of byte offset `pos` in `text`.
size_t line_of(std::string_view text, size_t pos) {
  pos = std::min(pos, text.size());
  return 1 + static_cast<size_t>(std::count(text.begin(), text.begin() + static_cast<ptrdiff_t>(pos), '\n'));
}

// nlohmann's parse errors carry a byte offset; we report the line.
nlohmann::json parse_json_file(const std::string& path, const std::string& contents) {
  try {
    return nlohmann::json::parse(contents);
  } catch (const nlohmann::json::parse_error& e) {
    fail_at(path, line_of(contents, e.byte == 0 ? 0 : e.byte - 1), std::string("expected valid JSON: ") + e.what());
  }
}

}  // namespace tokenizer_files

using namespace tokenizer_files;

namespace {

constexpr std::string_view kFormat = "stateofgpt-tokenizer";
constexpr int kVersion = 1;

// The ranks of a tiktoken rank file: "<base64 token> <rank>" per line, ranks 0, 1, 2, ... in order.
std::vector<std::string> read_rank_file(const std::string& rank_file) {
  if (!std::filesystem::exists(rank_file)) throw std::runtime_error(rank_file + ": no such file (expected a tiktoken rank file)");
  const std::string contents = read_file(rank_file);
  std::vector<std::string> ranks;
  size_t line_no = 0;
  for (size_t pos = 0; pos < contents.size();) {
    size_t end = contents.find('\n', pos);
    if (end == std::string::npos) end = contents.size();
    const std::string_view line(contents.data() + pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (line.empty()) continue;  // tiktoken skips empty lines too
    const size_t space = line.find(' ');
    if (space == std::string_view::npos || line.find(' ', space + 1) != std::string_view::npos) {
      fail_at(rank_file, line_no, "expected \"<base64 token> <rank>\", found " + quote_token(line));
    }
    const std::string_view b64 = line.substr(0, space), rank_text = line.substr(space + 1);
    auto bytes = base64_decode(b64);
    if (!bytes || bytes->empty()) fail_at(rank_file, line_no, "expected a base64 token, found " + quote_token(b64));
    int64_t rank = -1;
    const auto [ptr, ec] = std::from_chars(rank_text.data(), rank_text.data() + rank_text.size(), rank);
    if (ec != std::errc() || ptr != rank_text.data() + rank_text.size() || rank < 0) {
      fail_at(rank_file, line_no, "expected a non-negative integer rank, found " + quote_token(rank_text));
    }
    if (rank != static_cast<int64_t>(ranks.size())) {
      fail_at(rank_file, line_no, "expected rank " + std::to_string(ranks.size()) +
                                      " (ranks go 0, 1, 2, ... in file order, no duplicates or gaps), found " +
                                      std::to_string(rank));
    }
    ranks.push_back(std::move(*bytes));
  }
  return ranks;
}

}  // namespace

Tokenizer Tokenizer::load_tiktoken(const std::string& rank_file, SplitPattern pattern,
                                   std::vector<std::pair<std::string, int32_t>> specials) {
  std::vector<std::string> ranks = read_rank_file(rank_file);
  try {
    return from_ranks(std::move(ranks), pattern, std::move(specials));
  } catch (const std::invalid_argument& e) {
    throw std::runtime_error(rank_file + ": " + e.what());
  }
}

void Tokenizer::save(const std::string& dir) const {
  std::filesystem::create_directories(dir);
  {
    AtomicFile f(dir + "/tokenizer.tiktoken");
    for (size_t r = 0; r < ranks_.size(); ++r) f.stream() << base64_encode(ranks_[r]) << ' ' << r << '\n';
    f.commit();
  }
  nlohmann::ordered_json meta;
  meta["format"] = kFormat;
  meta["version"] = kVersion;
  meta["pattern"] = split_pattern_name(pattern_);
  meta["pattern_regex"] = split_pattern_regex(pattern_);
  meta["n_ranks"] = n_ranks();
  meta["special_tokens"] = nlohmann::ordered_json::object();
  for (const auto& [name, id] : specials_) meta["special_tokens"][name] = id;
  write_file_atomic(dir + "/tokenizer.json", meta.dump(2) + "\n");
  {
    AtomicFile f(dir + "/vocab.txt");
    f.stream() << "# id [token] <- [left][right]: each token's bytes (\\xNN: not UTF-8 on its own) and, for a\n"
                  "# merged token, the two tokens it was merged from. Special tokens come last.\n";
    for (size_t r = 0; r < ranks_.size(); ++r) {
      f.stream() << r << " [" << render_token(ranks_[r]) << "]";
      if (ranks_[r].size() > 1) {
        if (auto parents = merge_parents(static_cast<int32_t>(r))) {
          f.stream() << " <- [" << render_token(ranks_[parents->first]) << "][" << render_token(ranks_[parents->second])
                     << "]";
        }
      }
      f.stream() << '\n';
    }
    for (const auto& [name, id] : specials_) f.stream() << id << " [" << name << "] special\n";
    f.commit();
  }
}

Tokenizer Tokenizer::load(const std::string& dir) {
  namespace fs = std::filesystem;
  const std::string json_path = dir + "/tokenizer.json", ranks_path = dir + "/tokenizer.tiktoken";
  if (!fs::exists(json_path) && fs::exists(dir + "/encoder.json") && fs::exists(dir + "/vocab.bpe")) {
    return load_gpt2(dir + "/encoder.json", dir + "/vocab.bpe");
  }
  // No rank file, and vocab.json or a tokenizer.json with a "model": Hugging Face's folder.
  if (!fs::exists(ranks_path) &&
      (fs::exists(dir + "/vocab.json") ||
       (fs::exists(json_path) && nlohmann::json::parse(read_file(json_path), nullptr, false).contains("model")))) {
    return load_hf(dir);
  }
  if (!fs::exists(json_path)) {
    throw std::runtime_error(dir + ": expected a tokenizer folder (tokenizer.json + tokenizer.tiktoken, GPT-2's "
                             "encoder.json + vocab.bpe, or Hugging Face's vocab.json + merges.txt), found none");
  }
  const std::string text = read_file(json_path);
  const nlohmann::json meta = parse_json_file(json_path, text);
  // Field errors: the line is where the field's key appears in the file.
  auto field_error = [&](const std::string& key, const std::string& what) {
    const size_t at = text.find("\"" + key + "\"");
    fail_at(json_path, at == std::string::npos ? 1 : line_of(text, at), "field \"" + key + "\": " + what);
  };
  if (!meta.is_object()) fail_at(json_path, 1, "expected a JSON object");
  for (const char* key : {"format", "version", "pattern", "pattern_regex", "n_ranks", "special_tokens"}) {
    if (!meta.contains(key)) fail_at(json_path, 1, std::string("expected the field \"") + key + "\", it is missing");
  }
  if (meta["format"] != kFormat) field_error("format", "expected \"" + std::string(kFormat) + "\", found " + meta["format"].dump());
  if (meta["version"] != kVersion) field_error("version", "expected " + std::to_string(kVersion) + ", found " + meta["version"].dump());
  if (!meta["pattern"].is_string()) field_error("pattern", "expected \"gpt2\" or \"gpt4\", found " + meta["pattern"].dump());
  SplitPattern pattern = SplitPattern::gpt2;
  try {
    pattern = parse_split_pattern(meta["pattern"].get<std::string>());
  } catch (const std::invalid_argument&) {
    field_error("pattern", "expected \"gpt2\" or \"gpt4\", found " + meta["pattern"].dump());
  }
  if (meta["pattern_regex"] != split_pattern_regex(pattern)) {
    field_error("pattern_regex", "expected the " + std::string(split_pattern_name(pattern)) + " regex " +
                                     nlohmann::json(split_pattern_regex(pattern)).dump() + ", found " + meta["pattern_regex"].dump());
  }
  if (!meta["n_ranks"].is_number_integer()) field_error("n_ranks", "expected an integer, found " + meta["n_ranks"].dump());
  if (!meta["special_tokens"].is_object()) field_error("special_tokens", "expected an object {name: id}, found " + meta["special_tokens"].dump());
  std::vector<std::pair<std::string, int32_t>> specials;
  for (const auto& [name, id] : meta["special_tokens"].items()) {
    if (!id.is_number_integer()) field_error(name, "expected an integer id, found " + id.dump());
    specials.emplace_back(name, id.get<int32_t>());
  }
  std::vector<std::string> ranks = read_rank_file(ranks_path);
  if (static_cast<int64_t>(ranks.size()) != meta["n_ranks"].get<int64_t>()) {
    throw std::runtime_error(ranks_path + ":" + std::to_string(ranks.size() + 1) + ": expected " +
                             meta["n_ranks"].dump() + " ranks (n_ranks in " + json_path + "), found " +
                             std::to_string(ranks.size()) + " (truncated file?)");
  }
  try {
    return from_ranks(std::move(ranks), pattern, std::move(specials));
  } catch (const std::invalid_argument& e) {
    throw std::runtime_error(json_path + ": " + e.what());
  }
}

}  // namespace sog
