// The Tokenizer's vocabulary index, BPE encoding and decoding. File formats are in tokenizer_io.cpp
// (ours) and gpt2_files.cpp (OpenAI's).
//
// Speed comes from four choices:
//   - the pre-tokenizer is a hand-written scanner, not a regex engine (pretokenize.cpp);
//   - token bytes -> rank is a flat open-addressing table whose slots hold a token's first 8 bytes,
//     so the usual whole-chunk hit (" the") costs one hash and one cache line;
//   - BPE merges ids, not bytes: every part of a chunk is a token, so "is left+right a token, and of
//     which rank" is a lookup of the pair (left id, right id) in a second table built at load time
//     from every way of cutting every token in two (108k pairs for GPT-2, 8 bytes each);
//   - chunk -> ids is cached per thread (bounded), so a word that repeats costs one lookup.
// A chunk longer than kLinearMergeMax bytes is merged with a heap instead of tiktoken's linear scan,
// so a pathological chunk (a million spaces) costs O(n log n) instead of O(n^2); both give the same
// merges (lowest rank first, the leftmost of equal ranks).
#include "common/tokenizer/tokenizer.h"

#include <algorithm>
#include <atomic>
#include <climits>
#include <cstring>
#include <queue>
#include <stdexcept>
#include <thread>

namespace sog {
namespace {

constexpr size_t kLinearMergeMax = 128;     // bytes; longer chunks use the heap merge
constexpr size_t kCacheMaxChunk = 256;      // bytes; longer chunks are not cached
constexpr size_t kCacheSlots = 1 << 16;     // per thread; cleared when half full

inline uint64_t hash_bytes(const char* p, size_t n) {
  uint64_t h = 0x9E3779B97F4A7C15ull ^ (n * 0xC2B2AE3D27D4EB4Full);
  while (n >= 8) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    h = (h ^ w) * 0xBF58476D1CE4E5B9ull;
    h ^= h >> 31;
    p += 8;
    n -= 8;
  }
  uint64_t w = 0;
  std::memcpy(&w, p, n);
  h = (h ^ w) * 0x94D049BB133111EBull;
  h ^= h >> 29;
  h *= 0xBF58476D1CE4E5B9ull;
  return h ^ (h >> 32);
}

// The first 8 bytes (zero-padded), as stored in a Slot.
inline uint64_t head_bytes(const char* p, size_t n) {
  uint64_t w = 0;
  std::memcpy(&w, p, n < 8 ? n : 8);
  return w;
}

std::atomic<uint64_t> g_next_cache_key{1};

// chunk bytes -> ids, per thread, for the vocabulary whose cache_key_ is `owner`.
struct ChunkCache {
  struct Entry {
    uint64_t hash = 0;
    uint32_t key_off = 0, key_len = 0, ids_off = 0, ids_len = 0;  // key_len 0 = empty slot
  };
  uint64_t owner = 0;
  std::vector<Entry> slots;
  std::string keys;
  std::vector<int32_t> ids;
  size_t count = 0;

  void reset(uint64_t new_owner) {
    owner = new_owner;
    slots.assign(kCacheSlots, Entry{});
    keys.clear();
    ids.clear();
    count = 0;
  }
  // The ids of chunk, or nullptr; *len gets their count.
  const int32_t* find(std::string_view chunk, uint64_t h, uint32_t* len) const {
    for (size_t s = h & (kCacheSlots - 1);; s = (s + 1) & (kCacheSlots - 1)) {
      const Entry& e = slots[s];
      if (e.key_len == 0) return nullptr;
      if (e.hash == h && e.key_len == chunk.size() && std::memcmp(keys.data() + e.key_off, chunk.data(), chunk.size()) == 0) {
        *len = e.ids_len;
        return ids.data() + e.ids_off;
      }
    }
  }
  void insert(std::string_view chunk, uint64_t h, const int32_t* chunk_ids, size_t n_ids) {
    if (count >= kCacheSlots / 2) reset(owner);
    size_t s = h & (kCacheSlots - 1);
    while (slots[s].key_len != 0) s = (s + 1) & (kCacheSlots - 1);
    slots[s] = {h, static_cast<uint32_t>(keys.size()), static_cast<uint32_t>(chunk.size()),
                static_cast<uint32_t>(ids.size()), static_cast<uint32_t>(n_ids)};
    keys.append(chunk);
    ids.insert(ids.end(), chunk_ids, chunk_ids + n_ids);
    ++count;
  }
};

ChunkCache& thread_cache(uint64_t owner) {
  thread_local ChunkCache cache;
  if (cache.owner != owner) cache.reset(owner);
  return cache;
}

}  // namespace

