// The learning-rate schedule of GPT-2/nanoGPT: linear warmup from 0, then cosine decay to a floor.
//
//   step < warmup:            lr = max_lr · (step + 1) / warmup
//   warmup ≤ step ≤ decay:    lr = min_lr + ½ (1 + cos(π · (step − warmup) / (decay − warmup))) · (max_lr − min_lr)
//   step > decay:             lr = min_lr
#pragma once
#include <cmath>
#include <cstdint>

namespace sog {

struct LrSchedule {
  float max_lr = 1e-3f;
  float min_lr = 1e-4f;
  int64_t warmup_steps = 100;
  int64_t decay_steps = 2000;  // where the cosine reaches min_lr (nanoGPT's lr_decay_iters)

  float at(int64_t step) const {
    if (step < warmup_steps) return max_lr * static_cast<float>(step + 1) / static_cast<float>(warmup_steps);
    if (step > decay_steps) return min_lr;
    if (decay_steps <= warmup_steps) return min_lr;
    double ratio = static_cast<double>(step - warmup_steps) / static_cast<double>(decay_steps - warmup_steps);
    double coeff = 0.5 * (1.0 + std::cos(M_PI * ratio));
    return static_cast<float>(min_lr + coeff * (max_lr - min_lr));
  }
};

}  // namespace sog
