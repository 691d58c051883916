// The run's command-line flags, spelled the same in every trainer (02_pretrain, 03_sft, …), beside
// the optimizer's (common/optim/optim_options.h):
//
//   --out RUN  --resume RUN          the run folder, or the run to continue (training_run.h)
//   --steps N                        optimizer steps of the whole run (a resumed run's too)
//   --eval-every N --eval-batches N  validation loss every N steps and at the last (0: never)
//   --checkpoint-every N             weights + state.bin every N steps (0: only at the end)
//   --seed S                         initialisation, data order, dropout
//
// Config is the chapter's training config: any struct with those fields (out_dir, resume_dir,
// steps, eval_every, eval_batches, checkpoint_every, seed).
#pragma once
#include <CLI/CLI.hpp>

namespace sog {

template <class Config>
void add_run_options(CLI::App* cmd, Config& c) {
  cmd->add_option("--out", c.out_dir, "run folder");
  cmd->add_option("--resume", c.resume_dir, "continue the run in this folder exactly where it stopped");
  cmd->add_option("--steps", c.steps, "optimizer steps")->capture_default_str();
  cmd->add_option("--eval-every", c.eval_every, "validation loss every N steps (0: never)")->capture_default_str();
  cmd->add_option("--eval-batches", c.eval_batches, "validation batches")->capture_default_str();
  cmd->add_option("--checkpoint-every", c.checkpoint_every, "0: only at the end")->capture_default_str();
  cmd->add_option("--seed", c.seed)->capture_default_str();
}

// The LoRA flags of a trainer that can fine-tune with adapters (03_sft, 04_reward, …): any struct
// with lora_rank, lora_alpha, lora_dropout, lora_targets (common/nn/lora.h).
template <class Config>
void add_lora_options(CLI::App* cmd, Config& c) {
  cmd->add_option("--lora-rank", c.lora_rank, "LoRA rank r (0: full fine-tuning)")->capture_default_str();
  cmd->add_option("--lora-alpha", c.lora_alpha, "LoRA scale α (the update is α/r · B·A)")->capture_default_str();
  cmd->add_option("--lora-dropout", c.lora_dropout, "dropout on the adapters' input")->capture_default_str();
  cmd->add_option("--lora-targets", c.lora_targets, "qkv,attproj,fc,fcproj | attn | mlp | all")->capture_default_str();
}

}  // namespace sog
