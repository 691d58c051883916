// Step 1 of retrieval-augmented generation: cut the documents into chunks, the units that are
// indexed, retrieved and pasted into a prompt.
//
// The world's library.txt and pretrain.txt are documents, each followed by <|endoftext|>
// (common/world/render.h), so the file splits exactly on that string:
//
//   "Nils is 46.\n<|endoftext|>\n<|endoftext|>Pieter owns a dog.\n<|endoftext|>"
//    └ document 0 ┘             └ 1: blank ┘   └ document 2 ──────┘            └ 3: empty (the tail)
//
// Two ways to chunk:
//   chunk_documents   one chunk per document (the world's documents are a few sentences each);
//   chunk_by_tokens   windows of at most `max_tokens` tokens that overlap by about
//                     `overlap_tokens`, for documents longer than a model's context.
//
// Every chunk keeps its source: the file name, the document's index in the file (blank and empty
// documents are skipped but keep their index: the numbers are those of the split above), and the
// byte offset and length of the chunk in the source text, so that
//   source_text.substr(chunk.offset, chunk.length) == chunk.text
// A chunk never begins or ends with whitespace (ASCII space, tab, newline, CR, FF, VT): the edges
// are trimmed and the offsets point at the trimmed text.
//
// Why tokens and not characters: the chunks are read by a model (embed.h reads them; the
// generator reads the retrieved ones in its prompt) whose limit is a number of tokens, and bytes
// per token vary (the world's text is 1.6 bytes a token, English prose about 4), so a length in
// characters would either waste the context or overflow it. The tokens counted are those of the
// whole document's encoding (AllowedSpecial::none: text only).
//
// Windows, for a document of n tokens, t_i its i-th token (all in tokens):
//   a chunk starts at s and would end at e = min(s + max_tokens, n);
//   unless e = n, e moves back to the last word boundary after s — a position where the byte
//   before or the byte at the cut is whitespace — so no word is cut (when a single word is longer
//   than max_tokens there is none, and the cut stays at e);
//   the next chunk starts at the first word boundary at or after max(e − overlap_tokens, s + 1),
//   so consecutive chunks share up to overlap_tokens tokens, and each chunk starts a word.
// The last chunk is usually shorter; a document shorter than max_tokens is one chunk.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/tokenizer/tokenizer.h"

namespace sog {

struct Chunk {
  std::string source;    // the file name ("library.txt")
  int64_t document = 0;  // the document's index in the source (0-based; see above)
  int64_t offset = 0;    // byte offset of the chunk in the source text
  int64_t length = 0;    // bytes
  std::string text;      // = source_text.substr(offset, length)
};

// A document: the bytes between two <|endoftext|> (or the file's ends), untrimmed.
struct DocumentSpan {
  int64_t offset = 0, length = 0;
};

// Every document of `text`, in order: n separators give n + 1 spans (the last one empty when the
// text ends with a separator, as the world's files do).
std::vector<DocumentSpan> split_documents(std::string_view text);

// One chunk per document that is not blank (trimmed of whitespace).
std::vector<Chunk> chunk_documents(std::string_view text, const std::string& source);

struct ChunkOptions {
  int64_t max_tokens = 128;     // ≥ 1
  int64_t overlap_tokens = 32;  // 0 ≤ overlap < max_tokens
};

// Token windows of every non-blank document, as described above. Throws std::invalid_argument
// naming the option for a bad max_tokens or overlap_tokens.
std::vector<Chunk> chunk_by_tokens(std::string_view text, const std::string& source, const Tokenizer& tok,
                                   const ChunkOptions& options = {});

// The texts of the chunks, in order (what the retrievers index).
std::vector<std::string> chunk_texts(const std::vector<Chunk>& chunks);

}  // namespace sog
