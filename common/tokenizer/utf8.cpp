#include "common/tokenizer/utf8.h"

#include <utf8proc.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>

namespace sog {
namespace {

// The length of the valid UTF-8 sequence at s[i], or 0 when invalid; *subpart gets the length of the
// maximal ill-formed subpart (at least 1) in that case.
size_t valid_sequence(std::string_view s, size_t i, size_t* subpart) {
  const auto at = [&](size_t k) { return static_cast<uint8_t>(s[k]); };
  const uint8_t b0 = at(i);
  *subpart = 1;
  if (b0 < 0x80) return 1;
  size_t len;
  uint8_t lo = 0x80, hi = 0xBF;  // the allowed range of the second byte
  if (b0 >= 0xC2 && b0 <= 0xDF) len = 2;
  else if (b0 >= 0xE0 && b0 <= 0xEF) {
    len = 3;
    if (b0 == 0xE0) lo = 0xA0;
    if (b0 == 0xED) hi = 0x9F;  // no surrogates
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    len = 4;
    if (b0 == 0xF0) lo = 0x90;
    if (b0 == 0xF4) hi = 0x8F;  // nothing above U+10FFFF
  } else {
    return 0;
  }
  for (size_t k = 1; k < len; ++k) {
    const bool ok = i + k < s.size() && at(i + k) >= (k == 1 ? lo : 0x80) && at(i + k) <= (k == 1 ? hi : 0xBF);
    if (!ok) {
      *subpart = k;
      return 0;
    }
  }
  return len;
}

}  // namespace

std::string utf8_replace_invalid(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  for (size_t i = 0; i < bytes.size();) {
    size_t subpart;
    const size_t len = valid_sequence(bytes, i, &subpart);
    if (len > 0) {
      out.append(bytes.substr(i, len));
      i += len;
    } else {
      out += "\xEF\xBF\xBD";  // U+FFFD
      i += subpart;
    }
  }
  return out;
}

std::string render_token(std::string_view bytes) {
  std::string out;
  char buf[16];
  for (size_t i = 0; i < bytes.size();) {
    size_t subpart;
    const size_t len = valid_sequence(bytes, i, &subpart);
    if (len == 0) {
      std::snprintf(buf, sizeof buf, "\\x%02x", static_cast<uint8_t>(bytes[i]));
      out += buf;
      ++i;
      continue;
    }
    utf8proc_int32_t cp;
    utf8proc_iterate(reinterpret_cast<const utf8proc_uint8_t*>(bytes.data() + i), static_cast<utf8proc_ssize_t>(len), &cp);
    const auto cat = utf8proc_category(cp);
    const bool control = cat == UTF8PROC_CATEGORY_CC || cat == UTF8PROC_CATEGORY_CF || cat == UTF8PROC_CATEGORY_CS ||
                         cat == UTF8PROC_CATEGORY_CO || cat == UTF8PROC_CATEGORY_CN;
    if (control) {
      std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(cp));
      out += buf;
    } else {
      out.append(bytes.substr(i, len));
    }
    i += len;
  }
  return out;
}

std::string Utf8Stream::push(std::string_view bytes) {
  pending_ += bytes;
  // Hold back the last character when its lead byte promises more bytes than have come.
  size_t whole = pending_.size();
  for (size_t back = 1; back <= std::min<size_t>(3, pending_.size()); ++back) {
    const auto c = static_cast<uint8_t>(pending_[pending_.size() - back]);
    if ((c & 0xC0) == 0x80) continue;  // a continuation byte: look further back
    const size_t need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
    if (need > back) whole = pending_.size() - back;
    break;
  }
  std::string out = utf8_replace_invalid(std::string_view(pending_).substr(0, whole));
  pending_.erase(0, whole);
  return out;
}

std::string Utf8Stream::finish() {
  std::string out = utf8_replace_invalid(pending_);
  pending_.clear();
  return out;
}

}  // namespace sog
