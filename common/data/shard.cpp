#include "common/data/shard.h"

#include <array>
#include <bit>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>

#include "common/io/atomic_file.h"

namespace sog {

static_assert(std::endian::native == std::endian::little, "shards are little-endian; this code assumes a little-endian host");

void write_shard(const std::string& path, std::span<const int32_t> tokens) {
  std::vector<uint16_t> body(tokens.size());
  for (size_t i = 0; i < tokens.size(); ++i) {
    int32_t id = tokens[i];
    if (id < 0 || id > 65535) {
      throw std::invalid_argument(path + ": token id " + std::to_string(id) + " at position " + std::to_string(i) +
                                  " does not fit a uint16 shard (expected 0 <= id < 65536)");
    }
    body[i] = static_cast<uint16_t>(id);
  }
  if (tokens.size() > static_cast<size_t>(INT32_MAX)) {
    throw std::invalid_argument(path + ": " + std::to_string(tokens.size()) + " tokens do not fit the int32 count of a shard header");
  }
  std::array<int32_t, kShardHeaderInts> header{};
  header[0] = kShardMagic;
  header[1] = kShardVersion;
  header[2] = static_cast<int32_t>(tokens.size());
  AtomicFile f(path);
  f.write(header.data(), sizeof(header));
  f.write(body.data(), body.size() * sizeof(uint16_t));
  f.commit();
}

namespace {

// Reads and checks the header; returns the token count.
int64_t read_header(std::ifstream& in, const std::string& path) {
  std::array<int32_t, kShardHeaderInts> header{};
  in.read(reinterpret_cast<char*>(header.data()), sizeof(header));
  if (in.gcount() != static_cast<std::streamsize>(sizeof(header))) {
    throw std::runtime_error(path + ": truncated shard header: expected " + std::to_string(sizeof(header)) +
                             " bytes, found " + std::to_string(in.gcount()));
  }
  if (header[0] != kShardMagic) {
    throw std::runtime_error(path + ": bad shard magic: expected " + std::to_string(kShardMagic) + ", found " +
                             std::to_string(header[0]) + " (not an llm.c token shard?)");
  }
  if (header[1] != kShardVersion) {
    throw std::runtime_error(path + ": unsupported shard version: expected " + std::to_string(kShardVersion) +
                             " (uint16 tokens), found " + std::to_string(header[1]));
  }
  if (header[2] < 0) {
    throw std::runtime_error(path + ": bad shard token count: expected >= 0, found " + std::to_string(header[2]));
  }
  return header[2];
}

}  // namespace

std::vector<uint16_t> read_shard(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(path + ": cannot open shard (" + std::strerror(errno) + ")");
  const int64_t n = read_header(in, path);
  const auto file_bytes = static_cast<int64_t>(std::filesystem::file_size(path));
  const int64_t expected_bytes = kShardHeaderInts * 4 + 2 * n;
  if (file_bytes != expected_bytes) {
    throw std::runtime_error(path + ": shard body does not match its header: expected " + std::to_string(n) +
                             " tokens (" + std::to_string(expected_bytes) + " bytes in all), found " +
                             std::to_string(file_bytes) + " bytes (" +
                             (file_bytes < expected_bytes ? "truncated" : "trailing bytes") + ")");
  }
  std::vector<uint16_t> tokens(static_cast<size_t>(n));
  in.read(reinterpret_cast<char*>(tokens.data()), static_cast<std::streamsize>(n * 2));
  if (in.gcount() != n * 2) throw std::runtime_error(path + ": read error in the shard body");
  return tokens;
}

int64_t shard_token_count(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(path + ": cannot open shard (" + std::strerror(errno) + ")");
  return read_header(in, path);
}

}  // namespace sog
