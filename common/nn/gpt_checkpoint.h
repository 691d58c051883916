// Model checkpoints in llm.c's GPT-2 format, so a GPT-2 exported by llm.c loads here and ours
// load in llm.c. Every byte:
//
//   int32[256] header:  [0] magic 20240326   [1] version 3   [2] maxT   [3] V   [4] L   [5] NH
//                       [6] C   [7] Vp   [8..255] zero
//   float32[num_params] the parameters, in the order and shapes of gpt_param_specs() (llm.c's)
//
// Written atomically (temporary file + rename). Reading checks the magic, the version and that the
// body holds exactly the parameters the header promises, and says what it expected and found
// (common/io/binary_header.h).
#pragma once
#include <string>

#include "common/io/binary_header.h"
#include "common/nn/gpt_config.h"
#include "common/tensor/tensor.h"

namespace sog {

inline constexpr int kCheckpointMagic = file_magic::gpt_checkpoint;
inline constexpr int kCheckpointVersion = 3;
inline constexpr BinaryFormat kCheckpointFormat = {
    "llm.c GPT-2 model checkpoint", "checkpoint", kCheckpointMagic, kCheckpointVersion, kCheckpointVersion, 256,
    "version 3 is llm.c's with the padded vocabulary (Vp); re-export the model with a current llm.c"};

// params: the flat f32 parameter buffer of gpt_num_params(cfg) elements.
void save_checkpoint(const std::string& path, const GPTConfig& cfg, const Tensor& params);
// Reads only the header (cheap): the model's shape.
GPTConfig read_checkpoint_config(const std::string& path);
// Reads the header and the parameters into a fresh flat tensor.
Tensor load_checkpoint(const std::string& path, GPTConfig* cfg_out);

}  // namespace sog
