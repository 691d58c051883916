// The bodies of `pretrain export`, `pretrain import` and `pretrain logits` (hf_commands.h): the
// formats live in common/ (nn/hf_gpt2.h, tokenizer/hf_files.cpp, io/safetensors.h); this file only
// loads, converts and says what it wrote.
#include "02_pretrain/hf_commands.h"

#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "common/autograd/tape.h"
#include "common/nn/hf_gpt2.h"
#include "common/nn/load_model.h"
#include "common/tokenizer/special_tokens.h"
#include "common/tokenizer/tokenizer.h"

using namespace sog;
namespace fs = std::filesystem;

void add_hf_commands(CLI::App& app, HfCommands& c) {
  c.export_cmd = app.add_subcommand("export", "write a model as a Hugging Face GPT-2 folder (safetensors + tokenizer)");
  c.export_cmd->add_option("--model", c.model, "model.bin, a model folder or a run folder")->required();
  c.export_cmd->add_option("--tokenizer", c.tokenizer, "tokenizer folder")->required();
  c.export_cmd->add_option("--lora", c.lora, "adapter.bin to merge into the weights");
  c.export_cmd->add_option("--format", c.format, "hf (Hugging Face transformers' GPT2LMHeadModel)")
      ->check(CLI::IsMember({"hf"}))->capture_default_str();
  c.export_cmd->add_option("--out", c.out, "the folder to write")->required();

  c.import_cmd = app.add_subcommand("import", "read a Hugging Face GPT-2 folder into an llm.c checkpoint + tokenizer folder");
  c.import_cmd->add_option("--format", c.format, "hf")->check(CLI::IsMember({"hf"}))->capture_default_str();
  c.import_cmd->add_option("--from", c.from, "the Hugging Face folder (config.json, model.safetensors, tokenizer files)")->required();
  c.import_cmd->add_option("--out", c.out, "model.bin to write")->required();
  c.import_cmd->add_option("--tokenizer-out", c.tokenizer_out, "our tokenizer folder to write (default: tokenizer/ beside --out)");
  c.import_cmd->add_option("--tokenizer", c.tokenizer, "use this tokenizer folder instead of the Hugging Face folder's files");
  c.import_cmd->add_flag("--chat-tokens", c.chat_tokens,
                         "add the chat and tool tokens the tokenizer lacks, with new embedding rows, for chapter 03's SFT");

  c.logits_cmd = app.add_subcommand("logits", "print a model's logits for a text or ids as JSON");
  c.logits_cmd->add_option("--model", c.model, "model.bin, a model folder or a run folder")->required();
  c.logits_cmd->add_option("--tokenizer", c.tokenizer, "tokenizer folder")->required();
  c.logits_cmd->add_option("--lora", c.lora, "adapter.bin to attach");
  auto* text = c.logits_cmd->add_option("--text", c.text, "text, encoded with special tokens allowed");
  auto* ids = c.logits_cmd->add_option("--ids", c.ids, "comma-separated token ids");
  text->excludes(ids);
}

