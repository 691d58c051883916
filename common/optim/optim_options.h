// The optimizer's and the schedule's command-line flags, spelled the same in every chapter that
// trains (02_pretrain, 03_sft, …):
//
//   --lr --min-lr --warmup --decay-steps     the warmup + cosine schedule (schedule.h)
//   --beta1 --beta2 --weight-decay           AdamW (adamw.h)
//   --grad-clip                              the global gradient norm's limit
//
// Config is the chapter's training config: any struct with those fields (lr, min_lr, warmup,
// decay_steps, beta1, beta2, weight_decay, grad_clip).
#pragma once
#include <CLI/CLI.hpp>

namespace sog {

template <class Config>
void add_optimizer_options(CLI::App* cmd, Config& c) {
  cmd->add_option("--lr", c.lr, "peak learning rate")->capture_default_str();
  cmd->add_option("--min-lr", c.min_lr, "final learning rate of the cosine")->capture_default_str();
  cmd->add_option("--warmup", c.warmup, "linear warmup steps")->capture_default_str();
  cmd->add_option("--decay-steps", c.decay_steps, "where the cosine ends (default: --steps)");
  cmd->add_option("--beta1", c.beta1)->capture_default_str();
  cmd->add_option("--beta2", c.beta2)->capture_default_str();
  cmd->add_option("--weight-decay", c.weight_decay)->capture_default_str();
  cmd->add_option("--grad-clip", c.grad_clip, "clip the global gradient norm (0: off)")->capture_default_str();
}

}  // namespace sog
