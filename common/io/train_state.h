// The training state beside a checkpoint, so that `--resume` continues a run exactly: the resumed
// run's losses equal the uninterrupted run's. Every byte:
//
//   char[8]   magic "SOGSTATE"
//   uint32    version 1
//   uint32    length of the JSON that follows
//   JSON      {"step", "num_params", "best_val_loss", "loader": {"rng": [4 × u64 as strings],
//              "epoch": [...], "cursor": [...]}, "dropout_rng": [4 × u64 as strings]}
//   float32[num_params]  AdamW first moment m
//   float32[num_params]  AdamW second moment v
//
// Written atomically. The model's parameters are in model.bin (llm.c's format) beside it.
#pragma once
#include <array>
#include <cstdint>
#include <string>

#include "common/data/dataset.h"
#include "common/tensor/tensor.h"

namespace sog {

struct TrainState {
  int64_t step = 0;        // optimizer steps taken (= AdamW's t)
  Tensor adam_m, adam_v;   // (num_params) each
  LoaderState loader;
  std::array<uint64_t, 4> dropout_rng{};
  double best_val_loss = 0;
};

void save_train_state(const std::string& path, const TrainState& state);
// Checks the magic, the version and that the moments hold num_params values each.
TrainState load_train_state(const std::string& path, int64_t num_params);

}  // namespace sog
