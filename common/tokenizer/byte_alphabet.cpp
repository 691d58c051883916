#include "common/tokenizer/byte_alphabet.h"

namespace sog {
namespace {

struct ByteAlphabet {
  std::array<uint8_t, 256> order{};
  std::array<uint16_t, 256> byte_to_codepoint{};
  std::array<int16_t, 324> codepoint_to_byte{};  // -1: not in the alphabet
  ByteAlphabet() {
    codepoint_to_byte.fill(-1);
    auto printable = [](int b) { return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF); };
    int r = 0, extra = 0;
    for (int b = 0; b < 256; ++b) {
      if (printable(b)) {
        order[r++] = static_cast<uint8_t>(b);
        byte_to_codepoint[b] = static_cast<uint16_t>(b);
      }
    }
    for (int b = 0; b < 256; ++b) {
      if (!printable(b)) {
        order[r++] = static_cast<uint8_t>(b);
        byte_to_codepoint[b] = static_cast<uint16_t>(256 + extra++);
      }
    }
    for (int b = 0; b < 256; ++b) codepoint_to_byte[byte_to_codepoint[b]] = static_cast<int16_t>(b);
  }
};

const ByteAlphabet& alphabet() {
  static const ByteAlphabet a;
  return a;
}

}  // namespace

const std::array<uint8_t, 256>& byte_alphabet_order() { return alphabet().order; }

std::string bytes_to_alphabet(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char c : bytes) {
    const uint16_t cp = alphabet().byte_to_codepoint[static_cast<uint8_t>(c)];
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else {  // all of the alphabet is below U+0800: two UTF-8 bytes
      out += static_cast<char>(0xC0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }
  return out;
}

std::optional<std::string> alphabet_to_bytes(std::string_view token) {
  const ByteAlphabet& a = alphabet();
  std::string out;
  for (size_t i = 0; i < token.size();) {
    const auto b0 = static_cast<uint8_t>(token[i]);
    uint32_t cp;
    if (b0 < 0x80) {
      cp = b0;
      i += 1;
    } else if ((b0 & 0xE0) == 0xC0 && i + 1 < token.size() && (static_cast<uint8_t>(token[i + 1]) & 0xC0) == 0x80) {
      cp = ((b0 & 0x1Fu) << 6) | (static_cast<uint8_t>(token[i + 1]) & 0x3Fu);
      i += 2;
    } else {
      return std::nullopt;  // all of the alphabet is below U+0800
    }
    if (cp >= a.codepoint_to_byte.size() || a.codepoint_to_byte[cp] < 0) return std::nullopt;
    out += static_cast<char>(a.codepoint_to_byte[cp]);
  }
  return out;
}

}  // namespace sog
