// Looking at tokens: `show` paints each token's text on its own background colour (as the
// tiktokenizer web app does), `stats` measures how much text a token carries.
//
//   $ echo "Hello world" | bin/tokenizer show --tokenizer DIR --no-color
//   [Hello][ world][\n]
//   3 tokens, 12 bytes (4.00 bytes/token)
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <sstream>
#include <unordered_set>

#include "01_tokenizer/commands.h"
#include "common/io/atomic_file.h"
#include "common/tokenizer/tokenizer.h"

namespace sog {

namespace {

// Background colours from the 256-colour palette, pale enough for black text.
constexpr int kBackgrounds[] = {153, 186, 217, 151, 223, 189, 194, 224};

// Number of bytes a UTF-8 character that starts with byte c takes (1 for a stray byte).
int utf8_length(unsigned char c) {
  if (c < 0x80) return 1;
  if ((c & 0xE0) == 0xC0) return 2;
  if ((c & 0xF0) == 0xE0) return 3;
  if ((c & 0xF8) == 0xF0) return 4;
  return 1;
}

// True when `bytes` ends on a character boundary (no UTF-8 character is cut at its end).
bool ends_on_char_boundary(const std::string& bytes) {
  size_t i = 0;
  while (i < bytes.size()) i += static_cast<size_t>(utf8_length(static_cast<unsigned char>(bytes[i])));
  return i == bytes.size();
}

// Control characters made visible: "a\nb" → "a\\nb" (the caller breaks the line after a span that
// ends in a newline, so the text keeps its shape).
std::string visible(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '\n') out += "\\n";
    else if (c == '\t') out += "\\t";
    else if (c == '\r') out += "\\r";
    else out += c;
  }
  return out;
}

}  // namespace

void run_show(const ShowOptions& opt) {
  const Tokenizer tok = Tokenizer::load(opt.tokenizer_dir);
  std::string text = opt.text;
  if (!opt.text_given) {
    std::ostringstream s;
    s << std::cin.rdbuf();
    text = s.str();
  }
  const std::vector<int32_t> ids = tok.encode(text, AllowedSpecial::all);
  const bool color = !opt.no_color && ::isatty(STDOUT_FILENO);

  // A token may end inside a multi-byte character (a Chinese character is 3 bytes and may be cut
  // between two tokens); such tokens are shown together as one span so the terminal never sees
  // half a character: [[你]] in bracket mode, underlined in colour.
  std::string out, span;
  int span_tokens = 0, n_spans = 0;
  auto flush_span = [&] {
    const bool several = span_tokens > 1;
    if (color) {
      out += "\x1b[30;48;5;" + std::to_string(kBackgrounds[n_spans % std::size(kBackgrounds)]) + (several ? ";4m" : "m") +
             visible(span) + "\x1b[0m";
    } else {
      out += (several ? "[[" : "[") + visible(span) + (several ? "]]" : "]");
    }
    if (span.back() == '\n') out += '\n';
    ++n_spans;
    span.clear();
    span_tokens = 0;
  };
  for (int32_t id : ids) {
    span += tok.token_bytes(id);
    ++span_tokens;
    if (ends_on_char_boundary(span)) flush_span();
  }
  if (!span.empty()) flush_span();
  if (out.empty() || out.back() != '\n') out += '\n';
  char line[128];
  std::snprintf(line, sizeof(line), "%zu tokens, %zu bytes (%.2f bytes/token)\n", ids.size(), text.size(),
                ids.empty() ? 0.0 : static_cast<double>(text.size()) / static_cast<double>(ids.size()));
  out += line;
  if (opt.ids) {
    for (size_t i = 0; i < ids.size(); ++i) out += (i ? " " : "") + std::to_string(ids[i]);
    out += "\n";
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
}

void run_stats(const StatsOptions& opt) {
  const Tokenizer tok = Tokenizer::load(opt.tokenizer_dir);
  const std::string text = read_file(opt.input);
  if (text.empty()) throw std::invalid_argument(opt.input + ": the input file is empty");
  const std::vector<int32_t> ids = tok.encode_parallel(text, AllowedSpecial::none, opt.threads);
  // words: maximal runs of non-whitespace bytes
  int64_t words = 0;
  bool in_word = false;
  for (char c : text) {
    bool space = c == ' ' || c == '\n' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
    if (!space && !in_word) ++words;
    in_word = !space;
  }
  std::unordered_set<int32_t> used(ids.begin(), ids.end());
  const double n = static_cast<double>(ids.size());
  std::printf("file:           %s\n", opt.input.c_str());
  std::printf("bytes:          %zu\n", text.size());
  std::printf("tokens:         %zu\n", ids.size());
  std::printf("bytes/token:    %.3f\n", static_cast<double>(text.size()) / n);
  std::printf("tokens/word:    %.3f (%lld whitespace-separated words)\n", words ? n / static_cast<double>(words) : 0.0,
              static_cast<long long>(words));
  std::printf("ids used:       %zu / %d (%.1f%% of the vocabulary)\n", used.size(), tok.n_vocab(),
              100.0 * static_cast<double>(used.size()) / tok.n_vocab());
}

}  // namespace sog
