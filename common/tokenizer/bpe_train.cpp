#include "common/tokenizer/bpe_train.h"

#include <algorithm>
#include <atomic>
#include <bit>
#include <functional>
#include <map>
#include <queue>
#include <stdexcept>
#include <thread>

#include "common/io/atomic_file.h"

namespace sog {

// ---- counting chunks ---------------------------------------------------------------------------

namespace {

// unordered_map keyed by std::string that can be looked up with a string_view (no allocation for
// chunks already seen).
struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
using FastChunkCounts = std::unordered_map<std::string, int64_t, StringHash, std::equal_to<>>;

// Cut `text` into about `n_pieces` pieces at places where splitting changes no chunk
// (is_safe_split_point: right after a '\n' that follows a non-space and precedes a non-space), so
// the pieces can be pre-tokenized on their own.
std::vector<std::string_view> split_at_safe_points(std::string_view text, size_t n_pieces) {
  std::vector<std::string_view> pieces;
  size_t target = std::max<size_t>(1, text.size() / std::max<size_t>(1, n_pieces));
  size_t start = 0;
  while (start < text.size()) {
    size_t cut = text.size();
    for (size_t pos = start + target; pos < text.size();) {
      size_t nl = text.find('\n', pos);
      if (nl == std::string_view::npos) break;
      if (is_safe_split_point(text, nl + 1)) {
        cut = nl + 1;
        break;
      }
      pos = nl + 1;
    }
    pieces.push_back(text.substr(start, cut - start));
    start = cut;
  }
  return pieces;
}

int resolve_threads(int threads) {
  if (threads > 0) return threads;
  return std::max(1u, std::thread::hardware_concurrency());
}

}  // namespace

ChunkCounts count_chunks(std::string_view text, SplitPattern pattern, int threads) {
  threads = resolve_threads(threads);
  std::vector<std::string_view> pieces = split_at_safe_points(text, static_cast<size_t>(threads) * 8);
  std::vector<FastChunkCounts> per_thread(static_cast<size_t>(threads));
  std::atomic<size_t> next_piece{0};
  std::vector<std::exception_ptr> errors(static_cast<size_t>(threads));
  auto work = [&](int t) {
    try {
      FastChunkCounts& counts = per_thread[static_cast<size_t>(t)];
      for (size_t i = next_piece++; i < pieces.size(); i = next_piece++) {
        pretokenize(pieces[i], pattern, [&](std::string_view chunk) {
          auto it = counts.find(chunk);
          if (it == counts.end()) counts.emplace(std::string(chunk), 1);
          else ++it->second;
        });
      }
    } catch (...) {
      errors[static_cast<size_t>(t)] = std::current_exception();
    }
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(work, t);
  work(0);
  for (auto& th : pool) th.join();
  for (auto& e : errors) if (e) std::rethrow_exception(e);

  ChunkCounts total;
  for (auto& counts : per_thread) {
    for (auto& [chunk, n] : counts) total[chunk] += n;
  }
  return total;
}

ChunkCounts count_chunks_in_files(const std::vector<std::string>& paths, SplitPattern pattern, int threads) {
  if (paths.empty()) throw std::runtime_error("count_chunks_in_files: no input files given");
  ChunkCounts total;
  for (const std::string& path : paths) {
    std::string text = read_file(path);
    if (text.empty()) throw std::runtime_error(path + ": the input file is empty (expected some text to train on)");
    ChunkCounts counts = count_chunks(text, pattern, threads);
    if (total.empty()) total = std::move(counts);
    else for (auto& [chunk, n] : counts) total[chunk] += n;
  }
  return total;
}

// ---- shared by both trainers -------------------------------------------------------------------

namespace {

struct Words {
  std::vector<std::vector<int32_t>> tokens;  // word w as token ids (initially its bytes)
  std::vector<int64_t> counts;               // how often word w occurs
};

// The unique chunks in sorted order (so that the result never depends on hash-map order), each as
// its bytes.
Words make_words(const ChunkCounts& chunk_counts) {
  std::vector<const std::pair<const std::string, int64_t>*> sorted;
  sorted.reserve(chunk_counts.size());
  for (const auto& kv : chunk_counts) {
    if (!kv.first.empty() && kv.second > 0) sorted.push_back(&kv);
  }
  std::sort(sorted.begin(), sorted.end(), [](auto* a, auto* b) { return a->first < b->first; });
  Words words;
  words.tokens.reserve(sorted.size());
  words.counts.reserve(sorted.size());
  for (auto* kv : sorted) {
    std::vector<int32_t> ids(kv->first.size());
    for (size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<unsigned char>(kv->first[i]);
    words.tokens.push_back(std::move(ids));
    words.counts.push_back(kv->second);
  }
  return words;
}

void check_train_args(const ChunkCounts& chunk_counts, int vocab_size, const char* who) {
  if (vocab_size < 256) {
    throw std::invalid_argument(std::string(who) + ": vocab_size must be at least 256 (the 256 byte tokens), got " +
                                std::to_string(vocab_size));
  }
  bool any = false;
  for (const auto& [chunk, n] : chunk_counts) any = any || (!chunk.empty() && n > 0);
  if (!any) throw std::invalid_argument(std::string(who) + ": the input is empty (no text to train on)");
}

BpeTrainResult byte_vocabulary() {
  BpeTrainResult result;
  for (int b = 0; b < 256; ++b) result.ranks.emplace_back(1, static_cast<char>(b));
  return result;
}

[[noreturn]] void throw_out_of_pairs(const char* who, int vocab_size, size_t merges_done) {
  throw std::invalid_argument(std::string(who) + ": vocab_size " + std::to_string(vocab_size) + " needs " +
                              std::to_string(vocab_size - 256) + " merges, but the data allows only " +
                              std::to_string(merges_done) + " (no adjacent pair of tokens is left; at most vocab_size " +
                              std::to_string(256 + merges_done) + ")");
}

uint64_t pair_key(int32_t a, int32_t b) { return (static_cast<uint64_t>(a) << 32) | static_cast<uint32_t>(b); }
int32_t key_left(uint64_t k) { return static_cast<int32_t>(k >> 32); }
int32_t key_right(uint64_t k) { return static_cast<int32_t>(k & 0xffffffffu); }

}  // namespace

// ---- the naive trainer (minbpe's first lecture) ------------------------------------------------

BpeTrainResult train_bpe_naive(const ChunkCounts& chunk_counts, int vocab_size) {
  check_train_args(chunk_counts, vocab_size, "train_bpe_naive");
  Words words = make_words(chunk_counts);
  BpeTrainResult result = byte_vocabulary();
  for (int id = 256; id < vocab_size; ++id) {
    // count every adjacent pair, weighted by how often its chunk occurs
    std::map<std::pair<int32_t, int32_t>, int64_t> stats;
    for (size_t w = 0; w < words.tokens.size(); ++w) {
      const auto& t = words.tokens[w];
      for (size_t i = 0; i + 1 < t.size(); ++i) stats[{t[i], t[i + 1]}] += words.counts[w];
    }
    if (stats.empty()) throw_out_of_pairs("train_bpe_naive", vocab_size, result.merges.size());
    // the most frequent; std::map iterates pairs in increasing order, so '>' keeps the smallest on ties
    auto best = stats.begin();
    for (auto it = stats.begin(); it != stats.end(); ++it) if (it->second > best->second) best = it;
    auto [a, b] = best->first;
    // replace every (a,b), left to right, by the new id
    for (auto& t : words.tokens) {
      std::vector<int32_t> out;
      for (size_t i = 0; i < t.size(); ++i) {
        if (i + 1 < t.size() && t[i] == a && t[i + 1] == b) { out.push_back(id); ++i; }
        else out.push_back(t[i]);
      }
      t = std::move(out);
    }
    result.merges.emplace_back(a, b);
    result.ranks.push_back(result.ranks[static_cast<size_t>(a)] + result.ranks[static_cast<size_t>(b)]);
  }
  return result;
}

// ---- the fast trainer --------------------------------------------------------------------------

namespace {

// Everything known about one pair of tokens.
struct PairStats {
  uint64_t key = 0;            // pair_key(left, right)
  int64_t count = 0;           // occurrences in the corpus (≤ 0: gone)
  int64_t pending = 0;         // change of count during the current merge
  bool touched = false;        // has a pending change
  std::vector<int32_t> words;  // words where the pair occurs (may hold stale entries and repeats)
};

// pair key → index into the PairStats table: open addressing with linear probing, Fibonacci
// hashing, never erased (a pair that disappears keeps its slot with count 0). Several times faster
// than std::unordered_map here, where these lookups are most of the work.
class PairIndex {
 public:
  PairIndex() { rehash(1 << 16); }
  // The index of `key`, or -1.
  int32_t find(uint64_t key) const {
    for (size_t s = slot(key);; s = (s + 1) & mask_) {
      if (keys_[s] == key) return vals_[s];
      if (keys_[s] == kEmpty) return -1;
    }
  }
  // The index of `key`, inserting `next_index` for a new key.
  int32_t find_or_insert(uint64_t key, int32_t next_index) {
    if (2 * (size_ + 1) > keys_.size()) rehash(keys_.size() * 2);
    size_t s = slot(key);
    for (; keys_[s] != kEmpty; s = (s + 1) & mask_) {
      if (keys_[s] == key) return vals_[s];
    }
    keys_[s] = key;
    vals_[s] = next_index;
    ++size_;
    return next_index;
  }

 private:
  static constexpr uint64_t kEmpty = ~0ull;  // never a pair key: ids are < 2^31
  size_t slot(uint64_t key) const { return static_cast<size_t>((key * 0x9E3779B97F4A7C15ull) >> shift_); }
  void rehash(size_t capacity) {
    std::vector<uint64_t> old_keys = std::move(keys_);
    std::vector<int32_t> old_vals = std::move(vals_);
    keys_.assign(capacity, kEmpty);
    vals_.assign(capacity, -1);
    mask_ = capacity - 1;
    shift_ = 64 - std::countr_zero(capacity);
    size_ = 0;
    for (size_t i = 0; i < old_keys.size(); ++i) {
      if (old_keys[i] != kEmpty) find_or_insert(old_keys[i], old_vals[i]);
    }
  }
  std::vector<uint64_t> keys_;
  std::vector<int32_t> vals_;
  size_t mask_ = 0, size_ = 0;
  int shift_ = 0;
};

struct HeapEntry {
  int64_t count;
  uint64_t key;
  int32_t index;  // into the PairStats table
  // priority_queue pops the largest: higher count first, then the smaller (left, right) pair
  bool operator<(const HeapEntry& o) const { return count != o.count ? count < o.count : key > o.key; }
};

// Replace (a,b) by z in one word, left to right, in place. For each occurrence, the pairs around it
// change: (prev,a)→(prev,z) and (b,next)→(z,next); the pair (a,b) itself disappears. Reports each
// change as delta(key, ±1); `prev` is the already-rewritten left neighbour, so back-to-back
// occurrences ("a b a b") come out right: (z,a) is added by the first and removed by the second.
template <class Delta>
void merge_word(std::vector<int32_t>& t, int32_t a, int32_t b, int32_t z, Delta&& delta) {
  size_t n = t.size(), j = 0;
  for (size_t i = 0; i < n;) {
    if (i + 1 < n && t[i] == a && t[i + 1] == b) {
      if (j > 0) { delta(pair_key(t[j - 1], a), -1); delta(pair_key(t[j - 1], z), +1); }
      delta(pair_key(a, b), -1);
      if (i + 2 < n) { delta(pair_key(b, t[i + 2]), -1); delta(pair_key(z, t[i + 2]), +1); }
      t[j++] = z;
      i += 2;
    } else {
      t[j++] = t[i++];
    }
  }
  t.resize(j);
}

}  // namespace

BpeTrainResult train_bpe(const ChunkCounts& chunk_counts, int vocab_size) {
  check_train_args(chunk_counts, vocab_size, "train_bpe");
  Words words = make_words(chunk_counts);
  BpeTrainResult result = byte_vocabulary();
  const int n_merges = vocab_size - 256;
  result.merges.reserve(static_cast<size_t>(n_merges));

  // pair counts and where each pair occurs, from one pass over the unique words
  PairIndex index;
  std::vector<PairStats> pairs;
  auto pair_at = [&](uint64_t key) -> PairStats& {
    int32_t i = index.find_or_insert(key, static_cast<int32_t>(pairs.size()));
    if (i == static_cast<int32_t>(pairs.size())) {
      pairs.emplace_back();
      pairs.back().key = key;
    }
    return pairs[static_cast<size_t>(i)];
  };
  for (size_t w = 0; w < words.tokens.size(); ++w) {
    const auto& t = words.tokens[w];
    for (size_t i = 0; i + 1 < t.size(); ++i) {
      PairStats& p = pair_at(pair_key(t[i], t[i + 1]));
      p.count += words.counts[w];
      if (p.words.empty() || p.words.back() != static_cast<int32_t>(w)) p.words.push_back(static_cast<int32_t>(w));
    }
  }
  std::vector<HeapEntry> initial;
  initial.reserve(pairs.size());
  for (size_t i = 0; i < pairs.size(); ++i) initial.push_back({pairs[i].count, pairs[i].key, static_cast<int32_t>(i)});
  std::priority_queue<HeapEntry> heap(std::less<HeapEntry>{}, std::move(initial));

  std::vector<int32_t> touched;  // pairs with a pending change in this merge
  for (int k = 0; k < n_merges; ++k) {
    // the best pair: an entry's count may be stale (too high, as counts only ever decrease except
    // for pairs with the new token, which are pushed afresh); a stale entry is re-pushed with the
    // true count, so the first entry whose count is current is the true maximum.
    int32_t best = -1;
    while (!heap.empty()) {
      HeapEntry top = heap.top();
      heap.pop();
      const int64_t count = pairs[static_cast<size_t>(top.index)].count;
      if (count <= 0) continue;
      if (count != top.count) { heap.push({count, top.key, top.index}); continue; }
      best = top.index;
      break;
    }
    if (best < 0) throw_out_of_pairs("train_bpe", vocab_size, result.merges.size());

    const uint64_t best_key = pairs[static_cast<size_t>(best)].key;
    const int32_t a = key_left(best_key), b = key_right(best_key), z = 256 + k;
    result.merges.emplace_back(a, b);
    result.ranks.push_back(result.ranks[static_cast<size_t>(a)] + result.ranks[static_cast<size_t>(b)]);

    // every occurrence goes now; (a,b) can never form again
    std::vector<int32_t> where = std::move(pairs[static_cast<size_t>(best)].words);
    pairs[static_cast<size_t>(best)].words = {};
    pairs[static_cast<size_t>(best)].count = 0;
    std::sort(where.begin(), where.end());
    where.erase(std::unique(where.begin(), where.end()), where.end());

    touched.clear();
    for (int32_t w : where) {
      const int64_t n = words.counts[static_cast<size_t>(w)];
      merge_word(words.tokens[static_cast<size_t>(w)], a, b, z, [&](uint64_t key, int sign) {
        if (key == best_key) return;
        // a pair that loses a count exists already; a pair with the new token may be new
        int32_t i = sign > 0 ? static_cast<int32_t>(&pair_at(key) - pairs.data()) : index.find(key);
        PairStats& p = pairs[static_cast<size_t>(i)];
        p.pending += sign * n;
        if (!p.touched) { p.touched = true; touched.push_back(i); }
        if (sign > 0 && (p.words.empty() || p.words.back() != w)) p.words.push_back(w);
      });
    }
    for (int32_t i : touched) {
      PairStats& p = pairs[static_cast<size_t>(i)];
      const int64_t d = p.pending;
      p.count += d;
      p.pending = 0;
      p.touched = false;
      if (p.count <= 0) { p.count = 0; p.words = {}; }
      else if (d > 0) heap.push({p.count, p.key, i});
    }
  }
  return result;
}

}  // namespace sog