void Tokenizer::clear_thread_cache() { thread_cache(0).reset(0); }

// ---- construction and the rank index ----------------------------------------------------------

Tokenizer Tokenizer::from_ranks(std::vector<std::string> ranks, SplitPattern pattern,
                                std::vector<std::pair<std::string, int32_t>> specials) {
  if (ranks.size() < 256 || ranks.size() > static_cast<size_t>(kMaxRanks)) {
    throw std::invalid_argument("Tokenizer::from_ranks: expected 256 (the single bytes) to " + std::to_string(kMaxRanks) +
                                " ranks, found " + std::to_string(ranks.size()));
  }
  Tokenizer t;
  t.ranks_ = std::move(ranks);
  t.pattern_ = pattern;
  t.build_index();
  for (int b = 0; b < 256; ++b) {
    const char c = static_cast<char>(b);
    t.byte_rank_[b] = t.lookup(&c, 1);
    if (t.byte_rank_[b] < 0) {
      throw std::invalid_argument("Tokenizer::from_ranks: the byte " + std::to_string(b) +
                                  " is not a token (byte-level BPE needs all 256 single bytes)");
    }
  }
  t.build_pair_index();
  std::sort(specials.begin(), specials.end(), [](const auto& a, const auto& b) { return a.second < b.second; });
  int32_t max_id = t.n_ranks() - 1;
  for (size_t i = 0; i < specials.size(); ++i) {
    const auto& [name, id] = specials[i];
    if (name.empty()) throw std::invalid_argument("Tokenizer::from_ranks: a special token has an empty name");
    if (id < t.n_ranks() || id > INT32_MAX / 2) {
      throw std::invalid_argument("Tokenizer::from_ranks: special token " + name + " has id " + std::to_string(id) +
                                  ", expected an id >= n_ranks = " + std::to_string(t.n_ranks()));
    }
    for (size_t j = 0; j < i; ++j) {
      if (specials[j].second == id || specials[j].first == name) {
        throw std::invalid_argument("Tokenizer::from_ranks: special tokens " + specials[j].first + " (id " +
                                    std::to_string(specials[j].second) + ") and " + name + " (id " +
                                    std::to_string(id) + ") clash");
      }
    }
    max_id = std::max(max_id, id);
  }
  t.specials_ = std::move(specials);
  t.n_vocab_ = max_id + 1;
  t.cache_key_ = g_next_cache_key.fetch_add(1);
  return t;
}

void Tokenizer::build_index() {
  size_t cap = 1;
  while (cap < ranks_.size() * 2) cap <<= 1;
  table_.assign(cap, Slot{0, 0, -1});
  table_mask_ = cap - 1;
  for (size_t r = 0; r < ranks_.size(); ++r) {
    const std::string& bytes = ranks_[r];
    if (bytes.empty()) throw std::invalid_argument("Tokenizer::from_ranks: rank " + std::to_string(r) + " is empty");
    const int32_t existing = lookup(bytes.data(), bytes.size());
    if (existing >= 0) {
      throw std::invalid_argument("Tokenizer::from_ranks: ranks " + std::to_string(existing) + " and " +
                                  std::to_string(r) + " are the same bytes " + render_token(bytes));
    }
    size_t s = hash_bytes(bytes.data(), bytes.size()) & table_mask_;
    while (table_[s].rank >= 0) s = (s + 1) & table_mask_;
    table_[s] = {head_bytes(bytes.data(), bytes.size()), static_cast<uint32_t>(bytes.size()), static_cast<int32_t>(r)};
  }
}

