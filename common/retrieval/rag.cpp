#include "common/retrieval/rag.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <stdexcept>

#include "common/eval/eval_report.h"
#include "common/eval/techniques.h"
#include "common/io/atomic_file.h"
#include "common/io/metrics.h"
#include "common/nn/load_model.h"
#include "common/retrieval/bm25.h"
#include "common/retrieval/embed.h"
#include "common/tensor/random.h"

namespace sog {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

constexpr const char* kIndexFormat = "sog-rag-index";
constexpr int kIndexVersion = 1;

Pooling pooling_of(const std::string& embed) {
  if (embed == "mean") return Pooling::mean;
  if (embed == "last") return Pooling::last;
  throw std::invalid_argument("embed '" + embed + "': expected bm25, mean or last");
}

// A VectorIndex (flat or HNSW) behind the retrievers' search interface.
class IndexSearch : public VectorSearch {
 public:
  explicit IndexSearch(const VectorIndex& index) : index_(index) {}
  int64_t dim() const override { return index_.dim(); }
  std::vector<ScoredId> nearest(std::span<const float> query, int64_t k) const override {
    std::vector<ScoredId> out;
    for (const Hit& h : index_.search(query.data(), static_cast<int>(k))) out.push_back({h.id, h.score});
    return out;
  }

 private:
  const VectorIndex& index_;
};

// Owns the retrievers a mode needs and answers with the one asked for.
class IndexRetriever : public Retriever {
 public:
  IndexRetriever(const RagIndex& index, const std::string& mode, GPT* model, const Tokenizer& tok) {
    if (mode != "bm25" && mode != "embed" && mode != "hybrid")
      throw std::invalid_argument("retriever '" + mode + "': expected bm25, embed or hybrid");
    bm25_ = std::make_unique<Bm25Retriever>(index.chunks);
    use_ = bm25_.get();
    if (mode == "bm25") return;
    if (!index.vectors)
      throw std::invalid_argument(index.dir + "/config.json: retriever '" + mode + "' needs embeddings, and this index is " +
                                  index.config.value("embed", std::string("bm25")) + " only (build it with --embed mean|last)");
    if (model == nullptr) throw std::invalid_argument("retriever '" + mode + "' needs a model to embed the question");
    const EmbedOptions eo{.pooling = pooling_of(index.config.at("embed").get<std::string>())};
    embed_ = std::make_unique<EmbeddingRetriever>(*model, tok, std::make_unique<IndexSearch>(*index.vectors), eo);
    use_ = embed_.get();
    if (mode == "hybrid") use_ = (hybrid_ = std::make_unique<HybridRetriever>(*bm25_, *embed_)).get();
  }
  std::vector<ScoredId> top_k(std::string_view query, int64_t k) override { return use_->top_k(query, k); }

 private:
  std::unique_ptr<Bm25Retriever> bm25_;
  std::unique_ptr<EmbeddingRetriever> embed_;
  std::unique_ptr<HybridRetriever> hybrid_;
  Retriever* use_ = nullptr;
};

json chunk_json(const Chunk& c) {
  return {{"source", c.source}, {"document", c.document}, {"offset", c.offset}, {"length", c.length}, {"text", c.text}};
}

}  // namespace

