// The byte-level BPE tokenizer runtime shared by every chapter: text -> ids -> text.
//
// Vocabulary, tiktoken's notion: ranks[i] is the byte string of token id i, and the rank is also the
// merge priority (a lower rank merges first). Ids 0..n_ranks-1 are these "mergeable" tokens; special
// tokens (<|endoftext|>, chat and tool markers, special_tokens.h) get ids of their own, usually
// right after the ranks.
//
// Encoding (tiktoken's algorithm):
//   1. pre-tokenize the text into chunks (pretokenize.h);
//   2. for each chunk: if the whole chunk is a token, that is its id; otherwise start from single
//      bytes and repeatedly merge the adjacent pair whose concatenation has the lowest rank (ties:
//      the leftmost pair), until no adjacent pair is a token.
//        " lower" -> ' ' 'l' 'o' 'w' 'e' 'r' -> ' l' 'o' 'w' 'e' 'r' -> ... -> ' lower'  (one id)
//   Chunk -> ids is cached (bounded, per thread) because words repeat.
//
// Special tokens: with AllowedSpecial::all, occurrences of the special strings are cut out first and
// become their ids. With AllowedSpecial::none they are ordinary text (tiktoken's encode_ordinary).
// Unlike tiktoken's encode(), we never raise on a special string in the text: the caller chooses,
// and "none" is the safe choice for untrusted text (a user cannot forge an <|end|>).
//
// Files (save/load, one folder):
//   tokenizer.tiktoken  tiktoken's rank file: base64(token bytes) + ' ' + rank, one line per rank, in
//                       rank order (the format of cl100k_base.tiktoken)
//   tokenizer.json      {"format":"stateofgpt-tokenizer","version":1,"pattern":"gpt2",
//                        "pattern_regex":"...","n_ranks":N,"special_tokens":{"<|endoftext|>":N,...}}
//   vocab.txt           human-readable, one line per id: "id [token]" (not read back)
// load() also reads OpenAI's GPT-2 release (encoder.json + vocab.bpe) and then matches GPT-2 exactly,
// and a Hugging Face byte-level BPE folder (vocab.json + merges.txt [+ tokenizer.json]: hf_files.cpp).
#pragma once
#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/tokenizer/pretokenize.h"
#include "common/tokenizer/special_tokens.h"
#include "common/tokenizer/utf8.h"

namespace sog {

enum class AllowedSpecial { none, all };

class Tokenizer {
 public:
  static constexpr int32_t kMaxRanks = (1 << 21) - 1;
  // ranks[i] = the bytes of token id i; specials: name -> id (each id >= ranks.size(), unique).
  // At most kMaxRanks ranks (2^21 - 1; cl100k has 100k, o200k 200k).
  // Throws std::invalid_argument for duplicate tokens, clashing ids, or an empty/odd vocabulary.
  static Tokenizer from_ranks(std::vector<std::string> ranks, SplitPattern pattern,
                              std::vector<std::pair<std::string, int32_t>> specials);
  // dir holds our format (tokenizer.tiktoken + tokenizer.json), OpenAI's GPT-2 files
  // (encoder.json + vocab.bpe, pattern gpt2, <|endoftext|> = 50256) or Hugging Face's (load_hf).
  static Tokenizer load(const std::string& dir);
  static Tokenizer load_gpt2(const std::string& encoder_json, const std::string& vocab_bpe);
  // A tiktoken rank file, e.g. cl100k_base.tiktoken, with the pattern and specials given here.
  static Tokenizer load_tiktoken(const std::string& rank_file, SplitPattern pattern,
                                 std::vector<std::pair<std::string, int32_t>> specials);
  // Writes dir/tokenizer.tiktoken, dir/tokenizer.json and dir/vocab.txt, each atomically.
  void save(const std::string& dir) const;
  // Hugging Face's files for the same tokenizer (hf_files.cpp): vocab.json, merges.txt, tokenizer.json,
  // tokenizer_config.json and special_tokens_map.json, so that AutoTokenizer.from_pretrained(dir)
  // gives our ids. Each merge is recovered from the ranks (merge_parents); std::runtime_error for a
  // token that is no merge of two lower-ranked tokens.
  void save_hf(const std::string& dir, int64_t model_max_length) const;
  // A Hugging Face byte-level BPE tokenizer: tokenizer.json (its model, pre-tokenizer and added
  // tokens) or vocab.json + merges.txt (GPT-2's regex). Ids stay Hugging Face's; refuses (naming
  // the file and field) what our BPE cannot reproduce.
  static Tokenizer load_hf(const std::string& dir);
  // A copy with the given special tokens added (ids n_vocab(), n_vocab()+1, ... for those not yet
  // present), e.g. the GPT-2 tokenizer plus the chat tokens.
  Tokenizer with_specials(std::span<const std::string_view> names) const;

