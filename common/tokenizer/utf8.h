// UTF-8 helpers for tokens, which are bytes and need not be valid UTF-8 on their own (GPT-2 splits
// "é" = C3 A9 into two tokens when it has to).
#pragma once
#include <string>
#include <string_view>

namespace sog {

// Python's bytes.decode("utf-8", errors="replace"): each maximal ill-formed subpart becomes one
// U+FFFD (the Unicode standard's recommended practice).
//   "a\xe2\x82" -> "a\ufffd"      "\xf0\x80\x80" -> "\ufffd\ufffd\ufffd"      "\xed\xa0\x80" -> 3 x U+FFFD
std::string utf8_replace_invalid(std::string_view bytes);

// A token rendered printable (vocab.txt, tables): valid UTF-8 as is, control and other C* characters
// as \u00XX (as minbpe does), bytes that are not UTF-8 as \xNN.      "\n hi\xe2" -> "\u000a hi\xe2"
std::string render_token(std::string_view bytes);

// Text decoded token by token, for printing as it is generated. A character may span several
// byte-level tokens, and printing its first bytes alone would show U+FFFD: push() returns what is
// whole so far and holds back the bytes of an unfinished last character; finish() returns the rest
// (a character cut off for good as U+FFFD). Returned text is valid UTF-8.
//   push("a\xc3") -> "a"     push("\xa9b") -> "\xc3\xa9b" ("éb")     push("\xe2") finish() -> "\ufffd"
class Utf8Stream {
 public:
  std::string push(std::string_view bytes);
  std::string finish();

 private:
  std::string pending_;
};

}  // namespace sog