constexpr uint64_t kNoPair = ~0ull;
constexpr uint64_t kPairKeyMask = (1ull << 42) - 1;

inline uint64_t pair_key(int32_t left, int32_t right) {
  return static_cast<uint64_t>(left) << 21 | static_cast<uint64_t>(right);
}
inline uint64_t hash_pair(uint64_t key) {
  key *= 0xBF58476D1CE4E5B9ull;
  return key ^ (key >> 29);
}

void Tokenizer::build_pair_index() {
  std::vector<uint64_t> slots;  // key | rank << 42
  for (size_t r = 0; r < ranks_.size(); ++r) {
    const std::string& t = ranks_[r];
    for (size_t k = 1; k < t.size(); ++k) {
      const int32_t left = lookup(t.data(), k), right = lookup(t.data() + k, t.size() - k);
      if (left >= 0 && right >= 0) slots.push_back(pair_key(left, right) | static_cast<uint64_t>(r) << 42);
    }
  }
  size_t cap = 1;
  while (cap < slots.size() * 2 + 2) cap <<= 1;
  pair_table_.assign(cap, kNoPair);
  pair_mask_ = cap - 1;
  for (uint64_t slot : slots) {
    size_t s = hash_pair(slot & kPairKeyMask) & pair_mask_;
    while (pair_table_[s] != kNoPair) s = (s + 1) & pair_mask_;
    pair_table_[s] = slot;
  }
}

inline int32_t Tokenizer::merged(int32_t left, int32_t right) const {
  const uint64_t key = pair_key(left, right);
  for (size_t s = hash_pair(key) & pair_mask_;; s = (s + 1) & pair_mask_) {
    const uint64_t slot = pair_table_[s];
    if ((slot & kPairKeyMask) == key) return static_cast<int32_t>(slot >> 42);
    if (slot == kNoPair) return INT32_MAX;
  }
}

inline int32_t Tokenizer::lookup(const char* data, size_t len) const {
  const uint64_t head = head_bytes(data, len);
  for (size_t s = hash_bytes(data, len) & table_mask_;; s = (s + 1) & table_mask_) {
    const Slot& slot = table_[s];
    if (slot.rank < 0) return -1;
    if (slot.len == len && slot.head == head &&
        (len <= 8 || std::memcmp(ranks_[slot.rank].data() + 8, data + 8, len - 8) == 0)) {
      return slot.rank;
    }
  }
}

std::optional<int32_t> Tokenizer::rank_of(std::string_view bytes) const {
  const int32_t r = lookup(bytes.data(), bytes.size());
  if (r < 0) return std::nullopt;
  return r;
}

std::optional<std::pair<int32_t, int32_t>> Tokenizer::merge_parents(int32_t id) const {
  if (id < 0 || id >= n_ranks()) throw std::out_of_range("Tokenizer::merge_parents: " + std::to_string(id) + " is not a mergeable token");
  const std::string_view bytes = ranks_[id];
  std::vector<size_t> starts(bytes.size() + 1);  // the parts are bytes[starts[k], starts[k+1])
  for (size_t k = 0; k <= bytes.size(); ++k) starts[k] = k;
  while (starts.size() > 3) {
    int32_t best_rank = id;
    size_t best = 0;
    for (size_t k = 0; k + 2 < starts.size(); ++k) {
      const int32_t r = lookup(bytes.data() + starts[k], starts[k + 2] - starts[k]);
      if (r >= 0 && r < best_rank) {
        best_rank = r;
        best = k;
      }
    }
    if (best_rank == id) return std::nullopt;
    starts.erase(starts.begin() + static_cast<ptrdiff_t>(best) + 1);
  }
  if (starts.size() != 3) return std::nullopt;
  const int32_t left = lookup(bytes.data(), starts[1]), right = lookup(bytes.data() + starts[1], bytes.size() - starts[1]);
  return std::pair{left, right};
}

