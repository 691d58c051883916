// Shards of a small text, written with the library's own writers, for tests that train on them.
#pragma once
#include <filesystem>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <vector>

#include "common/data/shard.h"
#include "common/io/atomic_file.h"
#include "common/tokenizer/tokenizer.h"

namespace sog::testing {

// DIR/meta.json and DIR/text/{train,val}_000000.bin: `text` encoded with <|endoftext|> in front,
// the first 90% for training and the rest for validation, one source named "text" of weight 1.
inline void write_text_shards(const std::filesystem::path& dir, const Tokenizer& tok, const std::string& text) {
  std::vector<int32_t> ids = tok.encode(text);
  ids.insert(ids.begin(), tok.eot_id());
  const size_t n_train = ids.size() * 9 / 10;
  std::filesystem::create_directories(dir / "text");
  write_shard((dir / "text/train_000000.bin").string(), std::span<const int32_t>(ids.data(), n_train));
  write_shard((dir / "text/val_000000.bin").string(),
              std::span<const int32_t>(ids.data() + n_train, ids.size() - n_train));
  nlohmann::json meta = {{"n_vocab", tok.n_vocab()},
                         {"sources", {{{"name", "text"}, {"weight", 1.0}, {"train_shards", 1}, {"val_shards", 1}}}}};
  write_file_atomic((dir / "meta.json").string(), meta.dump());
}

}  // namespace sog::testing
