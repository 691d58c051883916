// A scalar head on the GPT's final hidden states: the reward model's score (chapter 04) and PPO's
// value (chapter 05). One linear map from the C channels to one number:
//
//   raw[b]    = hidden[b, pos[b], :] · w + bias     at_positions:      hidden (B,T,C), pos (B) i32 → (B)
//   raw[b, t] = hidden[b, t, :] · w + bias          at_every_position: hidden (B,T,C)             → (B,T)
//   w (C), bias (1)
//
// at_positions reads one position per row — for a reward model the last real token of each row of
// a right-padded batch (InstructGPT's and TRL's choice: the whole response has been read there);
// at_every_position gives PPO's value estimate after every token. Both are ordinary ops on the
// tape (gather_rows, linear), so the gradient flows into the head and, through hidden(), into the
// GPT (or its adapters).
//
// Design choices:
// - Own flat parameter and gradient buffers, (C + 1) each — [w, bias] — so the head is one more
//   parameter set beside the GPT's: its own AdamW, its own moments in the training state. AdamW
//   segments: decay on w, none on the bias (as for the GPT's matrices and biases).
// - Initialisation as Hugging Face's GPT2ForSequenceClassification score layer: w ~ N(0, 0.02),
//   bias 0. (TRL's value head starts the same way up to its scale.)
// - Normalisation: a reward model's raw scores have an arbitrary offset (the pairwise loss sees
//   only differences); the chapter that trains it records gain and bias so that
//   reward = gain · raw + bias has a chosen mean and spread (InstructGPT normalises its reward
//   model so the SFT demonstrations score 0 on average). They are stored, not trained: 1 and 0
//   unless set.
//
// The head file (save/load), every byte, little-endian:
//   int32[256] header:  [0] magic 0x44414548 (the bytes "HEAD")   [1] version 1   [2] C
//                       [3] number of outputs: 1   [4..255] zero
//   float32[C]  w        float32  bias        float32  gain        float32  normalisation bias
// 1024 + 4·(C + 3) bytes in all. It lives beside an unchanged llm.c checkpoint (model.bin) in a
// model folder (model_folder.h). Written atomically; loading checks magic, version, C against the
// model's and the size, naming the file, what was expected and what was found.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "common/io/binary_header.h"
#include "common/optim/adamw.h"
#include "common/tensor/tensor.h"

namespace sog {

inline constexpr int32_t kHeadVersion = 1;
inline constexpr BinaryFormat kHeadFormat = {"scalar head", "head", file_magic::scalar_head, kHeadVersion,
                                             kHeadVersion, 256, ""};

// reward = gain · raw + bias
struct HeadNormalization {
  float gain = 1.0f;
  float bias = 0.0f;
};

class ScalarHead {
 public:
  // Parameters zero (call init() or load()).
  explicit ScalarHead(int64_t C);
  // w ~ N(0, 0.02), bias 0. Deterministic for a seed.
  void init(uint64_t seed);

  int64_t C() const { return C_; }
  // hidden (B,T,C), positions (B) i32 in [0, T) → raw scores (B).
  Tensor at_positions(const Tensor& hidden, const Tensor& positions) const;
  // hidden (B,T,C) → raw values (B,T).
  Tensor at_every_position(const Tensor& hidden) const;
  // gain · raw + norm.bias, any shape (on the tape like any op).
  Tensor normalized(const Tensor& raw) const;

  Tensor& params() { return params_; }  // (C + 1): [w, bias]
  const Tensor& params() const { return params_; }
  Tensor& grads() { return grads_; }  // (C + 1)
  int64_t num_params() const { return C_ + 1; }
  void zero_grad() { grads_.zero(); }
  // Decay on w, none on the bias.
  std::vector<ParamSegment> optimizer_segments() const;

  void save(const std::string& path) const;
  // Reads a head file made for a model of width `expected_C`.
  static ScalarHead load(const std::string& path, int64_t expected_C);

  Tensor weight;  // (1,C): views into params() / grads()
  Tensor bias;    // (1)
  HeadNormalization norm;

 private:
  int64_t C_;
  Tensor params_, grads_;
};

}  // namespace sog