Tokenizer Tokenizer::with_specials(std::span<const std::string_view> names) const {
  auto specials = specials_;
  int32_t next = n_vocab_;
  for (std::string_view name : names) {
    if (!special_id(name)) specials.emplace_back(std::string(name), next++);
  }
  Tokenizer t = *this;
  std::sort(specials.begin(), specials.end(), [](const auto& a, const auto& b) { return a.second < b.second; });
  t.specials_ = std::move(specials);
  t.n_vocab_ = next;
  return t;
}

std::optional<int32_t> Tokenizer::special_id(std::string_view name) const {
  for (const auto& [n, id] : specials_) {
    if (n == name) return id;
  }
  return std::nullopt;
}

int32_t Tokenizer::require_special_id(std::string_view name, std::string_view user) const {
  if (auto id = special_id(name)) return *id;
  throw std::runtime_error(std::string(user) + ": the tokenizer has no special token " + std::string(name) +
                           " (train or load it with the project's special tokens, special_tokens.h; a model imported with `pretrain "
                           "import --format hf` gets the chat and tool tokens with --chat-tokens)");
}

int32_t Tokenizer::eot_id() const {
  if (auto id = special_id(kEndOfText)) return *id;
  throw std::runtime_error("Tokenizer::eot_id: this vocabulary has no " + std::string(kEndOfText) + " special token");
}

// ---- BPE ----------------------------------------------------------------------------------------

// tiktoken's byte-pair merge: start from single bytes and merge the adjacent pair whose concatenation
// has the lowest rank (the leftmost of equal ones) until no adjacent pair is a token.
//   " hello" -> ' ' h e l l o -> ' ' h e ll o -> ' h' e ll o -> ... -> ' hello'
// Every part is a token, so "the concatenation of parts i and i+1 is a token, of rank r" is a lookup
// of the pair of ids in pair_table_, and r is also the id of the merged part.
// parts[k] = {id of the k-th token, rank of merging it with the next (INT32_MAX: not a token)}.
void Tokenizer::bpe_merge(std::string_view chunk, std::vector<int32_t>& out) const {
  struct Part {
    int32_t id;
    int32_t rank;
  };
  const size_t n = chunk.size();
  Part parts[kLinearMergeMax];
  for (size_t k = 0; k < n; ++k) parts[k].id = byte_rank_[static_cast<uint8_t>(chunk[k])];
  for (size_t k = 0; k + 1 < n; ++k) parts[k].rank = merged(parts[k].id, parts[k + 1].id);
  parts[n - 1].rank = INT32_MAX;
  size_t m = n;  // parts left
  while (m > 1) {
    size_t best = 0;
    int32_t best_rank = INT32_MAX;
    for (size_t k = 0; k + 1 < m; ++k) {
      if (parts[k].rank < best_rank) {
        best_rank = parts[k].rank;
        best = k;
      }
    }
    if (best_rank == INT32_MAX) break;
    parts[best].id = best_rank;
    std::memmove(&parts[best + 1], &parts[best + 2], (m - best - 2) * sizeof(Part));
    --m;
    parts[best].rank = best + 1 < m ? merged(best_rank, parts[best + 1].id) : INT32_MAX;
    if (best > 0) parts[best - 1].rank = merged(parts[best - 1].id, best_rank);
  }
  for (size_t k = 0; k < m; ++k) out.push_back(parts[k].id);
}

