// The sampler's command-line flags, spelled the same in every program that samples
// (pretrain sample, sft chat, …): --temperature (0 = greedy), --top-k (0 = off), --top-p (1 = off),
// and --seed for the sampler's random stream.
#pragma once
#include <cstdint>

#include <CLI/CLI.hpp>

#include "common/generate/sampler.h"

namespace sog {

inline void add_sampling_options(CLI::App* cmd, SamplingConfig& sampling, uint64_t& seed) {
  cmd->add_option("--temperature", sampling.temperature, "0 = greedy")->capture_default_str();
  cmd->add_option("--top-k", sampling.top_k, "0 = off")->capture_default_str();
  cmd->add_option("--top-p", sampling.top_p, "1 = off")->capture_default_str();
  cmd->add_option("--seed", seed, "the sampler's random seed")->capture_default_str();
}

}  // namespace sog
