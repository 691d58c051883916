#include "common/nn/gpt_checkpoint.h"

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
  BinaryHeader header(kCheckpointFormat);
  header[2] = cfg.max_T;
  header[3] = cfg.V;
  header[4] = cfg.L;
  header[5] = cfg.NH;
  header[6] = cfg.C;
  header[7] = cfg.Vp;
  Tensor host = params.device() == Device::cpu ? params : params.to(Device::cpu);
  AtomicFile f(path);
  header.write(f);
  f.write(host.raw_data(), host.nbytes());
  f.commit();
}

static GPTConfig config_of(const BinaryReader& r) {
  GPTConfig cfg;
  cfg.max_T = r[2];
  cfg.V = r[3];
  cfg.L = r[4];
  cfg.NH = r[5];
  cfg.C = r[6];
  cfg.Vp = r[7];
  try {
    cfg.validate();
  } catch (const std::invalid_argument& e) {
    r.fail(std::string("header describes no valid model: ") + e.what());
  }
  return cfg;
}

GPTConfig read_checkpoint_config(const std::string& path) { return config_of(BinaryReader(path, kCheckpointFormat)); }

Tensor load_checkpoint(const std::string& path, GPTConfig* cfg_out) {
  BinaryReader r(path, kCheckpointFormat);
  GPTConfig cfg = config_of(r);
  const int64_t n = gpt_num_params(cfg);
  r.require_size(r.header().bytes() + static_cast<uint64_t>(n) * 4,
                 std::to_string(n) + " float32 parameters for " + cfg.describe());
  Tensor params = Tensor::empty({n});
  r.read(params.raw_data(), params.nbytes(), "the parameter body");
  if (cfg_out) *cfg_out = cfg;
  return params;
}

}  // namespace sog
