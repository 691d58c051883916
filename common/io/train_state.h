// The training state beside a run's weights, so that `--resume` continues a run exactly: the
// resumed run's losses equal the uninterrupted run's. It holds what the weights files do not: the
// step, every named RNG stream, the data position, and — for each parameter set that trains (one
// for pretraining, a policy and a value model for PPO, a backbone and a head for a reward model) —
// its AdamW moments and step count. The weights themselves are in their own files beside it
// (model.bin, adapter.bin, head.bin).
//
// This is the generic container: it knows no model and no data loader. The data position is JSON
// that the trainer's loader writes and reads (LoaderState, SftPosition: nlohmann's to_json /
// from_json beside them), and a parameter set is a name and an optimizer.
//
// Every byte (version 2), little-endian:
//   int32[256] header:  [0] magic 0x54534753 (the bytes "SGST")   [1] version 2
//                       [2] length of the JSON in bytes   [3] number of parameter sets   [4..255] zero
//   JSON  {"step": int, "best_val_loss": number | null (none yet),
//          "rngs": {"<name>": [4 × u64 as decimal strings], …},
//          "data": the data position (the loader's JSON),
//          "sets": [{"name": str, "numel": int, "adam_steps": int}, …]}
//   then for each set, in the order of "sets":  float32[numel] AdamW m,  float32[numel] AdamW v
//
// Written atomically. Loading checks the header (common/io/binary_header.h), that the file is
// exactly as long as the sets say, and, when a set is restored, its name and size. Version 1 (one
// parameter set, the file starting with "SOGSTATE") is recognised and refused with a hint.
#pragma once
#include <array>
#include <cmath>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/io/binary_header.h"
#include "common/optim/adamw.h"
#include "common/tensor/random.h"
#include "common/tensor/tensor.h"

namespace sog {

inline constexpr int32_t kTrainStateVersion = 2;
inline constexpr BinaryFormat kTrainStateFormat = {
    "training state", "training-state", file_magic::train_state, kTrainStateVersion, kTrainStateVersion, 256,
    "finish the run with the program that wrote it, or start a new run from its weights"};

// One parameter set's optimizer state.
struct ParamSetState {
  std::string name;        // "gpt", "lora", "head", "policy", "value", …
  int64_t adam_steps = 0;  // AdamW's t
  Tensor adam_m, adam_v;   // (numel) each
};

struct TrainState {
  int64_t step = 0;                                     // optimizer steps taken by the run
  double best_val_loss = INFINITY;                      // INFINITY: none yet
  std::map<std::string, std::array<uint64_t, 4>> rngs;  // named RNG streams ("dropout", …)
  nlohmann::json data;                                  // the data position, as the loader writes it
  std::vector<ParamSetState> sets;
  std::string path;  // the file it was loaded from (for errors); empty for a state being built

  // Saving: a set's moments and step count (shared with `opt`, not copied), an RNG's state.
  void add_set(const std::string& name, AdamW& opt);
  void add_rng(const std::string& name, const Rng& rng) { rngs[name] = rng.state(); }
  // Restoring: the named set into `opt` (its moments and step count), the named RNG stream. Each
  // throws std::runtime_error naming the file, the set or stream, and what it holds, when the name
  // is absent or the set's size is not the optimizer's.
  void restore_set(const std::string& name, AdamW& opt) const;
  void restore_rng(const std::string& name, Rng& rng) const;
  const ParamSetState& set(const std::string& name) const;
  // The data position as the loader's type (nlohmann's from_json), errors naming the file.
  template <class T>
  T data_position() const {
    try {
      return data.get<T>();
    } catch (const std::exception& e) {
      throw std::runtime_error(path + ": bad data position in the training state: " + e.what());
    }
  }
};

void save_train_state(const std::string& path, const TrainState& state);
TrainState load_train_state(const std::string& path);

// RNG states (and other u64 words) in JSON as decimal strings: JSON numbers are doubles in most
// readers, which would round them.
nlohmann::json u64_words_to_json(const std::array<uint64_t, 4>& words);
std::array<uint64_t, 4> u64_words_from_json(const nlohmann::json& a);

}  // namespace sog
