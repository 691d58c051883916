// GPT-2's printable byte alphabet (bytes_to_unicode), in which OpenAI's encoder.json / vocab.bpe and
// Hugging Face's vocab.json / merges.txt / tokenizer.json spell every token: the 188 printable,
// non-space Latin-1 bytes ('!'..'~', '¡'..'¬', '®'..'ÿ') stand for themselves, the other 68 bytes
// become U+0100, U+0101, ... in byte order (so ' ' = 'Ġ' U+0120, '\n' = 'Ċ' U+010A).
//
//   " the"   <-> "Ġthe"          "\n\n" <-> "ĊĊ"          "é" (C3 A9) <-> "Ã©"
#pragma once
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sog {

// The 256 bytes in the alphabet's order: the printable ones, then the rest (GPT-2's first 256 ranks).
const std::array<uint8_t, 256>& byte_alphabet_order();
// Token bytes → their spelling in the alphabet (UTF-8).
std::string bytes_to_alphabet(std::string_view bytes);
// The alphabet's spelling → the bytes; nullopt when a character is outside the alphabet (or the
// UTF-8 is broken).
std::optional<std::string> alphabet_to_bytes(std::string_view token);

}  // namespace sog
