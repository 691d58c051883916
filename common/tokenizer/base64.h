// Standard base64 (RFC 4648 alphabet A-Z a-z 0-9 + /, '=' padding), as tiktoken's rank files use it:
//   " the" -> "IHRoZQ=="
#pragma once
#include <optional>
#include <string>
#include <string_view>

namespace sog {

std::string base64_encode(std::string_view bytes);
// The decoded bytes, or nullopt when `text` is not canonical padded base64 (bad character, length not
// a multiple of 4, misplaced '=', non-zero bits in the padding).
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace sog
