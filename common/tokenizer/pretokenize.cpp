// The hand-written matcher for the two split patterns (see pretokenize.h for the regexes).
//
// At each position the alternatives are tried in the regex's order; the first that matches gives the
// chunk, as in a backtracking engine's findall. Two alternatives need care:
//   \s+(?!\S)   greedy whitespace that may not be followed by a non-space: a run of k whitespace
//               characters before a word gives k-1 of them here, and the last one is left to
//               start the next chunk (" ?\p{L}+" takes it when it is a space): "a   b" -> "a" "  " " b".
//               At the end of the text the whole run matches.
//   \s*[\r\n]   (gpt4) backtracks to the last \r or \n of the whitespace run: " \n\n  x" -> " \n\n" ...
// Everything works on UTF-8 characters: a run of whitespace gives back its last *character*.
#include "common/tokenizer/pretokenize.h"

#include <utf8proc.h>

#include <array>
#include <stdexcept>
#include <string>

namespace sog {
namespace {

constexpr std::string_view kGpt2Regex =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
constexpr std::string_view kGpt4Regex =
    R"('(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]++[\r\n]*|\s*[\r\n]|\s+(?!\S)|\s+)";

// The four classes the patterns distinguish. kOther = not \p{L}, not \p{N}, not \s (punctuation,
// symbols, marks, emoji, controls, and every byte that is not valid UTF-8).
enum CharClass : uint8_t { kLetter, kNumber, kSpace, kOther };

struct Char {
  uint32_t len;    // bytes, 1..4
  CharClass cls;
};

bool is_white_space(uint32_t cp) {
  switch (cp) {
    case 0x09: case 0x0A: case 0x0B: case 0x0C: case 0x0D: case 0x20:
    case 0x85: case 0xA0: case 0x1680: case 0x2028: case 0x2029: case 0x202F: case 0x205F: case 0x3000:
      return true;
    default:
      return cp >= 0x2000 && cp <= 0x200A;
  }
}

CharClass classify_slow(uint32_t cp) {
  if (is_white_space(cp)) return kSpace;
  switch (utf8proc_category(static_cast<utf8proc_int32_t>(cp))) {
    case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL: case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM: case UTF8PROC_CATEGORY_LO:
      return kLetter;
    case UTF8PROC_CATEGORY_ND: case UTF8PROC_CATEGORY_NL: case UTF8PROC_CATEGORY_NO:
      return kNumber;
    default:
      return kOther;
  }
}

// The class of every code point of the Basic Multilingual Plane, computed once (64 KiB).
const std::array<CharClass, 0x10000>& bmp_classes() {
  static const std::array<CharClass, 0x10000> table = [] {
    std::array<CharClass, 0x10000> t{};
    for (uint32_t cp = 0; cp < 0x10000; ++cp) t[cp] = classify_slow(cp);
    return t;
  }();
  return table;
}

// Reads one character at s[i] (i < n), strictly: overlong forms, surrogates and code points above
// U+10FFFF are invalid, and an invalid byte is one kOther character of length 1.
inline Char char_at(const uint8_t* s, size_t n, size_t i, const std::array<CharClass, 0x10000>& bmp) {
  const uint8_t b0 = s[i];
  if (b0 < 0x80) return {1, bmp[b0]};
  auto cont = [&](size_t k, uint8_t lo, uint8_t hi) { return i + k < n && s[i + k] >= lo && s[i + k] <= hi; };
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    if (cont(1, 0x80, 0xBF)) return {2, bmp[((b0 & 0x1Fu) << 6) | (s[i + 1] & 0x3Fu)]};
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    const uint8_t lo = b0 == 0xE0 ? 0xA0 : 0x80, hi = b0 == 0xED ? 0x9F : 0xBF;
    if (cont(1, lo, hi) && cont(2, 0x80, 0xBF)) {
      return {3, bmp[((b0 & 0x0Fu) << 12) | ((s[i + 1] & 0x3Fu) << 6) | (s[i + 2] & 0x3Fu)]};
    }
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    const uint8_t lo = b0 == 0xF0 ? 0x90 : 0x80, hi = b0 == 0xF4 ? 0x8F : 0xBF;
    if (cont(1, lo, hi) && cont(2, 0x80, 0xBF) && cont(3, 0x80, 0xBF)) {
      const uint32_t cp = ((b0 & 0x07u) << 18) | ((s[i + 1] & 0x3Fu) << 12) | ((s[i + 2] & 0x3Fu) << 6) |
                          (s[i + 3] & 0x3Fu);
      return {4, classify_slow(cp)};
    }
  }
  return {1, kOther};
}

struct Matcher {
  const uint8_t* s;
  size_t n;
  const std::array<CharClass, 0x10000>& bmp;

  Char at(size_t i) const { return char_at(s, n, i, bmp); }
  bool is_newline(size_t i) const { return s[i] == '\r' || s[i] == '\n'; }

  // End of the run of characters of class cls that starts at i.
  size_t run_end(size_t i, CharClass cls) const {
    while (i < n) {
      const Char c = at(i);
      if (c.cls != cls) break;
      i += c.len;
    }
    return i;
  }

  // For a whitespace character at i: the run's end, the start of its last character, and the end of
  // its last \r or \n (0 when it has none).
  struct SpaceRun {
    size_t end, last_start, newline_end;
  };
  SpaceRun space_run(size_t i) const {
    SpaceRun r{i, i, 0};
    while (r.end < n) {
      const Char c = at(r.end);
      if (c.cls != kSpace) break;
      if (is_newline(r.end)) r.newline_end = r.end + 1;
      r.last_start = r.end;
      r.end += c.len;
    }
    return r;
  }

