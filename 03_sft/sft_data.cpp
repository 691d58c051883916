// 03_sft's data: conversations, and pretraining rows to mix in (sft_data.h).
#include "03_sft/sft_data.h"

#include <algorithm>
#include <stdexcept>

#include "common/world/render.h"
#include "common/world/world.h"

namespace sog {

using json = nlohmann::json;

SftData load_sft_data(const std::string& data_path, const std::string& val_path, uint64_t world_seed,
                      bool skip_bad_lines) {
  SftData d;
  if (data_path.empty()) {
    WorldConfig wc;
    wc.seed = world_seed;
    World world = generate_world(wc);
    for (const auto& c : world.sft_train) d.train.push_back(parse_conversation(json::parse(sft_row(c).dump())));
    for (const auto& c : world.sft_val) d.val.push_back(parse_conversation(json::parse(sft_row(c).dump())));
    d.train_name = "the world's sft_train (seed " + std::to_string(world_seed) + ")";
    d.val_name = "the world's sft_val";
  } else {
    ConversationFile f = read_conversations(data_path, skip_bad_lines);
    for (const auto& reason : f.skipped_reasons) std::fprintf(stderr, "skipped %s\n", reason.c_str());
    d.skipped_lines = f.skipped_lines;
    d.train = std::move(f.conversations);
    d.train_name = data_path;
    if (!val_path.empty()) {
      ConversationFile v = read_conversations(val_path, skip_bad_lines);
      d.skipped_lines += v.skipped_lines;
      d.val = std::move(v.conversations);
      d.val_name = val_path;
    } else if (d.train.size() >= 2) {  // hold out the last 5% (at least one, at most 200)
      size_t n = std::clamp<size_t>(d.train.size() / 20, 1, 200);
      d.val.assign(d.train.end() - n, d.train.end());
      d.train.resize(d.train.size() - n);
      d.val_name = "the last " + std::to_string(n) + " conversations of " + data_path;
    }
  }
  return d;
}

PretrainingMix::PretrainingMix(const std::string& dir, const Tokenizer& tok, const std::string& tokenizer_dir,
                               int64_t rows, int64_t T, uint64_t seed, float weight)
    : data_(std::make_unique<TokenDataset>(TokenDataset::load(dir))), weight_(weight) {
  if (rows <= 0) throw std::invalid_argument("--mix-rows must be at least 1 with --mix-data, got " + std::to_string(rows));
  if (!(weight > 0.0f)) throw std::invalid_argument("--mix-weight must be positive, got " + std::to_string(weight));
  data_->require_vocab(tok.n_vocab(), tokenizer_dir);
  loader_ = std::make_unique<BatchLoader>(*data_, rows, T, seed);
}

json sft_data_position(const SftPosition& sft, const PretrainingMix* mix) {
  if (!mix) return sft;
  return {{"sft", sft}, {"mix", mix->state()}};
}

void restore_sft_data_position(const json& position, SftBatcher& sft, PretrainingMix* mix) {
  const bool mixed = position.contains("mix");
  if (mixed != (mix != nullptr)) {
    throw std::runtime_error(std::string("the run to resume was trained ") + (mixed ? "with" : "without") +
                             " pretraining rows mixed in (--mix-data); resume it " + (mixed ? "with" : "without") +
                             " them");
  }
  if (!mix) {
    sft.restore(position.get<SftPosition>());
    return;
  }
  sft.restore(position.at("sft").get<SftPosition>());
  mix->restore(position.at("mix").get<LoaderState>());
}

}  // namespace sog
