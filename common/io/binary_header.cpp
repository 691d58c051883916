#include "common/io/binary_header.h"

#include <bit>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>

namespace sog {

static_assert(std::endian::native == std::endian::little,
              "binary headers are little-endian int32 (llm.c's); this code assumes a little-endian host");

std::string describe_magic(int32_t magic) {
  switch (magic) {
    case file_magic::gpt_checkpoint: return "an llm.c GPT-2 model checkpoint";
    case file_magic::token_shard: return "an llm.c token shard";
    case file_magic::lora_adapter: return "a LoRA adapter";
    case file_magic::scalar_head: return "a scalar head (head.bin)";
    case file_magic::train_state: return "a training state (state.bin)";
    case file_magic::vector_index: return "a vector index (common/retrieval)";
    default: return "";
  }
}

// "a LoRA adapter", "an llm.c GPT-2 model checkpoint"
static std::string with_article(const char* name) {
  return (std::strchr("aeiouAEIOU", name[0]) ? "an " : "a ") + std::string(name);
}

BinaryHeader::BinaryHeader(const BinaryFormat& format) : words_(static_cast<size_t>(format.header_ints), 0) {
  words_[0] = format.magic;
  words_[1] = format.version;
}

void BinaryHeader::write(AtomicFile& f) const { f.write(words_.data(), bytes()); }

BinaryReader::BinaryReader(const std::string& path, const BinaryFormat& format)
    : path_(path), in_(path, std::ios::binary), header_(std::vector<int32_t>()) {
  if (!in_) {
    throw std::runtime_error(path + ": cannot open " + format.name + " (" + std::strerror(errno) + ")");
  }
  std::vector<int32_t> h(static_cast<size_t>(format.header_ints), 0);
  const auto bytes = static_cast<std::streamsize>(h.size() * sizeof(int32_t));
  in_.read(reinterpret_cast<char*>(h.data()), bytes);
  if (in_.gcount() != bytes) {
    throw std::runtime_error(path + ": truncated " + format.short_name + " header: expected " +
                             std::to_string(bytes) + " bytes, found " + std::to_string(in_.gcount()) + " bytes (the header is " +
                             std::to_string(format.header_ints) + " int32)");
  }
  if (h[0] != format.magic) {
    const std::string other = describe_magic(h[0]);
    throw std::runtime_error(path + ": bad magic number: expected " + std::to_string(format.magic) + " (" +
                             with_article(format.name) + "), found " + std::to_string(h[0]) +
                             (other.empty() ? " (not a file of this project?)"
                                            : " — this is " + other + ", not " + with_article(format.name)));
  }
  if (h[1] < format.oldest_readable || h[1] > format.version) {
    const std::string expected = format.oldest_readable == format.version
                                     ? std::to_string(format.version)
                                     : std::to_string(format.oldest_readable) + " to " + std::to_string(format.version);
    throw std::runtime_error(path + ": unsupported " + format.short_name + " version: expected " + expected +
                             ", found " + std::to_string(h[1]) +
                             (format.version_hint[0] ? std::string(" — ") + format.version_hint : ""));
  }
  header_ = BinaryHeader(std::move(h));
}

void BinaryReader::require_size(uint64_t expected_bytes, const std::string& expected_what) const {
  const uint64_t found = std::filesystem::file_size(path_);
  if (found == expected_bytes) return;
  fail("wrong size: expected " + expected_what + " (" + std::to_string(expected_bytes) + " bytes in all), found " +
       std::to_string(found) + " bytes " +
       (found < expected_bytes ? std::string("(truncated?)")
                               : "(" + std::to_string(found - expected_bytes) + " trailing bytes)"));
}

void BinaryReader::read(void* dst, size_t bytes, const std::string& what) {
  in_.read(static_cast<char*>(dst), static_cast<std::streamsize>(bytes));
  if (in_.gcount() != static_cast<std::streamsize>(bytes)) {
    fail("read failed in " + what + ": expected " + std::to_string(bytes) + " bytes, found " +
         std::to_string(in_.gcount()));
  }
}

void BinaryReader::fail(const std::string& message) const { throw std::runtime_error(path_ + ": " + message); }

}  // namespace sog