// The same merges with a linked list of tokens and a min-heap of (rank, position): O(n log n).
// An entry is stale when its token is gone or its pair rank changed (a pair's bytes only grow, and
// a rank names one byte string, so a stale rank never becomes current again).
void Tokenizer::bpe_merge_long(std::string_view chunk, std::vector<int32_t>& out) const {
  const int32_t n = static_cast<int32_t>(chunk.size());
  std::vector<int32_t> id(n), next(n), prev(n), pair_rank(n, INT32_MAX);
  std::vector<uint8_t> alive(n, 1);
  using Entry = std::pair<int32_t, int32_t>;  // (rank, position)
  std::priority_queue<Entry, std::vector<Entry>, std::greater<Entry>> heap;
  for (int32_t k = 0; k < n; ++k) {
    id[k] = byte_rank_[static_cast<uint8_t>(chunk[k])];
    next[k] = k + 1;
    prev[k] = k - 1;
  }
  auto update_pair = [&](int32_t k) {  // the rank of merging token k with the next one
    pair_rank[k] = next[k] < n ? merged(id[k], id[next[k]]) : INT32_MAX;
    if (pair_rank[k] != INT32_MAX) heap.emplace(pair_rank[k], k);
  };
  for (int32_t k = 0; k < n; ++k) update_pair(k);
  while (!heap.empty()) {
    const auto [r, k] = heap.top();
    heap.pop();
    if (!alive[k] || pair_rank[k] != r) continue;
    const int32_t j = next[k];  // token j joins token k
    alive[j] = 0;
    id[k] = r;
    next[k] = next[j];
    if (next[k] < n) prev[next[k]] = k;
    update_pair(k);
    if (prev[k] >= 0) update_pair(prev[k]);
  }
  for (int32_t k = 0; k < n; k = next[k]) out.push_back(id[k]);
}

void Tokenizer::encode_chunk(std::string_view chunk, std::vector<int32_t>& out) const {
  if (chunk.empty()) return;
  const int32_t whole = lookup(chunk.data(), chunk.size());
  if (whole >= 0) {
    out.push_back(whole);
    return;
  }
  if (chunk.size() > kCacheMaxChunk) {
    bpe_merge_long(chunk, out);
    return;
  }
  ChunkCache& cache = thread_cache(cache_key_);
  const uint64_t h = hash_bytes(chunk.data(), chunk.size());
  uint32_t n_cached = 0;
  if (const int32_t* ids = cache.find(chunk, h, &n_cached)) {
    out.insert(out.end(), ids, ids + n_cached);
    return;
  }
  const size_t before = out.size();
  if (chunk.size() <= kLinearMergeMax) bpe_merge(chunk, out);
  else bpe_merge_long(chunk, out);
  cache.insert(chunk, h, out.data() + before, out.size() - before);
}

// ---- encode -------------------------------------------------------------------------------------

void Tokenizer::encode_ordinary_into(std::string_view text, std::vector<int32_t>& out) const {
  for (size_t i = 0; i < text.size();) {
    const size_t len = pretoken_length(text, i, pattern_);
    encode_chunk(text.substr(i, len), out);
    i += len;
  }
}

std::vector<int32_t> Tokenizer::encode_ordinary(std::string_view text) const {
  std::vector<int32_t> out;
  out.reserve(text.size() / 3 + 16);
  encode_ordinary_into(text, out);
  return out;
}

std::vector<int32_t> Tokenizer::encode(std::string_view text, AllowedSpecial allowed) const {
  if (allowed == AllowedSpecial::none || specials_.empty()) return encode_ordinary(text);
  std::vector<int32_t> out;
  out.reserve(text.size() / 3 + 16);
  // next_at[s]: where specials_[s] next occurs at or after pos (npos: nowhere).
  std::vector<size_t> next_at(specials_.size(), 0);
  for (size_t s = 0; s < specials_.size(); ++s) next_at[s] = text.find(specials_[s].first);
  size_t pos = 0;
  while (true) {
    size_t best = std::string_view::npos, best_s = 0;
    for (size_t s = 0; s < specials_.size(); ++s) {
      if (next_at[s] != std::string_view::npos && next_at[s] < pos) next_at[s] = text.find(specials_[s].first, pos);
      // the earliest occurrence; at equal positions the longest name
      if (next_at[s] < best || (next_at[s] == best && best != std::string_view::npos &&
                                 specials_[s].first.size() > specials_[best_s].first.size())) {
        best = next_at[s];
        best_s = s;
      }
    }
    if (best == std::string_view::npos) {
      encode_ordinary_into(text.substr(pos), out);
      return out;
    }
    encode_ordinary_into(text.substr(pos, best - pos), out);
    out.push_back(specials_[best_s].second);
    pos = best + specials_[best_s].first.size();
  }
}

