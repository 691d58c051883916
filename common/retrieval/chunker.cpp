#include "common/retrieval/chunker.h"

#include <algorithm>
#include <stdexcept>

#include "common/tokenizer/special_tokens.h"

namespace sog {

namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

// [begin, end) of `text` without the whitespace at both edges (begin == end when blank).
std::pair<int64_t, int64_t> trimmed(std::string_view text, int64_t begin, int64_t end) {
  while (begin < end && is_space(text[begin])) begin++;
  while (end > begin && is_space(text[end - 1])) end--;
  return {begin, end};
}

// Appends the chunk of bytes [begin, end) of `text`, trimmed, unless it is blank.
void add_chunk(std::vector<Chunk>& out, std::string_view text, const std::string& source, int64_t document,
               int64_t begin, int64_t end) {
  const auto [b, e] = trimmed(text, begin, end);
  if (b < e) out.push_back({source, document, b, e - b, std::string(text.substr(b, e - b))});
}

}  // namespace

std::vector<DocumentSpan> split_documents(std::string_view text) {
  std::vector<DocumentSpan> docs;
  size_t start = 0;
  for (size_t at; (at = text.find(kEndOfText, start)) != std::string_view::npos; start = at + kEndOfText.size()) {
    docs.push_back({static_cast<int64_t>(start), static_cast<int64_t>(at - start)});
  }
  docs.push_back({static_cast<int64_t>(start), static_cast<int64_t>(text.size() - start)});
  return docs;
}

std::vector<Chunk> chunk_documents(std::string_view text, const std::string& source) {
  std::vector<Chunk> chunks;
  const std::vector<DocumentSpan> docs = split_documents(text);
  for (size_t d = 0; d < docs.size(); d++) {
    add_chunk(chunks, text, source, static_cast<int64_t>(d), docs[d].offset, docs[d].offset + docs[d].length);
  }
  return chunks;
}

std::vector<Chunk> chunk_by_tokens(std::string_view text, const std::string& source, const Tokenizer& tok,
                                   const ChunkOptions& options) {
  const int64_t size = options.max_tokens, overlap = options.overlap_tokens;
  if (size < 1) throw std::invalid_argument("chunk_by_tokens: max_tokens: expected ≥ 1, found " + std::to_string(size));
  if (overlap < 0 || overlap >= size) {
    throw std::invalid_argument("chunk_by_tokens: overlap_tokens: expected 0 ≤ overlap < max_tokens (" +
                                std::to_string(size) + "), found " + std::to_string(overlap));
  }
  std::vector<Chunk> chunks;
  const std::vector<DocumentSpan> docs = split_documents(text);
  for (size_t d = 0; d < docs.size(); d++) {
    const auto [doc_begin, doc_end] = trimmed(text, docs[d].offset, docs[d].offset + docs[d].length);
    if (doc_begin == doc_end) continue;
    const std::vector<int32_t> ids = tok.encode(text.substr(doc_begin, doc_end - doc_begin), AllowedSpecial::none);
    const int64_t n = static_cast<int64_t>(ids.size());
    std::vector<int64_t> at(n + 1, doc_begin);  // at[i]: byte offset in `text` where token i starts
    for (int64_t i = 0; i < n; i++) at[i + 1] = at[i] + static_cast<int64_t>(tok.token_bytes(ids[i]).size());
    if (at[n] != doc_end) {
      throw std::logic_error("chunk_by_tokens: " + source + ", document " + std::to_string(d) + ": the tokens span " +
                             std::to_string(at[n] - doc_begin) + " bytes, expected the document's " +
                             std::to_string(doc_end - doc_begin) + " (the tokenizer must be byte-level)");
    }
    // A cut before token i splits no word: whitespace on one side of it, or a document edge.
    auto word_boundary = [&](int64_t i) { return i == 0 || i == n || is_space(text[at[i] - 1]) || is_space(text[at[i]]); };
    for (int64_t s = 0;;) {
      int64_t e = std::min(s + size, n);
      if (e < n) {
        int64_t back = e;
        while (back > s && !word_boundary(back)) back--;
        if (back > s) e = back;  // else one word is longer than a chunk: cut it at e
      }
      add_chunk(chunks, text, source, static_cast<int64_t>(d), at[s], at[e]);
      if (e == n) break;
      int64_t next = std::max(e - overlap, s + 1);
      while (next < e && !word_boundary(next)) next++;
      s = next;
    }
  }
  return chunks;
}

std::vector<std::string> chunk_texts(const std::vector<Chunk>& chunks) {
  std::vector<std::string> texts;
  texts.reserve(chunks.size());
  for (const Chunk& c : chunks) texts.push_back(c.text);
  return texts;
}

}  // namespace sog
