// Chapter 01 — the tokenizer: text becomes integers.
//
// A language model reads a sequence of integers, not text. This program trains a byte-level BPE
// vocabulary on a corpus (GPT-2 / GPT-4 style: bytes → merges → ranks), then uses it to turn text
// into ids and back, and to write the token shards that chapter 02 trains on.
//
//   bin/tokenizer train  --input F [--input F …] --vocab-size N --pattern gpt2|gpt4 --out DIR
//   bin/tokenizer encode --tokenizer DIR [--allowed-special all] [--jsonl]     < text
//   bin/tokenizer decode --tokenizer DIR                                       < ids
//   bin/tokenizer shard  --tokenizer DIR --input F [--weight W …] --out DIR [--val-fraction 0.1]
//   bin/tokenizer show   --tokenizer DIR [--text T]        (token boundaries in colour)
//   bin/tokenizer stats  --tokenizer DIR --input F         (bytes/token, tokens/word, ids used)
//
// reads:  text files; a tokenizer folder (ours: tokenizer.tiktoken + tokenizer.json, or OpenAI's
//         GPT-2 encoder.json + vocab.bpe)
// writes: a tokenizer folder (tokenizer.tiktoken, tokenizer.json, vocab.txt); token shards in
//         llm.c's format (DIR/<source>/train_000000.bin, val_000000.bin) + DIR/meta.json
//
// Departures from the textbook: the trainer breaks count ties by the smallest (left, right) pair
// (as Hugging Face's trainer; minbpe takes the first pair seen); the validation split is the last
// --val-fraction of each source's tokens, as nanoGPT's prepare.py does.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "01_tokenizer/commands.h"
#include "common/data/shard.h"
#include "common/io/atomic_file.h"
#include "common/tokenizer/bpe_train.h"
#include "common/tokenizer/special_tokens.h"
#include "common/tokenizer/tokenizer.h"
#include "common/world/render.h"
#include "common/world/world_options.h"

namespace fs = std::filesystem;
using namespace sog;

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

std::string read_stdin() {
  std::ostringstream s;
  s << std::cin.rdbuf();
  return s.str();
}

// ---- train -------------------------------------------------------------------------------------

struct TrainOptions {
  std::vector<std::string> inputs;
  int vocab_size = 0;
  std::string pattern = "gpt2";
  std::string out;
  int threads = 0;
  bool naive = false;
};

void run_train(const TrainOptions& opt) {
  const SplitPattern pattern = parse_split_pattern(opt.pattern);
  auto t0 = std::chrono::steady_clock::now();
  // 1. split every file into chunks by the regex and count each distinct chunk once
  ChunkCounts counts = count_chunks_in_files(opt.inputs, pattern, opt.threads);
  const double count_s = seconds_since(t0);
  // 2. merge the most frequent pair, vocab_size - 256 times
  auto t1 = std::chrono::steady_clock::now();
  BpeTrainResult bpe = opt.naive ? train_bpe_naive(counts, opt.vocab_size) : train_bpe(counts, opt.vocab_size);
  const double merge_s = seconds_since(t1);
  // 3. ranks + the special tokens after them → the tokenizer folder
  std::vector<std::pair<std::string, int32_t>> specials;
  for (size_t i = 0; i < kSpecialTokens.size(); ++i) {
    specials.emplace_back(std::string(kSpecialTokens[i]), opt.vocab_size + static_cast<int32_t>(i));
  }
  Tokenizer tok = Tokenizer::from_ranks(std::move(bpe.ranks), pattern, std::move(specials));
  tok.save(opt.out);
  const double total_s = seconds_since(t0);

  const size_t merges = bpe.merges.size();
  std::printf("trained %zu merges on %zu distinct chunks (%s pattern): n_vocab %d (%d ranks + %zu special)\n", merges,
              counts.size(), opt.pattern.c_str(), tok.n_vocab(), tok.n_ranks(), kSpecialTokens.size());
  std::printf("time: %.3f s counting chunks, %.3f s merging (%.0f merges/s), %.3f s in all\n", count_s, merge_s,
              merge_s > 0 ? static_cast<double>(merges) / merge_s : 0.0, total_s);
  std::printf("total_seconds %.4f\n", total_s);
  std::printf("wrote %s/{tokenizer.tiktoken,tokenizer.json,vocab.txt}\n", opt.out.c_str());
}