  // \s+(?!\S) then \s+ : the whole run at the end of the text, all but its last character before
  // a non-space, or the single character when the run has only one.
  static size_t space_tail(size_t i, const SpaceRun& r, size_t n) {
    if (r.end == n) return r.end - i;
    if (r.last_start > i) return r.last_start - i;
    return r.end - i;
  }

  // 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
  size_t gpt2(size_t i) const {
    if (s[i] == '\'' && i + 1 < n) {
      const uint8_t c = s[i + 1];
      if (c == 's' || c == 't' || c == 'm' || c == 'd') return 2;
      if (i + 2 < n) {
        const uint8_t d = s[i + 2];
        if ((c == 'r' && d == 'e') || (c == 'v' && d == 'e') || (c == 'l' && d == 'l')) return 3;
      }
    }
    const Char c0 = at(i);
    if (s[i] == ' ' && i + 1 < n) {  // ' ?' then a letter, number or other run
      const Char c1 = at(i + 1);
      if (c1.cls != kSpace) return run_end(i + 1, c1.cls) - i;
    }
    if (c0.cls != kSpace) return run_end(i, c0.cls) - i;
    return space_tail(i, space_run(i), n);
  }

  // '(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]++[\r\n]*|\s*[\r\n]|\s+(?!\S)|\s+
  size_t gpt4(size_t i) const {
    if (s[i] == '\'' && i + 1 < n) {
      const uint8_t c = s[i + 1] | 0x20;  // ASCII lower case (only 'A'-'Z' map onto letters)
      if (c == 's' || c == 'd' || c == 'm' || c == 't') return 2;
      if (s[i + 1] == 0xC5 && i + 2 < n && s[i + 2] == 0xBF) return 3;  // U+017F 'ſ' case-folds to 's'
      if (i + 2 < n) {
        const uint8_t d = s[i + 2] | 0x20;
        if ((c == 'l' && d == 'l') || (c == 'v' && d == 'e') || (c == 'r' && d == 'e')) return 3;
      }
    }
    const Char c0 = at(i);
    if (c0.cls == kLetter) return run_end(i, kLetter) - i;
    if (c0.cls != kNumber && !is_newline(i) && i + c0.len < n && at(i + c0.len).cls == kLetter) {
      return run_end(i + c0.len, kLetter) - i;  // one leading non-letter, e.g. " hello", "(hello"
    }
    if (c0.cls == kNumber) {  // \p{N}{1,3}
      size_t j = i;
      for (int k = 0; k < 3 && j < n; ++k) {
        const Char c = at(j);
        if (c.cls != kNumber) break;
        j += c.len;
      }
      return j - i;
    }
    size_t other_start = n;
    if (c0.cls == kOther) other_start = i;
    else if (s[i] == ' ' && i + 1 < n && at(i + 1).cls == kOther) other_start = i + 1;
    if (other_start != n) {  // ' ?[^\s\p{L}\p{N}]++[\r\n]*'
      size_t j = run_end(other_start, kOther);
      while (j < n && is_newline(j)) ++j;
      return j - i;
    }
    const SpaceRun r = space_run(i);
    if (r.newline_end != 0) return r.newline_end - i;  // \s*[\r\n]
    return space_tail(i, r, n);
  }
};

}  // namespace

std::string_view split_pattern_regex(SplitPattern p) { return p == SplitPattern::gpt2 ? kGpt2Regex : kGpt4Regex; }

SplitPattern parse_split_pattern(std::string_view name) {
  if (name == "gpt2") return SplitPattern::gpt2;
  if (name == "gpt4") return SplitPattern::gpt4;
  throw std::invalid_argument("split pattern: expected \"gpt2\" or \"gpt4\", found \"" + std::string(name) + "\"");
}

std::string_view split_pattern_name(SplitPattern p) { return p == SplitPattern::gpt2 ? "gpt2" : "gpt4"; }

size_t pretoken_length(std::string_view text, size_t pos, SplitPattern p) {
  const Matcher m{reinterpret_cast<const uint8_t*>(text.data()), text.size(), bmp_classes()};
  return p == SplitPattern::gpt2 ? m.gpt2(pos) : m.gpt4(pos);
}

void pretokenize(std::string_view text, SplitPattern p, const std::function<void(std::string_view)>& emit) {
  const Matcher m{reinterpret_cast<const uint8_t*>(text.data()), text.size(), bmp_classes()};
  for (size_t i = 0; i < text.size();) {
    const size_t len = p == SplitPattern::gpt2 ? m.gpt2(i) : m.gpt4(i);
    emit(text.substr(i, len));
    i += len;
  }
}

std::vector<std::string_view> pretokenize(std::string_view text, SplitPattern p) {
  std::vector<std::string_view> chunks;
  pretokenize(text, p, [&](std::string_view c) { chunks.push_back(c); });
  return chunks;
}

bool is_safe_split_point(std::string_view text, size_t pos) {
  if (pos == 0 || pos >= text.size() || text[pos - 1] != '\n') return false;
  const auto* s = reinterpret_cast<const uint8_t*>(text.data());
  const size_t n = text.size();
  const auto& bmp = bmp_classes();
  if (char_at(s, n, pos, bmp).cls == kSpace) return false;
  // The character that ends just before the '\n'. A valid multi-byte character ending there is what
  // a forward scan sees too (its lead byte cannot belong to an earlier character); otherwise the
  // byte before the '\n' is a character of its own (ASCII or an invalid byte).
  const size_t nl = pos - 1;
  for (size_t len = 2; len <= 4; ++len) {
    if (nl >= len) {
      const Char c = char_at(s, n, nl - len, bmp);
      if (c.len == len) return c.cls != kSpace;
    }
  }
  return nl == 0 || char_at(s, n, nl - 1, bmp).cls != kSpace;
}

}  // namespace sog
