// The retrieval measurement chapter 06 reports: for each held-out fact question of the world
// ("How old is Goran?"), is a library document about that person among the top k?
//
//   world/library.txt       ─chunk_documents─▶ chunks (one per document)
//   world/people.jsonl      the names
//   world/eval_test.jsonl   the fact questions (age city job pet color hobby); each names one person
//
// A chunk is relevant to a question when its words (bm25_terms) include the person's name,
// lower-cased: the world writes two library documents per person and no document names two
// people, so each question has two relevant chunks among the library's.
//
//   FactRetrievalSet set = read_fact_retrieval_set("data/world");
//   auto rows = library_recall_table(set, tok, {{"base", &base}, {"sft", &sft}}, {1, 3, 5});
//   std::cout << recall_table_markdown(rows, {1, 3, 5}, set.questions.size());
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "common/nn/gpt.h"
#include "common/retrieval/chunker.h"
#include "common/tokenizer/tokenizer.h"

namespace sog {

struct FactRetrievalSet {
  std::vector<Chunk> chunks;                   // library.txt, one chunk per document
  std::vector<std::string> questions;          // the fact questions' prompts, in file order
  std::vector<std::string> people;             // the person each question names
  std::vector<std::vector<int64_t>> relevant;  // the chunks that name that person
};

// Reads the three files of a world folder. Throws std::runtime_error naming the file and question
// when a fact question names no person of people.jsonl or several, when a person asked about has
// no document in the library, or when the file holds no fact question.
FactRetrievalSet read_fact_retrieval_set(const std::string& world_dir,
                                         const std::string& question_file = "eval_test.jsonl");

struct EmbeddingModel {
  std::string name;  // "base", "sft", …: the table's row names
  GPT* model = nullptr;
};

struct RecallRow {
  std::string retriever;       // "bm25", "embed base mean", "hybrid bm25 + base mean", …
  std::vector<double> recall;  // one per k
};

// recall@k of every retriever: BM25; then for each model and pooling (mean, last) its embeddings,
// and the hybrid of BM25 with them (RRF, k = 60). Each model's chunks are embedded once per pooling.
std::vector<RecallRow> library_recall_table(const FactRetrievalSet& set, const Tokenizer& tok,
                                            const std::vector<EmbeddingModel>& models, const std::vector<int64_t>& ks);

// | retriever | recall@1 | recall@3 | … |, each recall with its count ("0.833 (95/114)").
std::string recall_table_markdown(const std::vector<RecallRow>& rows, const std::vector<int64_t>& ks,
                                  int64_t questions);

}  // namespace sog
