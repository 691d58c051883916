// Hugging Face's GPT-2 folders, both ways, and a model's logits as JSON (02_pretrain/hf_commands.cpp):
//
//   bin/pretrain export --model M --tokenizer DIR [--lora A] --format hf --out DIR
//       M (a checkpoint, a model folder or a run folder; an SFT LoRA merged in) → DIR/model.safetensors,
//       config.json, generation_config.json + the tokenizer as vocab.json, merges.txt, tokenizer.json,
//       tokenizer_config.json, special_tokens_map.json: GPT2LMHeadModel.from_pretrained(DIR) and
//       AutoTokenizer.from_pretrained(DIR) load it
//   bin/pretrain import --format hf --from DIR --out model.bin [--tokenizer-out TOK] [--tokenizer T]
//                       [--chat-tokens]
//       a Hugging Face GPT-2 folder → our llm.c checkpoint + our tokenizer folder (default: beside
//       model.bin, in tokenizer/), for chapters 03–06. --chat-tokens gives a base model that lacks them
//       the project's chat and tool tokens (special_tokens.h), with new embedding rows (grow_vocab,
//       gpt.h), so that chapter 03 can fine-tune it into an assistant
//   bin/pretrain logits --model M --tokenizer DIR [--lora A] (--text T | --ids 1,2,3)
//       {"ids": [...], "logits": [[V floats] per position]} on stdout: compare with another implementation
#pragma once
#include <CLI/CLI.hpp>
#include <string>

struct HfCommands {
  CLI::App *export_cmd = nullptr, *import_cmd = nullptr, *logits_cmd = nullptr;
  std::string model, tokenizer, lora, format = "hf", out, from, tokenizer_out, text, ids;
  bool chat_tokens = false;
};

void add_hf_commands(CLI::App& app, HfCommands& c);
// Runs the command of the three that was given; false when none was.
bool run_hf_commands(const HfCommands& c);
