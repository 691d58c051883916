#include "06_prompting/serve.h"

#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>

#include "common/nn/load_model.h"
#include "common/retrieval/rag.h"
#include "common/serve/server.h"
#include "common/world/people_file.h"
#include "common/world/task.h"

namespace sog {

namespace fs = std::filesystem;

int run_serve(const ServeConfig& c) {
  const Tokenizer tok = Tokenizer::load(c.tokenizer);
  LoadedModel loaded = load_model(c.model, c.lora, tok, c.tokenizer);
  GPT& model = *loaded.model;

  EngineOptions engine_options;
  engine_options.rows = c.rows;
  engine_options.max_queued = c.max_queued;
  if (c.tools) engine_options.people = world_people(c.world);

  ApiContext ctx;
  ctx.tok = &tok;
  std::string name = c.name;
  if (name.empty()) {  // runs/sft/model.bin → "sft"; runs/sft → "sft"
    fs::path p = fs::path(c.model).lexically_normal();
    if (p.filename().empty()) p = p.parent_path();
    name = fs::is_directory(p) || p.parent_path().empty() ? p.filename().string() : p.parent_path().filename().string();
  }
  ctx.model_name = name;
  ctx.max_T = model.config().max_T;
  ctx.tools = c.tools;
  ctx.default_system = c.system.empty() && c.tools ? std::string(tools_system_prompt) : c.system;
  ctx.max_n = c.max_n;

  std::optional<LoadedRetriever> rag;
  const MessageRetrievalOptions& r = c.retrieval;
  if (!r.index_dir.empty()) {
    rag.emplace(r.index_dir, r.retriever, tok, c.tokenizer);
    const DocumentLayout layout = layout_from_name(r.layout);
    // Called on the HTTP threads: bm25 only reads the index; an embedding retriever runs its own
    // model (not the served one), so requests are serialised around it.
    auto lock = std::make_shared<std::mutex>();
    ctx.retrieve = [&rag, k = r.k, layout, lock](const std::string& question) {
      std::lock_guard guard(*lock);
      StuffedMessage stuffed = retrieve_and_stuff(rag->index(), rag->retriever(), question, k, layout);
      return std::make_pair(std::move(stuffed.message), retrieved_json(rag->index(), stuffed.found));
    };
  }
  std::fprintf(stderr, "serve: %s (maxT %lld), %lld rows decoded together%s%s\n", c.model.c_str(),
               static_cast<long long>(ctx.max_T), static_cast<long long>(c.rows),
               c.tools ? (", tools on (" + std::to_string(engine_options.people.size()) + " people)").c_str() : "",
               r.index_dir.empty() ? "" : (", retrieval from " + r.index_dir).c_str());
  Engine engine(model, tok, std::move(engine_options));
  ServerOptions server;
  server.host = c.host;
  server.port = c.port;
  return serve(engine, ctx, server);
}

}  // namespace sog