json build_rag_index(const IndexBuildOptions& o, const Tokenizer& tok, GPT* model, const std::string& out_dir) {
  if (o.sources.empty()) throw std::invalid_argument("index build: no documents (--docs FILE)");
  if (o.max_tokens < 0) throw std::invalid_argument("--max-tokens must be ≥ 0 (0: one chunk per document)");
  const bool embeds = o.embed != "bm25";
  if (embeds) pooling_of(o.embed);  // validates the name
  if (embeds && model == nullptr) throw std::invalid_argument("--embed " + o.embed + " needs --model");
  if (embeds && o.vector_index != "flat" && o.vector_index != "hnsw")
    throw std::invalid_argument("--vector-index '" + o.vector_index + "': expected flat or hnsw");

  std::vector<Chunk> chunks;
  for (const std::string& path : o.sources) {
    const std::string text = read_file(path), name = fs::path(path).filename().string();
    std::vector<Chunk> c = o.max_tokens == 0 ? chunk_documents(text, name)
                                             : chunk_by_tokens(text, name, tok, {o.max_tokens, o.overlap_tokens});
    chunks.insert(chunks.end(), std::make_move_iterator(c.begin()), std::make_move_iterator(c.end()));
  }
  if (chunks.empty()) throw std::invalid_argument("index build: the documents hold no text to chunk");
  fs::create_directories(out_dir);

  json config = {{"format", kIndexFormat}, {"version", kIndexVersion}, {"embed", o.embed},
                 {"chunking", {{"max_tokens", o.max_tokens}, {"overlap_tokens", o.overlap_tokens}}},
                 {"sources", o.sources}, {"chunks", chunks.size()}, {"model", embeds ? json(o.model_path) : json(nullptr)},
                 {"dim", nullptr}, {"vector_index", nullptr}};
  if (embeds) {
    const Tensor vectors = embed_texts(*model, tok, chunk_texts(chunks), {.pooling = pooling_of(o.embed)});
    const int64_t dim = vectors.size(1);
    std::unique_ptr<VectorIndex> index;
    if (o.vector_index == "flat") index = std::make_unique<FlatIndex>(dim);
    else index = std::make_unique<HnswIndex>(dim, o.hnsw);
    index->add(vectors.f32(), vectors.size(0));
    const std::string path = out_dir + "/index.vidx", tmp = path + ".tmp";
    index->save(tmp);
    fs::rename(tmp, path);
    config["dim"] = dim;
    config["vector_index"] = o.vector_index;
    if (o.vector_index == "hnsw")
      config["hnsw"] = {{"M", o.hnsw.M}, {"ef_construction", o.hnsw.ef_construction}, {"ef_search", o.hnsw.ef_search},
                        {"seed", o.hnsw.seed}};
  }
  std::string lines;
  for (const Chunk& c : chunks) lines += chunk_json(c).dump() + "\n";
  write_file_atomic(out_dir + "/chunks.jsonl", lines);
  write_json_atomic(out_dir + "/config.json", config);  // last: a folder with a config is whole
  return config;
}

RagIndex load_rag_index(const std::string& dir) {
  RagIndex r;
  r.dir = dir;
  const std::string config_path = dir + "/config.json", chunks_path = dir + "/chunks.jsonl";
  if (!fs::exists(config_path)) throw std::runtime_error(config_path + ": no such file (build the index with `prompting index build`)");
  try {
    r.config = json::parse(read_file(config_path));
  } catch (const json::exception& e) {
    throw std::runtime_error(config_path + ": not JSON (" + e.what() + ")");
  }
  if (r.config.value("format", "") != kIndexFormat || r.config.value("version", 0) != kIndexVersion)
    throw std::runtime_error(config_path + ": expected format \"" + kIndexFormat + "\" version " +
                             std::to_string(kIndexVersion) + ", found " + r.config.value("format", std::string("none")) +
                             " version " + std::to_string(r.config.value("version", 0)));
  std::ifstream in(chunks_path);
  if (!in) throw std::runtime_error(chunks_path + ": cannot open");
  std::string line;
  for (int64_t n = 1; std::getline(in, line); n++) {
    try {
      const json j = json::parse(line);
      r.chunks.push_back({j.at("source").get<std::string>(), j.at("document").get<int64_t>(), j.at("offset").get<int64_t>(),
                          j.at("length").get<int64_t>(), j.at("text").get<std::string>()});
    } catch (const json::exception& e) {
      throw std::runtime_error(chunks_path + ": line " + std::to_string(n) + ": " + e.what());
    }
  }
  const int64_t expected = r.config.value("chunks", int64_t{-1});
  if (static_cast<int64_t>(r.chunks.size()) != expected)
    throw std::runtime_error(chunks_path + ": " + std::to_string(r.chunks.size()) + " chunks, config.json says " +
                             std::to_string(expected));
  if (r.config.value("embed", std::string("bm25")) != "bm25") {
    const std::string vidx = dir + "/index.vidx";
    r.vectors = load_vector_index(vidx, r.config.at("dim").get<int64_t>());
    if (r.vectors->size() != expected)
      throw std::runtime_error(vidx + ": " + std::to_string(r.vectors->size()) + " vectors, chunks.jsonl has " +
                               std::to_string(expected) + " chunks");
  }
  return r;
}

LoadedModel load_index_embedder(const RagIndex& index, const std::string& retriever, const Tokenizer& tok,
                                const std::string& tokenizer_dir) {
  if (retriever == "bm25" || !index.config.contains("model") || index.config["model"].is_null()) return {};
  return load_model(index.config["model"].get<std::string>(), "", tok, tokenizer_dir);
}

LoadedRetriever::LoadedRetriever(const std::string& index_dir, const std::string& mode, const Tokenizer& tok,
                                 const std::string& tokenizer_dir)
    : index_(load_rag_index(index_dir)),
      embedder_(load_index_embedder(index_, mode, tok, tokenizer_dir)),
      retriever_(make_index_retriever(index_, mode, embedder_.model.get(), tok)) {}

