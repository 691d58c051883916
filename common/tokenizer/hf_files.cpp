// Hugging Face's byte-level BPE files (the GPT-2 kind), written and read:
//
//   vocab.json              {"!": 0, ..., "Ġthe": 262, ..., "<|endoftext|>": 50256}: token → id, each
//                           token spelled in GPT-2's byte alphabet (byte_alphabet.h)
//   merges.txt              "#version: 0.2", then one merge "Ġ t" per line, in priority order
//   tokenizer.json          the tokenizers library's whole pipeline: no normalizer; the pre-tokenizer
//                           (GPT-2's regex is ByteLevel's own; another pattern is a Split by its regex,
//                           then ByteLevel without regex); the BPE model (vocab + merges); ByteLevel
//                           decoding; added_tokens = our special tokens, each "special": true
//   tokenizer_config.json   the transformers class and the special tokens' roles
//   special_tokens_map.json (bos = eos = unk = <|endoftext|>, as GPT-2's; the others additional)
//
// Ranks and merges. Our BPE (tiktoken's) merges the adjacent pair whose concatenation has the lowest
// rank; Hugging Face's merges the pair listed first in merges.txt. Writing: the merge that made
// token r is recovered from the ranks (Tokenizer::merge_parents: BPE of its bytes with the lower
// ranks ends in two parts) and listed in rank order, so both orders agree; for GPT-2 this gives back
// vocab.bpe line for line. Reading: ids stay Hugging Face's (they index the model's embedding), so
// the mergeable tokens must hold ids 0..n-1 and the ids the merges make must grow down merges.txt;
// then rank = id reproduces the merge order. A vocabulary token that no merge makes and that is no
// single byte is produced by neither BPE; the added tokens (and GPT-2's <|endoftext|>) are special.
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <unordered_map>

#include "common/io/atomic_file.h"
#include "common/tokenizer/byte_alphabet.h"
#include "common/tokenizer/file_errors.h"
#include "common/tokenizer/tokenizer.h"