// ---- encode / decode ---------------------------------------------------------------------------

struct EncodeOptions {
  std::string tokenizer_dir;
  std::string allowed_special = "none";
  bool jsonl = false;
  int threads = 0;
};

AllowedSpecial parse_allowed_special(const std::string& s) {
  if (s == "none") return AllowedSpecial::none;
  if (s == "all") return AllowedSpecial::all;
  throw std::invalid_argument("--allowed-special: expected 'none' or 'all', got '" + s + "'");
}

void print_ids(std::string& line, const std::vector<int32_t>& ids, char sep) {
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i) line += sep;
    line += std::to_string(ids[i]);
  }
}

void run_encode(const EncodeOptions& opt) {
  const Tokenizer tok = Tokenizer::load(opt.tokenizer_dir);
  const AllowedSpecial allowed = parse_allowed_special(opt.allowed_special);
  const std::string input = read_stdin();
  std::string out;
  if (!opt.jsonl) {
    print_ids(out, tok.encode_parallel(input, allowed, opt.threads), ' ');
    out += '\n';
  } else {
    // one JSON object with a "text" string per line → one {"ids":[…]} per line, in order;
    // blank lines are skipped
    std::istringstream lines(input);
    std::string line;
    for (int64_t line_no = 1; std::getline(lines, line); ++line_no) {
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      nlohmann::json j;
      try {
        j = nlohmann::json::parse(line);
      } catch (const nlohmann::json::parse_error& e) {
        throw std::runtime_error("stdin line " + std::to_string(line_no) + ": not valid JSON (" + e.what() + ")");
      }
      if (!j.is_object() || !j.contains("text") || !j["text"].is_string()) {
        throw std::runtime_error("stdin line " + std::to_string(line_no) +
                                 ": expected a JSON object with a string field \"text\", found " + j.dump().substr(0, 80));
      }
      out += "{\"ids\":[";
      print_ids(out, tok.encode(j["text"].get<std::string>(), allowed), ',');
      out += "]}\n";
    }
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
}

void run_decode(const std::string& tokenizer_dir) {
  const Tokenizer tok = Tokenizer::load(tokenizer_dir);
  std::istringstream in(read_stdin());
  std::vector<int32_t> ids;
  std::string word;
  for (int64_t position = 0; in >> word; ++position) {
    size_t used = 0;
    long long id = -1;
    try {
      id = std::stoll(word, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != word.size()) {
      throw std::runtime_error("token " + std::to_string(position) + ": '" + word + "' is not a token id (expected an integer)");
    }
    if (id < 0 || id >= tok.n_vocab()) {
      throw std::runtime_error("token " + std::to_string(position) + ": id " + word + " is out of range (expected 0 <= id < " +
                               std::to_string(tok.n_vocab()) + ")");
    }
    ids.push_back(static_cast<int32_t>(id));
  }
  const std::string text = tok.decode(ids);
  std::fwrite(text.data(), 1, text.size(), stdout);
}

// ---- shard -------------------------------------------------------------------------------------

struct ShardOptions {
  std::string tokenizer_dir;
  std::vector<std::string> inputs;
  std::vector<double> weights;
  std::string out;
  double val_fraction = 0.1;
  int64_t shard_tokens = 100'000'000;  // llm.c's shard size
  int threads = 0;
};

// Writes tokens[begin, end) as DIR/<split>_000000.bin, … in pieces of at most shard_tokens
// (at least one shard, possibly empty); returns the number of shards.
int64_t write_split(const fs::path& dir, const std::string& split, const std::vector<int32_t>& tokens, size_t begin,
                    size_t end, int64_t shard_tokens) {
  int64_t n_shards = 0;
  size_t pos = begin;
  do {
    size_t stop = std::min(end, pos + static_cast<size_t>(shard_tokens));
    char name[64];
    std::snprintf(name, sizeof(name), "%s_%06lld.bin", split.c_str(), static_cast<long long>(n_shards));
    write_shard((dir / name).string(), std::span<const int32_t>(tokens.data() + pos, stop - pos));
    ++n_shards;
    pos = stop;
  } while (pos < end);
  return n_shards;
}

void run_shard(const ShardOptions& opt) {
  if (!opt.weights.empty() && opt.weights.size() != opt.inputs.size()) {
    throw std::invalid_argument("--weight: expected one weight per --input (" + std::to_string(opt.inputs.size()) +
                                "), got " + std::to_string(opt.weights.size()));
  }
  if (!(opt.val_fraction >= 0.0 && opt.val_fraction < 1.0)) {
    throw std::invalid_argument("--val-fraction: expected 0 <= f < 1, got " + std::to_string(opt.val_fraction));
  }
  if (opt.shard_tokens <= 0) throw std::invalid_argument("--shard-tokens: expected > 0, got " + std::to_string(opt.shard_tokens));
  const Tokenizer tok = Tokenizer::load(opt.tokenizer_dir);
  if (tok.n_vocab() > 65536) {
    throw std::invalid_argument(opt.tokenizer_dir + ": n_vocab " + std::to_string(tok.n_vocab()) +
                                " does not fit uint16 shards (expected at most 65536)");
  }
  nlohmann::json sources = nlohmann::json::array();
  std::vector<std::string> names;
  for (size_t s = 0; s < opt.inputs.size(); ++s) {
    const std::string& file = opt.inputs[s];
    const std::string name = fs::path(file).stem().string();
    if (std::find(names.begin(), names.end(), name) != names.end()) {
      throw std::invalid_argument(file + ": a source named '" + name + "' was given twice (sources are named by file stem)");
    }
    names.push_back(name);
    const double weight = opt.weights.empty() ? 1.0 : opt.weights[s];
    if (!(weight >= 0.0)) throw std::invalid_argument(file + ": --weight must be >= 0, got " + std::to_string(weight));
    const std::string text = read_file(file);
    if (text.empty()) throw std::invalid_argument(file + ": the input file is empty");

    // <|endoftext|> before the first document; a literal <|endoftext|> in the file (allowed
    // special) separates the documents that follow
    std::vector<int32_t> tokens{tok.eot_id()};
    std::vector<int32_t> body = tok.encode_parallel(text, AllowedSpecial::all, opt.threads);
    tokens.insert(tokens.end(), body.begin(), body.end());
    // nanoGPT's split: the first (1 - f) of the tokens train, the last f validate
    const size_t n_train = static_cast<size_t>(static_cast<double>(tokens.size()) * (1.0 - opt.val_fraction));
    const fs::path dir = fs::path(opt.out) / name;
    fs::create_directories(dir);
    const int64_t train_shards = write_split(dir, "train", tokens, 0, n_train, opt.shard_tokens);
    const int64_t val_shards = write_split(dir, "val", tokens, n_train, tokens.size(), opt.shard_tokens);
    sources.push_back({{"name", name}, {"file", fs::absolute(file).lexically_normal().string()}, {"weight", weight},
                       {"train_tokens", n_train}, {"val_tokens", tokens.size() - n_train},
                       {"train_shards", train_shards}, {"val_shards", val_shards}});
    std::printf("%s: %zu bytes → %zu tokens (%.2f bytes/token): %zu train in %lld shard(s), %zu val in %lld shard(s)\n",
                name.c_str(), text.size(), tokens.size(), static_cast<double>(text.size()) / static_cast<double>(tokens.size()),
                n_train, static_cast<long long>(train_shards), tokens.size() - n_train, static_cast<long long>(val_shards));
  }
  nlohmann::json meta = {{"tokenizer", fs::absolute(opt.tokenizer_dir).lexically_normal().string()}, {"n_vocab", tok.n_vocab()}, {"eot_id", tok.eot_id()},
                         {"val_fraction", opt.val_fraction}, {"shard_tokens", opt.shard_tokens}, {"sources", sources}};
  write_file_atomic((fs::path(opt.out) / "meta.json").string(), meta.dump(2) + "\n");
  std::printf("wrote %s/meta.json\n", opt.out.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Chapter 01: train a byte-level BPE tokenizer, encode/decode text, write llm.c token shards"};
  app.require_subcommand(1);

  TrainOptions train;
  auto* c_train = app.add_subcommand("train", "train a BPE vocabulary on text files");
  c_train->add_option("--input", train.inputs, "text file(s) to train on")->required();
  c_train->add_option("--vocab-size", train.vocab_size, "mergeable ranks: 256 bytes + merges (specials come after)")->required();
  c_train->add_option("--pattern", train.pattern, "split regex: gpt2 or gpt4")->capture_default_str();
  c_train->add_option("--out", train.out, "output tokenizer folder")->required();
  c_train->add_option("--threads", train.threads, "threads for splitting the text (0 = all)")->capture_default_str();
  c_train->add_flag("--naive", train.naive, "use the naive trainer (recount every pair at every merge; slow)");

  EncodeOptions enc;
  auto* c_encode = app.add_subcommand("encode", "text on stdin → token ids on stdout");
  c_encode->add_option("--tokenizer", enc.tokenizer_dir, "tokenizer folder (ours, or GPT-2's encoder.json + vocab.bpe)")->required();
  c_encode->add_option("--allowed-special", enc.allowed_special, "none: special tokens are plain text; all: they become their ids")
      ->capture_default_str();
  c_encode->add_flag("--jsonl", enc.jsonl, "each input line is {\"text\": …}; each output line {\"ids\": […]}");
  c_encode->add_option("--threads", enc.threads, "threads (0 = all)")->capture_default_str();

  std::string decode_dir;
  auto* c_decode = app.add_subcommand("decode", "token ids on stdin → text on stdout");
  c_decode->add_option("--tokenizer", decode_dir, "tokenizer folder")->required();

  ShardOptions shard;
  auto* c_shard = app.add_subcommand("shard", "encode text files into llm.c token shards + meta.json");
  c_shard->add_option("--tokenizer", shard.tokenizer_dir, "tokenizer folder")->required();
  c_shard->add_option("--input", shard.inputs, "one text file per source (named by its file stem)")->required();
  c_shard->add_option("--weight", shard.weights, "sampling weight of each source in the mixture (default 1 each)");
  c_shard->add_option("--out", shard.out, "output folder")->required();
  c_shard->add_option("--val-fraction", shard.val_fraction, "last fraction of each source's tokens held out")->capture_default_str();
  c_shard->add_option("--shard-tokens", shard.shard_tokens, "tokens per shard file")->capture_default_str();
  c_shard->add_option("--threads", shard.threads, "threads (0 = all)")->capture_default_str();

  ShowOptions show;
  auto* c_show = app.add_subcommand("show", "show the text with token boundaries coloured");
  c_show->add_option("--tokenizer", show.tokenizer_dir, "tokenizer folder")->required();
  auto* text_opt = c_show->add_option("--text", show.text, "the text (default: stdin)");
  c_show->add_flag("--no-color", show.no_color, "plain [brackets] even on a terminal");
  c_show->add_flag("--ids", show.ids, "also print the token ids");

  StatsOptions stats;
  auto* c_stats = app.add_subcommand("stats", "bytes/token, tokens/word and ids used on a file");
  c_stats->add_option("--tokenizer", stats.tokenizer_dir, "tokenizer folder")->required();
  c_stats->add_option("--input", stats.input, "text file")->required();
  c_stats->add_option("--threads", stats.threads, "threads (0 = all)")->capture_default_str();

  WorldConfig world;
  std::string world_out;
  auto* c_world = app.add_subcommand("world", "write the verifiable world's data sets (common/world/README.md)");
  add_world_options(*c_world, world);
  c_world->add_option("--out", world_out, "output folder")->required();

  CLI11_PARSE(app, argc, argv);
  const char* which = app.get_subcommands().front()->get_name().c_str();
  try {
    if (c_train->parsed()) run_train(train);
    else if (c_encode->parsed()) run_encode(enc);
    else if (c_decode->parsed()) run_decode(decode_dir);
    else if (c_shard->parsed()) run_shard(shard);
    else if (c_show->parsed()) { show.text_given = text_opt->count() > 0; run_show(show); }
    else if (c_stats->parsed()) run_stats(stats);
    else if (c_world->parsed()) return write_world(world, world_out);
  } catch (const std::exception& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "tokenizer %s: error: %s\n", which, e.what());
    return 1;
  }
  return 0;
}