std::string retrieved_line(const RagIndex& index, const ScoredId& s, int rank) {
  const Chunk& c = index.chunks.at(static_cast<size_t>(s.id));
  char head[160];
  std::snprintf(head, sizeof head, "[%d] %s #%lld (%.3f): ", rank, c.source.c_str(), static_cast<long long>(c.document), s.score);
  return head + c.text;
}

nlohmann::json retrieved_json(const RagIndex& index, const std::vector<ScoredId>& found) {
  nlohmann::json out = nlohmann::json::array();
  int rank = 1;
  for (const ScoredId& s : found) {
    const Chunk& c = index.chunks.at(static_cast<size_t>(s.id));
    out.push_back({{"rank", rank++}, {"source", c.source}, {"document", c.document}, {"score", s.score}, {"text", c.text}});
  }
  return out;
}

StuffedMessage retrieve_and_stuff(const RagIndex& index, Retriever& retriever, const std::string& question, int k,
                                  DocumentLayout layout) {
  StuffedMessage out;
  out.found = retriever.top_k(question, k);
  std::vector<std::string> docs;
  for (const ScoredId& s : out.found) docs.push_back(index.chunks.at(static_cast<size_t>(s.id)).text);
  out.message = documents_prompt(docs, question, layout);
  return out;
}

std::unique_ptr<Retriever> make_index_retriever(const RagIndex& index, const std::string& mode, GPT* model,
                                                const Tokenizer& tok) {
  return std::make_unique<IndexRetriever>(index, mode, model, tok);
}

std::vector<RagQuestion> rag_questions(const std::vector<QuestionRow>& rows, const std::vector<Chunk>& chunks,
                                       const std::vector<Person>& people) {
  std::map<std::string, std::string> names;  // lower-cased (bm25_terms) → as written
  for (const Person& p : people) names[bm25_terms(p.name).at(0)] = p.name;
  std::vector<std::set<std::string>> words;
  for (const Chunk& c : chunks) {
    const std::vector<std::string> t = bm25_terms(c.text);
    words.emplace_back(t.begin(), t.end());
  }
  std::vector<RagQuestion> out;
  for (size_t i = 0; i < rows.size(); i++) {
    if (!is_fact_task(task_kind_from_name(rows[i].task))) continue;
    std::set<std::string> named;
    for (const std::string& w : bm25_terms(rows[i].prompt))
      if (names.count(w)) named.insert(w);
    if (named.size() != 1)
      throw std::runtime_error("question " + std::to_string(i + 1) + " (\"" + rows[i].prompt +
                               "\"): expected the name of one person, found " + std::to_string(named.size()));
    RagQuestion q{rows[i], names[*named.begin()], {}};
    for (size_t c = 0; c < chunks.size(); c++)
      if (words[c].count(*named.begin()) && contains_word(chunks[c].text, rows[i].answer)) q.answering.push_back(static_cast<int64_t>(c));
    out.push_back(std::move(q));
  }
  return out;
}

QuestionRow stuffed(const QuestionRow& q, const std::vector<std::string>& documents, DocumentLayout layout) {
  QuestionRow r = q;
  r.prompt = documents_prompt(documents, q.prompt, layout);
  return r;
}

MeasuredRun evaluate_stuffed(GPT& model, const Tokenizer& tok, const std::vector<QuestionRow>& rows, uint64_t seed) {
  TechniqueOptions o;
  o.technique = Technique::direct, o.seed = seed;
  return run_measured(model, tok, rows, ShotPool({}), technique_spec(o, model.config().max_T));
}

