// Token shards in llm.c's format (dev/data/data_common.py, train_gpt2.c's dataloader):
//
//   bytes 0..1023     header: 256 × int32, little-endian
//                       [0] magic   20240520
//                       [1] version 1            (uint16 tokens)
//                       [2] token count N
//                       [3..255] zero
//   bytes 1024..      N × uint16 token ids, little-endian
//
// uint16 tokens hold any vocabulary up to 65536 ids (GPT-2's 50257 fits). A shard written here
// loads in llm.c and llm.c's shards load here.
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "common/io/binary_header.h"

namespace sog {

constexpr int32_t kShardMagic = file_magic::token_shard;
constexpr int32_t kShardVersion = 1;
constexpr int kShardHeaderInts = 256;
inline constexpr BinaryFormat kShardFormat = {"llm.c token shard", "shard", kShardMagic, kShardVersion, kShardVersion,
                                              kShardHeaderInts, "this loader reads version 1 (uint16 tokens); llm.c's version 2 holds uint32 tokens for vocabularies over 65536"};

// Writes atomically (temporary file + rename). Throws, naming the file and the position, for an
// id that does not fit uint16 (< 0 or ≥ 65536).
void write_shard(const std::string& path, std::span<const int32_t> tokens);
// Reads and checks the header. Throws, naming the file and saying what was expected and what was
// found, for a wrong magic, an unknown version, a short header, or a body whose length is not the
// token count the header promises.
std::vector<uint16_t> read_shard(const std::string& path);
// The token count of a shard from its header alone (checked like read_shard's header).
int64_t shard_token_count(const std::string& path);

}  // namespace sog