std::vector<int32_t> Tokenizer::encode_parallel(std::string_view text, AllowedSpecial allowed, int threads) const {
  constexpr size_t kMinPiece = 64 * 1024;  // bytes; smaller inputs are not worth a thread
  if (threads <= 1 || text.size() < 2 * kMinPiece) return encode(text, allowed);
  // A cut is right after a '\n', so it can only split a special token that contains one.
  for (const auto& [name, id] : specials_) {
    if (allowed == AllowedSpecial::all && name.find('\n') != std::string::npos) return encode(text, allowed);
  }
  // Cut into about 4 pieces per thread (uneven pieces balance out), each at a safe split point.
  const size_t n_pieces = std::min<size_t>(static_cast<size_t>(threads) * 4, text.size() / kMinPiece);
  std::vector<size_t> cuts{0};
  for (size_t k = 1; k < n_pieces; ++k) {
    size_t pos = std::max(text.size() * k / n_pieces, cuts.back() + 1);
    while (pos < text.size() && !is_safe_split_point(text, pos)) {
      const size_t nl = text.find('\n', pos);
      pos = nl == std::string_view::npos ? text.size() : nl + 1;
    }
    if (pos >= text.size()) break;
    cuts.push_back(pos);
  }
  cuts.push_back(text.size());
  const size_t n = cuts.size() - 1;
  std::vector<std::vector<int32_t>> parts(n);
  std::atomic<size_t> next_piece{0};
  auto worker = [&] {
    for (size_t k; (k = next_piece.fetch_add(1)) < n;) parts[k] = encode(text.substr(cuts[k], cuts[k + 1] - cuts[k]), allowed);
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < std::min<int>(threads, static_cast<int>(n)); ++t) pool.emplace_back(worker);
  worker();
  for (auto& th : pool) th.join();
  size_t total = 0;
  for (const auto& part : parts) total += part.size();
  std::vector<int32_t> out;
  out.reserve(total);
  for (const auto& part : parts) out.insert(out.end(), part.begin(), part.end());
  return out;
}

// ---- decode -------------------------------------------------------------------------------------

const std::string& Tokenizer::token_bytes(int32_t id) const {
  if (id >= 0 && id < n_ranks()) return ranks_[id];
  for (const auto& [name, sid] : specials_) {
    if (sid == id) return name;
  }
  throw std::out_of_range("Tokenizer: token id " + std::to_string(id) + " is not in the vocabulary (ranks 0.." +
                          std::to_string(n_ranks() - 1) + ", " + std::to_string(specials_.size()) +
                          " special tokens, n_vocab " + std::to_string(n_vocab_) + ")");
}

std::string Tokenizer::decode_bytes(std::span<const int32_t> ids) const {
  std::string out;
  out.reserve(ids.size() * 4);
  for (size_t i = 0; i < ids.size(); ++i) {
    const int32_t id = ids[i];
    if (id >= 0 && id < n_ranks()) {
      out += ranks_[id];
      continue;
    }
    try {
      out += token_bytes(id);
    } catch (const std::out_of_range& e) {
      throw std::out_of_range(std::string(e.what()) + " at position " + std::to_string(i) + " of " +
                              std::to_string(ids.size()) + " ids");
    }
  }
  return out;
}

std::string Tokenizer::decode(std::span<const int32_t> ids) const { return utf8_replace_invalid(decode_bytes(ids)); }

}  // namespace sog
