#include "common/data/shard.h"

#include <cstdint>
#include <stdexcept>

#include "common/io/atomic_file.h"

namespace sog {

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
  BinaryHeader header(kShardFormat);
  header[2] = static_cast<int32_t>(tokens.size());
  AtomicFile f(path);
  header.write(f);
  f.write(body.data(), body.size() * sizeof(uint16_t));
  f.commit();
}

// The token count the header promises.
static int64_t token_count(const BinaryReader& r) {
  if (r[2] < 0) r.fail("bad shard token count: expected >= 0, found " + std::to_string(r[2]));
  return r[2];
}

std::vector<uint16_t> read_shard(const std::string& path) {
  BinaryReader r(path, kShardFormat);
  const int64_t n = token_count(r);
  r.require_size(r.header().bytes() + 2 * static_cast<uint64_t>(n), std::to_string(n) + " tokens");
  std::vector<uint16_t> tokens(static_cast<size_t>(n));
  r.read(tokens.data(), tokens.size() * sizeof(uint16_t), "the shard body");
  return tokens;
}

int64_t shard_token_count(const std::string& path) { return token_count(BinaryReader(path, kShardFormat)); }

}  // namespace sog
