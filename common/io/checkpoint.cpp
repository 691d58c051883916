#include "common/io/checkpoint.h"

#include <array>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>

#include "common/io/atomic_file.h"
#include "common/nn/gpt_params.h"

namespace sog {

void save_checkpoint(const std::string& path, const GPTConfig& cfg, const Tensor& params) {
  cfg.validate();
  const int64_t n = gpt_num_params(cfg);
  if (params.numel() != n || params.dtype() != DType::f32) {
    throw std::invalid_argument("save_checkpoint " + path + ": expected " + std::to_string(n) +
                                " f32 parameters for " + cfg.describe() + ", found " + std::to_string(params.numel()) +
                                " " + dtype_name(params.dtype()));
  }
  std::array<int32_t, 256> header{};
  header[0] = kCheckpointMagic;
  header[1] = kCheckpointVersion;
  header[2] = cfg.max_T;
  header[3] = cfg.V;
  header[4] = cfg.L;
  header[5] = cfg.NH;
  header[6] = cfg.C;
  header[7] = cfg.Vp;
  Tensor host = params.device() == Device::cpu ? params : params.to(Device::cpu);
  AtomicFile f(path);
  f.write(header.data(), sizeof(header));
  f.write(host.raw_data(), host.nbytes());
  f.commit();
}

static GPTConfig parse_header(const std::string& path, std::ifstream& in) {
  std::array<int32_t, 256> h{};
  in.read(reinterpret_cast<char*>(h.data()), sizeof(h));
  if (in.gcount() != static_cast<std::streamsize>(sizeof(h))) {
    throw std::runtime_error(path + ": truncated header: expected 1024 bytes (256 int32), found " +
                             std::to_string(in.gcount()));
  }
  if (h[0] != kCheckpointMagic) {
    throw std::runtime_error(path + ": bad magic number: expected " + std::to_string(kCheckpointMagic) +
                             " (an llm.c GPT-2 checkpoint), found " + std::to_string(h[0]) +
                             (h[0] == 20240520 ? " — this is a token shard, not a model" : ""));
  }
  if (h[1] != kCheckpointVersion) {
    throw std::runtime_error(path + ": unsupported version: expected " + std::to_string(kCheckpointVersion) +
                             " (padded vocabulary), found " + std::to_string(h[1]) +
                             " — re-export it with a current llm.c");
  }
  GPTConfig cfg;
  cfg.max_T = h[2];
  cfg.V = h[3];
  cfg.L = h[4];
  cfg.NH = h[5];
  cfg.C = h[6];
  cfg.Vp = h[7];
  try {
    cfg.validate();
  } catch (const std::invalid_argument& e) {
    throw std::runtime_error(path + ": header describes no valid model: " + e.what());
  }
  return cfg;
}

GPTConfig read_checkpoint_config(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(path + ": cannot open checkpoint (" + std::strerror(errno) + ")");
  return parse_header(path, in);
}

Tensor load_checkpoint(const std::string& path, GPTConfig* cfg_out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(path + ": cannot open checkpoint (" + std::strerror(errno) + ")");
  GPTConfig cfg = parse_header(path, in);
  const int64_t n = gpt_num_params(cfg);
  const uint64_t expected = 1024 + static_cast<uint64_t>(n) * 4;
  const uint64_t found = std::filesystem::file_size(path);
  if (found != expected) {
    throw std::runtime_error(path + ": wrong size: " + cfg.describe() + " needs " + std::to_string(n) +
                             " float32 parameters, " + std::to_string(expected) + " bytes in all, found " +
                             std::to_string(found) + " bytes" + (found < expected ? " (truncated?)" : ""));
  }
  Tensor params = Tensor::empty({n});
  in.read(static_cast<char*>(params.raw_data()), static_cast<std::streamsize>(params.nbytes()));
  if (!in) throw std::runtime_error(path + ": read failed in the parameter body");
  if (cfg_out) *cfg_out = cfg;
  return params;
}

}  // namespace sog
