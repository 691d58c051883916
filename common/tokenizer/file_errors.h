// Shared by the tokenizer's file readers: errors of the form "path:line: what was expected, found".
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>

namespace sog::tokenizer_files {

[[noreturn]] void fail_at(const std::string& file, size_t line, const std::string& what);
// "path: field \"name\": what" — a JSON file's field that is wrong, where no line is known.
[[noreturn]] void field_error(const std::string& file, const std::string& field, const std::string& what);
// One line of a merges file (GPT-2's vocab.bpe, Hugging Face's merges.txt) split at its one space:
// "<first> <second>", two tokens; anything else fails at file:line.
std::pair<std::string_view, std::string_view> split_merge(const std::string& file, size_t line_no, std::string_view line);
// The line number (1-based) of byte offset pos in text.
size_t line_of(std::string_view text, size_t pos);
// nlohmann::json::parse, with a parse error reported as "path:line: expected valid JSON: ...".
nlohmann::json parse_json_file(const std::string& path, const std::string& contents);
// s rendered printable and quoted, cut at 60 bytes.
std::string quote_token(std::string_view s);

}  // namespace sog::tokenizer_files