  std::vector<int32_t> encode(std::string_view text, AllowedSpecial allowed = AllowedSpecial::none) const;
  std::vector<int32_t> encode_ordinary(std::string_view text) const;  // = encode(text, none)
  // Large inputs: cut at safe line boundaries (is_safe_split_point), encode the pieces on `threads`
  // threads, concatenate in order. Gives exactly the ids of encode().
  std::vector<int32_t> encode_parallel(std::string_view text, AllowedSpecial allowed, int threads) const;
  // Appends the ids of one chunk (a single pre-token) to out: the BPE step alone.
  void encode_chunk(std::string_view chunk, std::vector<int32_t>& out) const;

  std::string decode_bytes(std::span<const int32_t> ids) const;  // raw bytes; bad id -> error naming it
  std::string decode(std::span<const int32_t> ids) const;        // invalid UTF-8 -> U+FFFD (errors="replace")
  const std::string& token_bytes(int32_t id) const;              // a special's bytes are its name

  int32_t n_vocab() const { return n_vocab_; }  // ranks + specials (max id + 1)
  int32_t n_ranks() const { return static_cast<int32_t>(ranks_.size()); }
  std::optional<int32_t> special_id(std::string_view name) const;
  // The id of a special token the caller cannot do without; std::runtime_error naming `user`, the
  // token and the hint when the vocabulary lacks it (GPT-2's has none of the chat and tool tokens).
  int32_t require_special_id(std::string_view name, std::string_view user) const;
  int32_t eot_id() const;  // <|endoftext|>; std::runtime_error if absent
  SplitPattern pattern() const { return pattern_; }
  const std::vector<std::pair<std::string, int32_t>>& specials() const { return specials_; }
  // Empties the calling thread's chunk -> ids cache (benchmarks measure a cold cache with it).
  static void clear_thread_cache();
  // The rank (= id) of a byte string, if it is a mergeable token.
  std::optional<int32_t> rank_of(std::string_view bytes) const;
  // The two tokens (left id, right id) that BPE merged into the mergeable token `id`: BPE of its
  // bytes with only the ranks below its own ends in exactly two parts, for a vocabulary that BPE
  // training produced. nullopt for a single byte, or when the parts are not two.
  //   " lower" (rank r) -> ' ' l o w e r -> ... -> " low" + "er"
  std::optional<std::pair<int32_t, int32_t>> merge_parents(int32_t id) const;

 private:
  Tokenizer() = default;
  void build_index();
  void build_pair_index();
  int32_t lookup(const char* data, size_t len) const;  // rank, or -1
  int32_t merged(int32_t left, int32_t right) const;   // rank of the two tokens' concatenation, or INT32_MAX
  void bpe_merge(std::string_view chunk, std::vector<int32_t>& out) const;
  void bpe_merge_long(std::string_view chunk, std::vector<int32_t>& out) const;
  void encode_ordinary_into(std::string_view text, std::vector<int32_t>& out) const;

  // Open-addressing table from token bytes to rank. A slot holds the token's first 8 bytes and its
  // length, so a token of up to 8 bytes is found without touching ranks_; rank -1 = empty.
  struct Slot {
    uint64_t head;
    uint32_t len;
    int32_t rank;
  };
  std::vector<std::string> ranks_;
  std::vector<Slot> table_;
  uint64_t table_mask_ = 0;
  // The same vocabulary as pairs of tokens: (left id, right id) -> id of left+right, for every way
  // of cutting every token into two tokens. BPE then merges ids without touching bytes.
  // A slot packs left (21 bits), right (21 bits) and the merged rank (21 bits) into 8 bytes, so the
  // table of GPT-2's 108k pairs is 2 MiB; all ones = empty.
  using PairSlot = uint64_t;
  std::vector<PairSlot> pair_table_;
  uint64_t pair_mask_ = 0;
  std::array<int32_t, 256> byte_rank_{};  // the rank of each single byte
  SplitPattern pattern_ = SplitPattern::gpt2;
  std::vector<std::pair<std::string, int32_t>> specials_;  // in id order
  int32_t n_vocab_ = 0;
  uint64_t cache_key_ = 0;  // identifies the vocabulary to the per-thread chunk cache
};

}  // namespace sog
