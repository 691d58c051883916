#include "common/io/train_state.h"

#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "common/io/atomic_file.h"

namespace sog {

using json = nlohmann::json;
static constexpr char kMagic[8] = {'S', 'O', 'G', 'S', 'T', 'A', 'T', 'E'};
static constexpr uint32_t kVersion = 1;

// u64 values go through JSON as decimal strings: JSON numbers are doubles in most readers.
static json words(const std::array<uint64_t, 4>& w) {
  json a = json::array();
  for (uint64_t x : w) a.push_back(std::to_string(x));
  return a;
}
static std::array<uint64_t, 4> words(const json& a) {
  std::array<uint64_t, 4> w{};
  for (size_t i = 0; i < 4; i++) w[i] = std::stoull(a.at(i).get<std::string>());
  return w;
}

void save_train_state(const std::string& path, const TrainState& s) {
  json meta = {{"step", s.step},
               {"num_params", s.adam_m.numel()},
               {"best_val_loss", std::isfinite(s.best_val_loss) ? json(s.best_val_loss) : json(nullptr)},
               {"loader", {{"rng", words(s.loader.rng)}, {"epoch", s.loader.epoch}, {"cursor", s.loader.cursor}}},
               {"dropout_rng", words(s.dropout_rng)}};
  std::string text = meta.dump();
  AtomicFile f(path);
  f.write(kMagic, sizeof(kMagic));
  uint32_t header[2] = {kVersion, static_cast<uint32_t>(text.size())};
  f.write(header, sizeof(header));
  f.write(text.data(), text.size());
  f.write(s.adam_m.raw_data(), s.adam_m.nbytes());
  f.write(s.adam_v.raw_data(), s.adam_v.nbytes());
  f.commit();
}

TrainState load_train_state(const std::string& path, int64_t num_params) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(path + ": cannot open training state (" + std::strerror(errno) + ")");
  char magic[8];
  uint32_t header[2] = {0, 0};
  in.read(magic, 8);
  in.read(reinterpret_cast<char*>(header), sizeof(header));
  if (!in || std::memcmp(magic, kMagic, 8) != 0) {
    throw std::runtime_error(path + ": not a training state file (expected the magic \"SOGSTATE\")");
  }
  if (header[0] != kVersion) {
    throw std::runtime_error(path + ": unsupported training state version: expected " + std::to_string(kVersion) +
                             ", found " + std::to_string(header[0]));
  }
  std::string text(header[1], '\0');
  in.read(text.data(), header[1]);
  TrainState s;
  try {
    json meta = json::parse(text);
    s.step = meta.at("step").get<int64_t>();
    int64_t n = meta.at("num_params").get<int64_t>();
    if (n != num_params) {
      throw std::runtime_error("it holds optimizer moments for " + std::to_string(n) +
                               " parameters, the model has " + std::to_string(num_params));
    }
    s.best_val_loss = meta.at("best_val_loss").is_null() ? INFINITY : meta.at("best_val_loss").get<double>();
    s.loader.rng = words(meta.at("loader").at("rng"));
    s.loader.epoch = meta.at("loader").at("epoch").get<std::vector<int64_t>>();
    s.loader.cursor = meta.at("loader").at("cursor").get<std::vector<int64_t>>();
    s.dropout_rng = words(meta.at("dropout_rng"));
  } catch (const std::exception& e) {
    throw std::runtime_error(path + ": bad training state: " + e.what());
  }
  s.adam_m = Tensor::empty({num_params});
  s.adam_v = Tensor::empty({num_params});
  in.read(static_cast<char*>(s.adam_m.raw_data()), static_cast<std::streamsize>(s.adam_m.nbytes()));
  in.read(static_cast<char*>(s.adam_v.raw_data()), static_cast<std::streamsize>(s.adam_v.nbytes()));
  if (!in) {
    throw std::runtime_error(path + ": truncated: expected " + std::to_string(2 * num_params) +
                             " float32 optimizer moments after the header");
  }
  return s;
}

}  // namespace sog
