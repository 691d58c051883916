#include "common/io/train_state.h"

#include <cstring>
#include <filesystem>
#include <fstream>

#include "common/io/atomic_file.h"

namespace sog {

using json = nlohmann::json;

json u64_words_to_json(const std::array<uint64_t, 4>& words) {
  json a = json::array();
  for (uint64_t x : words) a.push_back(std::to_string(x));
  return a;
}

std::array<uint64_t, 4> u64_words_from_json(const json& a) {
  if (!a.is_array() || a.size() != 4) throw std::invalid_argument("expected 4 words as decimal strings, found " + a.dump());
  std::array<uint64_t, 4> w{};
  for (size_t i = 0; i < 4; i++) w[i] = std::stoull(a.at(i).get<std::string>());
  return w;
}

// ---- the container -----------------------------------------------------------------------------

void TrainState::add_set(const std::string& name, AdamW& opt) {
  for (const ParamSetState& s : sets) {
    if (s.name == name) throw std::invalid_argument("TrainState::add_set: a set named '" + name + "' is already in it");
  }
  sets.push_back({name, opt.steps_taken(), opt.m(), opt.v()});
}

static std::string names_of(const TrainState& st) {
  std::string names;
  for (const ParamSetState& s : st.sets) names += (names.empty() ? "" : ", ") + s.name;
  return names.empty() ? "none" : names;
}

const ParamSetState& TrainState::set(const std::string& name) const {
  for (const ParamSetState& s : sets)
    if (s.name == name) return s;
  throw std::runtime_error(path + ": the training state has no parameter set '" + name + "' (it holds: " +
                           names_of(*this) + ") — resume with the settings of the run that wrote it");
}

void TrainState::restore_set(const std::string& name, AdamW& opt) const {
  const ParamSetState& s = set(name);
  if (s.adam_m.numel() != opt.m().numel()) {
    throw std::runtime_error(path + ": parameter set '" + name + "': expected optimizer moments for " +
                             std::to_string(opt.m().numel()) + " parameters, found " +
                             std::to_string(s.adam_m.numel()) + " — resume with the settings of the run that wrote it");
  }
  opt.m().copy_from(s.adam_m);
  opt.v().copy_from(s.adam_v);
  opt.set_steps_taken(s.adam_steps);
}

void TrainState::restore_rng(const std::string& name, Rng& rng) const {
  auto it = rngs.find(name);
  if (it == rngs.end()) {
    std::string names;
    for (const auto& [n, words] : rngs) names += (names.empty() ? "" : ", ") + n;
    throw std::runtime_error(path + ": the training state has no RNG stream '" + name + "' (it holds: " +
                             (names.empty() ? "none" : names) + ")");
  }
  rng.set_state(it->second);
}

// ---- the file ----------------------------------------------------------------------------------

void save_train_state(const std::string& path, const TrainState& st) {
  json rngs = json::object();
  for (const auto& [name, words] : st.rngs) rngs[name] = u64_words_to_json(words);
  json sets = json::array();
  for (const ParamSetState& s : st.sets) {
    if (s.adam_m.numel() != s.adam_v.numel() || s.adam_m.dtype() != DType::f32 || s.adam_v.dtype() != DType::f32) {
      throw std::invalid_argument("save_train_state " + path + ": set '" + s.name +
                                  "': expected two f32 moments of one size, found " + s.adam_m.shape().str() + " " +
                                  dtype_name(s.adam_m.dtype()) + " and " + s.adam_v.shape().str() + " " +
                                  dtype_name(s.adam_v.dtype()));
    }
    sets.push_back({{"name", s.name}, {"numel", s.adam_m.numel()}, {"adam_steps", s.adam_steps}});
  }
  const json meta = {{"step", st.step},
                     {"best_val_loss", std::isfinite(st.best_val_loss) ? json(st.best_val_loss) : json(nullptr)},
                     {"rngs", rngs},
                     {"data", st.data},
                     {"sets", sets}};
  const std::string text = meta.dump();
  BinaryHeader header(kTrainStateFormat);
  header[2] = static_cast<int32_t>(text.size());
  header[3] = static_cast<int32_t>(st.sets.size());
  AtomicFile f(path);
  header.write(f);
  f.write(text.data(), text.size());
  for (const ParamSetState& s : st.sets) {
    f.write(s.adam_m.raw_data(), s.adam_m.nbytes());
    f.write(s.adam_v.raw_data(), s.adam_v.nbytes());
  }
  f.commit();
}

// Version 1 began with the 8 bytes "SOGSTATE" and a uint32 version; say so rather than "bad magic".
static void refuse_version_1(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char head[12] = {};
  in.read(head, sizeof(head));
  if (in.gcount() == sizeof(head) && std::memcmp(head, "SOGSTATE", 8) == 0) {
    uint32_t version = 0;
    std::memcpy(&version, head + 8, 4);
    throw std::runtime_error(path + ": unsupported training-state version: expected " +
                             std::to_string(kTrainStateVersion) + ", found " + std::to_string(version) +
                             " (the layout of one parameter set, before several were stored) — " +
                             kTrainStateFormat.version_hint);
  }
}

TrainState load_train_state(const std::string& path) {
  refuse_version_1(path);
  BinaryReader r(path, kTrainStateFormat);
  if (r[2] < 2 || r[3] < 0) {
    r.fail("bad header: expected a JSON length ≥ 2 and a set count ≥ 0, found " + std::to_string(r[2]) + " and " +
           std::to_string(r[3]));
  }
  const uint64_t header_and_json = r.header().bytes() + static_cast<uint64_t>(r[2]);
  if (std::filesystem::file_size(path) < header_and_json) {
    r.require_size(header_and_json, "a " + std::to_string(r[2]) + "-byte JSON after the header at least");
  }
  std::string text(static_cast<size_t>(r[2]), '\0');
  r.read(text.data(), text.size(), "the JSON");
  TrainState st;
  st.path = path;
  uint64_t body_bytes = 0;
  try {
    const json meta = json::parse(text);
    st.step = meta.at("step").get<int64_t>();
    st.best_val_loss = meta.at("best_val_loss").is_null() ? INFINITY : meta.at("best_val_loss").get<double>();
    for (const auto& [name, words] : meta.at("rngs").items()) st.rngs[name] = u64_words_from_json(words);
    st.data = meta.at("data");
    const json& sets = meta.at("sets");
    if (static_cast<int64_t>(sets.size()) != r[3]) {
      throw std::runtime_error("the header counts " + std::to_string(r[3]) + " parameter sets, the JSON lists " +
                               std::to_string(sets.size()));
    }
    for (const json& s : sets) {
      const int64_t n = s.at("numel").get<int64_t>();
      if (n < 0) throw std::runtime_error("set '" + s.at("name").get<std::string>() + "': numel " + std::to_string(n));
      st.sets.push_back({s.at("name").get<std::string>(), s.at("adam_steps").get<int64_t>(), Tensor::empty({n}),
                         Tensor::empty({n})});
      body_bytes += 8 * static_cast<uint64_t>(n);
    }
  } catch (const std::exception& e) {
    r.fail(std::string("bad training state JSON: ") + e.what());
  }
  std::string sizes;
  for (const ParamSetState& s : st.sets) sizes += (sizes.empty() ? "" : " + ") + std::to_string(s.adam_m.numel());
  r.require_size(header_and_json + body_bytes,
                 "two float32 moments for each parameter set (" + (sizes.empty() ? "none" : sizes) + ")");
  for (ParamSetState& s : st.sets) {
    r.read(s.adam_m.raw_data(), s.adam_m.nbytes(), "set '" + s.name + "' AdamW m");
    r.read(s.adam_v.raw_data(), s.adam_v.nbytes(), "set '" + s.name + "' AdamW v");
  }
  return st;
}

}  // namespace sog
