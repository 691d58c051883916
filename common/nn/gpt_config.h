// The GPT-2 hyperparameters and the named presets every chapter uses.
//
// Shape letters, declared once (as llm.c): B batch, T time (sequence), C channels, V vocabulary,
// Vp vocabulary padded to a multiple of 128, L layers, NH heads, HS = C/NH head size, maxT the
// longest sequence (the position table's rows).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace sog {

struct GPTConfig {
  int max_T = 1024;  // maxT: positions the model knows
  int V = 50257;     // real vocabulary size (tokens the tokenizer can produce)
  int Vp = 50304;    // V padded up to a multiple of 128: matmul-friendly; padded logits are never used
  int L = 12;        // layers
  int NH = 12;       // heads
  int C = 768;       // channels
  float dropout = 0.0f;

  int head_size() const { return C / NH; }
  // Throws std::invalid_argument naming the field when the config cannot describe a GPT.
  void validate() const;
  std::string describe() const;  // "L=12 NH=12 C=768 maxT=1024 V=50257 (Vp=50304)"
};

// "L: expected 2, found 3; C: expected 32, found 64" for the shape fields (L, NH, C, maxT, V, Vp)
// that differ, or "" when the two describe the same model.
std::string gpt_config_mismatch(const GPTConfig& expected, const GPTConfig& found);

// V rounded up to a multiple of 128, as llm.c pads GPT-2's 50257 to 50304.
int padded_vocab(int V);

// Named presets; V (and Vp) come from the tokenizer at run time.
//   nano       test size, trains in seconds            L=2  NH=2  C=32  maxT=32
//   char-baby  nanoGPT's CPU Shakespeare config         L=4  NH=4  C=128 maxT=64
//   small      the CPU demo default (~16 min here)      L=6  NH=6  C=192 maxT=256
//   gpt2       GPT-2 124M                               L=12 NH=12 C=768 maxT=1024
GPTConfig gpt_preset(const std::string& name, int V);
std::vector<std::string> gpt_preset_names();

}  // namespace sog