namespace {

void run_export(const HfCommands& c) {
  Tokenizer tok = Tokenizer::load(c.tokenizer);
  LoadedModel loaded = load_model(c.model, c.lora, tok, c.tokenizer);
  if (loaded.head) {
    throw std::runtime_error(c.model + ": a " + loaded.kind + " model (a GPT with a scalar head): GPT2LMHeadModel has no "
                             "place for the head; export a language model (base, sft or policy)");
  }
  const bool merged = loaded.lora != nullptr;
  merge_lora(loaded);  // the adapter's update goes into the weights
  const GPT& model = *loaded.model;
  save_hf_gpt2(c.out, model, tok.special_id(kEndOfText), tok.special_id(kEnd));
  tok.save_hf(c.out, model.config().max_T);
  std::printf("exported %s%s (%lld parameters) and its tokenizer (%d tokens, %zu special) → %s\n",
              model.config().describe().c_str(), merged ? ", LoRA merged" : "",
              static_cast<long long>(model.num_params()), tok.n_vocab(), tok.specials().size(), c.out.c_str());
}

void run_import(const HfCommands& c) {
  const std::string tok_out = !c.tokenizer_out.empty() ? c.tokenizer_out
                                                       : (fs::path(c.out).parent_path() / "tokenizer").string();
  const bool has_tokenizer = fs::exists(c.from + "/tokenizer.json") || fs::exists(c.from + "/vocab.json");
  if (c.tokenizer.empty() && !has_tokenizer) {
    throw std::runtime_error(c.from + ": no tokenizer (neither tokenizer.json nor vocab.json + merges.txt); give the "
                             "model's tokenizer folder with --tokenizer (ours, GPT-2's encoder.json + vocab.bpe, or "
                             "Hugging Face's)");
  }
  Tokenizer tok = c.tokenizer.empty() ? Tokenizer::load_hf(c.from) : Tokenizer::load(c.tokenizer);
  HfGpt2Import imported = load_hf_gpt2(c.from, tok.n_vocab());
  if (c.chat_tokens) {
    const int before = tok.n_vocab();
    tok = tok.with_specials(kSpecialTokens);
    if (tok.n_vocab() > before) {
      imported.model = grow_vocab(imported.model, tok.n_vocab(), /*seed=*/1337);
      imported.notes.push_back("--chat-tokens: ids " + std::to_string(before) + ".." + std::to_string(tok.n_vocab() - 1) +
                               " added (the chat and tool tokens the tokenizer lacked), their embedding rows the mean "
                               "of the others plus N(0, 0.02²) noise: untrained until chapter 03 fine-tunes them");
    } else {
      imported.notes.push_back("--chat-tokens: the tokenizer already has every chat and tool token; nothing added");
    }
  }
  imported.model.save(c.out);
  tok.save(tok_out);
  std::printf("imported %s (%lld parameters) → %s; tokenizer (%d tokens, %zu special) → %s\n",
              imported.model.config().describe().c_str(), static_cast<long long>(imported.model.num_params()),
              c.out.c_str(), tok.n_vocab(), tok.specials().size(), tok_out.c_str());
  for (const std::string& note : imported.notes) std::printf("  note: %s\n", note.c_str());
}

std::vector<int32_t> parse_ids(const std::string& csv) {
  std::vector<int32_t> ids;
  size_t pos = 0;
  while (pos <= csv.size()) {
    const size_t end = std::min(csv.find(',', pos), csv.size());
    const std::string item = csv.substr(pos, end - pos);
    try {
      size_t used = 0;
      ids.push_back(std::stoi(item, &used));
      if (used != item.size()) throw std::invalid_argument(item);
    } catch (const std::exception&) {
      throw std::invalid_argument("--ids: expected comma-separated integers, found \"" + item + "\"");
    }
    pos = end + 1;
  }
  return ids;
}

void run_logits(const HfCommands& c) {
  Tokenizer tok = Tokenizer::load(c.tokenizer);
  LoadedModel loaded = load_model(c.model, c.lora, tok, c.tokenizer);
  GPT& model = *loaded.model;
  const std::vector<int32_t> ids = c.ids.empty() ? tok.encode(c.text, AllowedSpecial::all) : parse_ids(c.ids);
  const GPTConfig& m = model.config();
  if (ids.empty() || static_cast<int64_t>(ids.size()) > m.max_T) {
    throw std::invalid_argument("logits: expected 1 to maxT = " + std::to_string(m.max_T) + " tokens, found " + std::to_string(ids.size()));
  }
  for (int32_t id : ids) {
    if (id < 0 || id >= m.V) throw std::invalid_argument("logits: id " + std::to_string(id) + " is outside the vocabulary (V = " + std::to_string(m.V) + ")");
  }
  NoGradGuard no_grad;
  const int64_t T = static_cast<int64_t>(ids.size());
  const Tensor logits = model.forward(Tensor::from_ids({1, T}, ids));  // (1,T,Vp)
  const float* l = logits.f32();
  nlohmann::json rows = nlohmann::json::array();
  for (int64_t t = 0; t < T; ++t) rows.push_back(std::vector<float>(l + t * m.Vp, l + t * m.Vp + m.V));  // the V real ones
  std::printf("%s\n", nlohmann::json({{"ids", ids}, {"logits", rows}}).dump().c_str());
}

}  // namespace

bool run_hf_commands(const HfCommands& c) {
  if (c.export_cmd->parsed()) {
    run_export(c);
  } else if (c.import_cmd->parsed()) {
    run_import(c);
  } else if (c.logits_cmd->parsed()) {
    run_logits(c);
  } else {
    return false;
  }
  return true;
}
