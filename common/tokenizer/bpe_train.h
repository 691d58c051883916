// Training a byte-level BPE vocabulary (the GPT-2 / GPT-4 kind).
//
// Text is first cut into chunks by the split regex (common/tokenizer/pretokenize.h), so no merge
// ever crosses a word / number / punctuation boundary. Every chunk starts as its UTF-8 bytes, one
// token per byte (token id b = byte b, ids 0..255). Then, vocab_size - 256 times: find the most
// frequent adjacent pair of tokens over the whole corpus, give it the next id, and replace it
// everywhere. The result is the list of merges, in order, and the bytes of every token:
//
//   "aaabdaaabac", vocab 259:   (a,a)→256 "aa"   (256,a)→257 "aaa"   (257,b)→258 "aaab"
//
// Tie-break (documented, deterministic): among pairs with the same count, the smallest
// (left id, right id) wins, as Hugging Face's BpeTrainer does. minbpe takes the first pair in
// dictionary order instead, so on ties the two can differ; on no tie they agree.
//
// Two trainers that produce the same merges:
//   train_bpe_naive — minbpe's loop: recount every pair of every chunk at every merge.
//                     O(merges × corpus); the reference for tests and the lesson.
//   train_bpe       — the fast one: unique chunks counted once (a "word" with a frequency), the
//                     count of every pair, for every pair the words where it occurs, and a max-heap
//                     of (count, pair) with lazy invalidation. A merge touches only the words that
//                     contain the pair and only the pair counts around each occurrence.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/tokenizer/pretokenize.h"

namespace sog {

struct BpeTrainResult {
  std::vector<std::string> ranks;                      // ranks[id] = bytes of token id (256 + merges)
  std::vector<std::pair<int32_t, int32_t>> merges;     // merges[k] = (left, right) → id 256 + k
};

// chunk → how many times it occurs in the corpus.
using ChunkCounts = std::unordered_map<std::string, int64_t>;

// The chunk counts of a text / of files, split with `pattern`, over `threads` threads (0: all
// hardware threads). The text is cut into pieces at chunk boundaries that both patterns respect
// (is_safe_split_point), each piece is pre-tokenized on its own thread, and the per-thread counts
// are summed. Throws, naming the file, for an empty file or
// one that cannot be read.
ChunkCounts count_chunks(std::string_view text, SplitPattern pattern, int threads = 0);
ChunkCounts count_chunks_in_files(const std::vector<std::string>& paths, SplitPattern pattern, int threads = 0);

// vocab_size = number of mergeable ranks (256 byte tokens + merges); special tokens are not
// counted here. Throws for vocab_size < 256, for empty counts, and when the data runs out of pairs
// before vocab_size (saying how many merges were possible).
BpeTrainResult train_bpe(const ChunkCounts& chunk_counts, int vocab_size);
BpeTrainResult train_bpe_naive(const ChunkCounts& chunk_counts, int vocab_size);

}  // namespace sog