json rag_row(GPT& model, const Tokenizer& tok, const std::vector<RagQuestion>& questions,
             const std::vector<Chunk>& chunks, Retriever* retriever, int k, const RagOptions& o) {
  if (k > 0 && retriever == nullptr) throw std::invalid_argument("rag_row: k > 0 needs a retriever");
  std::vector<QuestionRow> rows;
  int hits = 0, asked = 0;
  for (const RagQuestion& q : questions) {
    std::vector<int64_t> ids;
    if (k > 0)
      for (const ScoredId& s : retriever->top_k(q.row.prompt, k)) ids.push_back(s.id);
    if (k < 0) {
      if (q.answering.empty()) continue;  // no chunk states it (cut across two): no oracle
      ids.push_back(q.answering.front());
    }
    std::vector<std::string> docs;
    for (int64_t id : ids) docs.push_back(chunks.at(static_cast<size_t>(id)).text);
    hits += std::any_of(ids.begin(), ids.end(), [&](int64_t id) {
      return std::find(q.answering.begin(), q.answering.end(), id) != q.answering.end();
    });
    asked++;
    rows.push_back(stuffed(q.row, docs, o.layout));
  }
  const MeasuredRun run = evaluate_stuffed(model, tok, rows, o.seed);
  AccuracyTally tally;
  int wrong_answered = 0;
  int64_t prompt_tokens = 0;
  for (const QuestionResult& r : run.report.questions) {
    const SampleResult& s = r.samples.at(0);
    tally.add(r.question.task, s.correct);
    wrong_answered += !s.correct && s.well_formed && s.extracted.has_value();
    prompt_tokens += static_cast<int64_t>(r.prompt_tokens);
  }
  json row = tally.json();
  const int n = tally.total();
  row["setting"] = k == 0 ? "closed-book" : k < 0 ? "oracle" : "k=" + std::to_string(k);
  row["k"] = k;
  row["retriever"] = k > 0 ? json(o.retriever) : json(nullptr);
  row["layout"] = layout_name(o.layout);
  row["hallucination_rate"] = n ? static_cast<double>(wrong_answered) / n : 0.0;
  row["hit_rate"] = asked ? static_cast<double>(hits) / asked : 0.0;
  row["prompts_cut"] = run.prompts_cut;
  row["tokens_per_question"] = n ? static_cast<double>(run.tokens) / n : 0.0;
  row["prompt_tokens_per_question"] = n ? static_cast<double>(prompt_tokens) / n : 0.0;
  row["wall_time_s"] = run.wall_s;
  return row;
}

json injection_rows(GPT& model, const Tokenizer& tok, const std::vector<RagQuestion>& questions,
                    const std::vector<Chunk>& chunks, uint64_t seed) {
  // The same pair of chunks for both layouts: the answering one and another person's, drawn once.
  Rng rng(seed);
  struct Pair {
    const RagQuestion* q;
    std::vector<std::string> clean, injected;
  };
  std::vector<Pair> pairs;
  for (const RagQuestion& q : questions) {
    if (q.answering.empty() || q.row.answer == kInjectedAnswer) continue;
    const std::string name = bm25_terms(q.person).at(0);
    std::string other;
    for (int attempt = 0; attempt < 1000 && other.empty(); attempt++) {
      const Chunk& c = chunks[rng.below(chunks.size())];
      const std::vector<std::string> t = bm25_terms(c.text);
      if (std::find(t.begin(), t.end(), name) == t.end()) other = c.text;
    }
    if (other.empty()) throw std::runtime_error("injection: no chunk about another person");
    const std::string& good = chunks[static_cast<size_t>(q.answering.front())].text;
    const bool first = rng.below(2) == 0;
    Pair p{&q, {}, {}};
    p.clean = first ? std::vector<std::string>{good, other} : std::vector<std::string>{other, good};
    p.injected = p.clean;
    std::string& bad = first ? p.injected[1] : p.injected[0];
    bad = inject_instruction(bad);
    pairs.push_back(std::move(p));
  }
  json rows = json::array();
  for (DocumentLayout layout : {DocumentLayout::plain, DocumentLayout::delimited}) {
    std::vector<QuestionRow> clean, injected;
    for (const Pair& p : pairs) {
      clean.push_back(stuffed(p.q->row, p.clean, layout));
      injected.push_back(stuffed(p.q->row, p.injected, layout));
    }
    const MeasuredRun c = evaluate_stuffed(model, tok, clean, seed), r = evaluate_stuffed(model, tok, injected, seed);
    AccuracyTally tally;
    int obeyed = 0, clean_right = 0;
    for (const QuestionResult& q : r.report.questions) {
      tally.add(q.question.task, q.samples.at(0).correct);
      obeyed += q.samples.at(0).extracted == std::string(kInjectedAnswer);
    }
    for (const QuestionResult& q : c.report.questions) clean_right += q.samples.at(0).correct;
    json row = tally.json();
    const int n = tally.total();
    row["layout"] = layout_name(layout);
    row["obeyed"] = obeyed;
    row["obey_rate"] = n ? static_cast<double>(obeyed) / n : 0.0;
    row["clean_accuracy"] = n ? static_cast<double>(clean_right) / n : 0.0;
    row["example"] = injected.empty() ? "" : injected.front().prompt;
    rows.push_back(row);
  }
  return rows;
}

}  // namespace sog