namespace sog {

using namespace tokenizer_files;
using ojson = nlohmann::ordered_json;

namespace {

ojson byte_level(bool use_regex) {
  return {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", use_regex}};
}

ojson added_token(const std::string& content, int32_t id) {
  return {{"id", id}, {"content", content}, {"single_word", false}, {"lstrip", false},
          {"rstrip", false}, {"normalized", false}, {"special", true}};
}

// {"Ġthe": 262, ...} in id order, written by hand: nlohmann's ordered object looks keys up linearly,
// which is quadratic over GPT-2's 50k tokens.
std::string vocab_object(const std::vector<std::pair<std::string, int32_t>>& entries, const std::string& indent) {
  std::string out = "{";
  for (size_t i = 0; i < entries.size(); ++i) {
    out += (i ? ",\n" : "\n") + indent + "  " + nlohmann::json(entries[i].first).dump() + ": " + std::to_string(entries[i].second);
  }
  return out + "\n" + indent + "}";
}

}  // namespace

void Tokenizer::save_hf(const std::string& dir, int64_t model_max_length) const {
  // The vocabulary in id order, each token in the byte alphabet; the specials under their names.
  std::vector<std::pair<std::string, int32_t>> vocab;
  std::unordered_map<std::string, int32_t> id_of;
  for (int32_t r = 0; r < n_ranks(); ++r) {
    vocab.emplace_back(bytes_to_alphabet(ranks_[r]), r);
    id_of.emplace(vocab.back().first, r);
  }
  for (const auto& [name, id] : specials_) {
    if (auto it = id_of.find(name); it != id_of.end()) {
      throw std::runtime_error(dir + "/vocab.json: special token " + name + " (id " + std::to_string(id) +
                               ") is spelled like the ordinary token " + std::to_string(it->second) +
                               " in GPT-2's byte alphabet; Hugging Face's vocabulary cannot hold both");
    }
    vocab.emplace_back(name, id);
  }
  // One merge per multi-byte token, in rank order.
  ojson merges = ojson::array();
  std::string merges_txt = "#version: 0.2\n";
  for (int32_t r = 0; r < n_ranks(); ++r) {
    if (ranks_[r].size() < 2) continue;
    const auto parents = merge_parents(r);
    if (!parents) {
      throw std::runtime_error(dir + "/merges.txt: token " + std::to_string(r) + " " + quote_token(ranks_[r]) +
                               " is not the merge of two tokens of lower rank, so no merges.txt can make it "
                               "(a vocabulary that BPE training did not produce)");
    }
    const std::string line = vocab[parents->first].first + " " + vocab[parents->second].first;
    merges.push_back(line);
    merges_txt += line + "\n";
  }

  // tokenizer.json
  ojson pre_tokenizer = byte_level(true);  // ByteLevel's regex is GPT-2's
  if (pattern_ != SplitPattern::gpt2) {
    pre_tokenizer = {{"type", "Sequence"},
                     {"pretokenizers", {{{"type", "Split"}, {"pattern", {{"Regex", split_pattern_regex(pattern_)}}},
                                         {"behavior", "Isolated"}, {"invert", false}},
                                        byte_level(false)}}};
  }
  ojson added = ojson::array();
  ojson added_decoder = ojson::object();
  for (const auto& [name, id] : specials_) {
    added.push_back(added_token(name, id));
    ojson entry = added_token(name, id);
    entry.erase("id");
    added_decoder[std::to_string(id)] = entry;
  }
  const std::string kVocabSlot = "@@vocab@@";  // replaced by the vocabulary, written by hand
  ojson tj = {{"version", "1.0"}, {"truncation", nullptr}, {"padding", nullptr}, {"added_tokens", added},
              {"normalizer", nullptr}, {"pre_tokenizer", pre_tokenizer},
              {"post_processor", {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", false}, {"use_regex", true}}},
              {"decoder", {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", true}, {"use_regex", true}}},
              {"model", {{"type", "BPE"}, {"dropout", nullptr}, {"unk_token", nullptr}, {"continuing_subword_prefix", ""},
                         {"end_of_word_suffix", ""}, {"fuse_unk", false}, {"byte_fallback", false},
                         {"vocab", kVocabSlot}, {"merges", merges}}}};
  std::string tokenizer_json = tj.dump(2);
  tokenizer_json.replace(tokenizer_json.find("\"" + kVocabSlot + "\""), kVocabSlot.size() + 2, vocab_object(vocab, "    "));

  // The special tokens' roles: <|endoftext|> is bos, eos and unk (GPT-2's), the rest additional.
  ojson roles = ojson::object();
  ojson additional = ojson::array();
  for (const auto& [name, id] : specials_) {
    if (name == kEndOfText) {
      for (const char* role : {"bos_token", "eos_token", "unk_token"}) roles[role] = name;
    } else {
      additional.push_back(name);
    }
  }
  if (!additional.empty()) roles["additional_special_tokens"] = additional;
  ojson config = {{"tokenizer_class", pattern_ == SplitPattern::gpt2 ? "GPT2Tokenizer" : "PreTrainedTokenizerFast"},
                  {"add_prefix_space", false}, {"add_bos_token", false}, {"clean_up_tokenization_spaces", false},
                  {"errors", "replace"}, {"model_max_length", model_max_length}, {"added_tokens_decoder", added_decoder}};
  config.update(roles);

  std::filesystem::create_directories(dir);
  write_file_atomic(dir + "/vocab.json", vocab_object(vocab, "") + "\n");
  write_file_atomic(dir + "/merges.txt", merges_txt);
  write_file_atomic(dir + "/tokenizer.json", tokenizer_json + "\n");
  write_file_atomic(dir + "/tokenizer_config.json", config.dump(2) + "\n");
  write_file_atomic(dir + "/special_tokens_map.json", roles.dump(2) + "\n");
}

// ---- reading ------------------------------------------------------------------------------------

namespace {

// What a Hugging Face folder says, before it becomes ranks.
struct HfTokenizerFiles {
  std::vector<std::pair<std::string, int64_t>> vocab;  // spelled token → id
  std::string vocab_file;
  struct Merge {
    std::string left, right;
    std::string file;  // merges.txt, or tokenizer.json
    size_t line;       // merges.txt's line, or the index in tokenizer.json's model.merges (1-based)
  };
  std::vector<Merge> merges;
  std::map<std::string, int64_t> added;  // added tokens: content → id
  SplitPattern pattern = SplitPattern::gpt2;
};

// The pre-tokenizer of tokenizer.json → our split pattern, or an error naming it.
SplitPattern pattern_of(const std::string& file, const nlohmann::json& pre) {
  auto is_byte_level = [](const nlohmann::json& p, bool with_regex) {
    return p.is_object() && p.value("type", "") == "ByteLevel" && !p.value("add_prefix_space", false) &&
           p.value("use_regex", true) == with_regex;
  };
  if (is_byte_level(pre, true)) return SplitPattern::gpt2;
  if (pre.is_object() && pre.value("type", "") == "Sequence" && pre.contains("pretokenizers") &&
      pre["pretokenizers"].is_array() && pre["pretokenizers"].size() == 2 && is_byte_level(pre["pretokenizers"][1], false)) {
    const nlohmann::json& split = pre["pretokenizers"][0];
    if (split.is_object() && split.value("type", "") == "Split" && split.value("behavior", "") == "Isolated" &&
        !split.value("invert", false) && split.contains("pattern") && split["pattern"].is_object() &&
        split["pattern"].contains("Regex")) {
      for (SplitPattern p : {SplitPattern::gpt2, SplitPattern::gpt4}) {
        if (split["pattern"]["Regex"] == split_pattern_regex(p)) return p;
      }
    }
  }
  field_error(file, "pre_tokenizer",
              "expected GPT-2's ByteLevel (add_prefix_space false), or a Split by the gpt2 or gpt4 regex "
              "(pretokenize.h) followed by ByteLevel without regex; found " + pre.dump().substr(0, 300));
}

void read_tokenizer_json(const std::string& file, HfTokenizerFiles& out) {
  const nlohmann::json j = parse_json_file(file, read_file(file));
  if (!j.is_object() || !j.contains("model")) fail_at(file, 1, "expected the tokenizers library's JSON with a \"model\"");
  if (j.contains("normalizer") && !j["normalizer"].is_null()) {
    field_error(file, "normalizer", "expected null (byte-level BPE sees the text as it is), found " + j["normalizer"].dump().substr(0, 200));
  }
  out.pattern = pattern_of(file, j.value("pre_tokenizer", nlohmann::json()));
  const nlohmann::json& m = j["model"];
  if (m.value("type", "") != "BPE") field_error(file, "model.type", "expected \"BPE\", found " + m.value("type", nlohmann::json()).dump());
  if (m.contains("dropout") && !m["dropout"].is_null()) field_error(file, "model.dropout", "expected null, found " + m["dropout"].dump());
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    if (m.contains(key) && !m[key].is_null() && m[key] != "") field_error(file, std::string("model.") + key, "expected \"\", found " + m[key].dump());
  }
  if (m.value("byte_fallback", false)) field_error(file, "model.byte_fallback", "expected false (ByteLevel covers every byte)");
  if (!m.contains("vocab") || !m["vocab"].is_object()) field_error(file, "model.vocab", "expected an object {token: id}");
  if (!m.contains("merges") || !m["merges"].is_array()) field_error(file, "model.merges", "expected an array of merges");
  out.vocab_file = file;
  for (const auto& [token, id] : m["vocab"].items()) {
    if (!id.is_number_integer()) field_error(file, "model.vocab", "token " + quote_token(token) + ": expected an integer id, found " + id.dump());
    out.vocab.emplace_back(token, id.get<int64_t>());
  }
  size_t index = 0;
  for (const auto& merge : m["merges"]) {  // "a b" (tokenizers < 0.20) or ["a", "b"]
    ++index;
    if (merge.is_string()) {
      const std::string s = merge.get<std::string>();
      const size_t space = s.find(' ');
      if (space == std::string::npos || space == 0 || space + 1 == s.size() || s.find(' ', space + 1) != std::string::npos) {
        field_error(file, "model.merges", "merge " + std::to_string(index) + ": expected \"<first> <second>\", found " + quote_token(s));
      }
      out.merges.push_back({s.substr(0, space), s.substr(space + 1), file + " model.merges", index});
    } else if (merge.is_array() && merge.size() == 2 && merge[0].is_string() && merge[1].is_string()) {
      out.merges.push_back({merge[0].get<std::string>(), merge[1].get<std::string>(), file + " model.merges", index});
    } else {
      field_error(file, "model.merges", "merge " + std::to_string(index) + ": expected \"a b\" or [\"a\", \"b\"], found " + merge.dump());
    }
  }
  const nlohmann::json added = j.value("added_tokens", nlohmann::json::array());
  for (const auto& t : added) {
    if (!t.is_object() || !t.contains("content") || !t.contains("id") || !t["id"].is_number_integer() || !t["content"].is_string()) {
      field_error(file, "added_tokens", "expected {\"id\": int, \"content\": string, ...}, found " + t.dump());
    }
    out.added[t["content"].get<std::string>()] = t["id"].get<int64_t>();
  }
}

void read_vocab_and_merges(const std::string& dir, HfTokenizerFiles& out) {
  namespace fs = std::filesystem;
  const std::string vocab_file = dir + "/vocab.json", merges_file = dir + "/merges.txt";
  for (const std::string& f : {vocab_file, merges_file}) {
    if (!fs::exists(f)) throw std::runtime_error(f + ": no such file (a Hugging Face BPE tokenizer needs tokenizer.json, or vocab.json + merges.txt)");
  }
  const nlohmann::json vocab = parse_json_file(vocab_file, read_file(vocab_file));
  if (!vocab.is_object()) fail_at(vocab_file, 1, "expected a JSON object {token: id}");
  out.vocab_file = vocab_file;
  for (const auto& [token, id] : vocab.items()) {
    if (!id.is_number_integer()) fail_at(vocab_file, 1, "token " + quote_token(token) + ": expected an integer id, found " + id.dump());
    out.vocab.emplace_back(token, id.get<int64_t>());
  }
  const std::string text = read_file(merges_file);
  size_t line_no = 0;
  for (size_t pos = 0; pos < text.size();) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    std::string_view line(text.data() + pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || (line_no == 1 && line.starts_with("#version"))) continue;
    const auto [left, right] = split_merge(merges_file, line_no, line);
    out.merges.push_back({std::string(left), std::string(right), merges_file, line_no});
  }
  // Added tokens, when transformers wrote them (tokenizer_config.json's added_tokens_decoder).
  const std::string config_file = dir + "/tokenizer_config.json";
  if (fs::exists(config_file)) {
    const nlohmann::json c = parse_json_file(config_file, read_file(config_file));
    if (c.value("add_prefix_space", false)) field_error(config_file, "add_prefix_space", "expected false: our tokenizer adds no space");
    const nlohmann::json added = c.value("added_tokens_decoder", nlohmann::json::object());
    for (const auto& [id, t] : added.items()) {
      if (id.empty() || id.find_first_not_of("0123456789") != std::string::npos || id.size() > 9 || !t.is_object() ||
          !t.contains("content") || !t["content"].is_string()) {
        field_error(config_file, "added_tokens_decoder", "entry \"" + id + "\": expected \"<id>\": {\"content\": string, ...}");
      }
      out.added[t["content"].get<std::string>()] = std::stoll(id);
    }
  }
}

}  // namespace

Tokenizer Tokenizer::load_hf(const std::string& dir) {
  namespace fs = std::filesystem;
  HfTokenizerFiles hf;
  const std::string tokenizer_json = dir + "/tokenizer.json";
  if (fs::exists(tokenizer_json)) {
    read_tokenizer_json(tokenizer_json, hf);
  } else {
    read_vocab_and_merges(dir, hf);
  }

  // The mergeable tokens: the 256 single bytes and every merge's product; ids dense from 0.
  std::unordered_map<std::string, int64_t> id_of;  // spelled token → id
  for (const auto& [token, id] : hf.vocab) {
    if (id < 0 || id > kMaxRanks) throw std::runtime_error(hf.vocab_file + ": token " + quote_token(token) + " has id " + std::to_string(id) + ", out of range");
    id_of[token] = id;
  }
  std::unordered_map<int64_t, std::string> mergeable;  // id → bytes
  for (uint8_t b : byte_alphabet_order()) {
    const std::string spelled = bytes_to_alphabet(std::string(1, static_cast<char>(b)));
    auto it = id_of.find(spelled);
    if (it == id_of.end()) {
      throw std::runtime_error(hf.vocab_file + ": the single byte " + std::to_string(b) + " (" + quote_token(spelled) +
                               ") is not in the vocabulary (byte-level BPE needs all 256)");
    }
    mergeable[it->second] = std::string(1, static_cast<char>(b));
  }
  int64_t last_made = -1;
  for (const auto& m : hf.merges) {
    auto where = [&] { return m.file + ":" + std::to_string(m.line) + ": merge " + quote_token(m.left + " " + m.right); };
    const auto left = alphabet_to_bytes(m.left), right = alphabet_to_bytes(m.right);
    if (!left || !right) throw std::runtime_error(where() + ": expected tokens in GPT-2's byte alphabet");
    for (const std::string* half : {&m.left, &m.right}) {
      if (!id_of.count(*half)) throw std::runtime_error(where() + ": " + quote_token(*half) + " is not in the vocabulary");
    }
    auto it = id_of.find(m.left + m.right);
    if (it == id_of.end()) throw std::runtime_error(where() + ": its product is not in the vocabulary");
    if (mergeable.count(it->second)) continue;  // another way to make a token already made
    if (it->second < last_made) {
      throw std::runtime_error(where() + " makes id " + std::to_string(it->second) + " after an earlier merge made id " +
                               std::to_string(last_made) + ": our BPE ranks merges by id, so the ids the merges make "
                               "must grow down the list");
    }
    last_made = it->second;
    mergeable[it->second] = *left + *right;
  }
  const int64_t n_ranks = static_cast<int64_t>(mergeable.size());
  std::vector<std::string> ranks(static_cast<size_t>(n_ranks));
  for (auto& [id, bytes] : mergeable) {
    if (id >= n_ranks) {
      throw std::runtime_error(hf.vocab_file + ": the " + std::to_string(n_ranks) + " mergeable tokens (bytes and merge products) "
                               "must hold ids 0.." + std::to_string(n_ranks - 1) + ", but " + quote_token(bytes) +
                               " has id " + std::to_string(id));
    }
    ranks[static_cast<size_t>(id)] = std::move(bytes);
  }

  // Special tokens: the added ones, and <|endoftext|> when the vocabulary has it (GPT2Tokenizer's
  // default eos, listed nowhere else in a folder of vocab.json + merges.txt alone). Another entry
  // that no merge makes is never produced by Hugging Face's BPE either: its id stays unused.
  std::map<std::string, int64_t> specials = hf.added;
  for (const auto& [token, id] : hf.vocab) {
    if (id >= n_ranks && (token == kEndOfText || token == "<|startoftext|>") && !specials.count(token)) specials[token] = id;
  }
  std::vector<std::pair<std::string, int32_t>> special_list;
  for (const auto& [name, id] : specials) {
    if (id < n_ranks) {
      throw std::runtime_error(hf.vocab_file + ": added token " + quote_token(name) + " has id " + std::to_string(id) +
                               ", which is a mergeable token's (" + quote_token(ranks[static_cast<size_t>(id)]) +
                               "); special tokens must come after the " + std::to_string(n_ranks) + " mergeable ones");
    }
    special_list.emplace_back(name, static_cast<int32_t>(id));
  }
  try {
    return from_ranks(std::move(ranks), hf.pattern, std::move(special_list));
  } catch (const std::invalid_argument& e) {
    throw std::runtime_error(hf.vocab_file + ": " + e.what());
  }
}

}  // namespace sog
