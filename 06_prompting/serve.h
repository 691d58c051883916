// `prompting serve`: the chapter's model behind OpenAI's HTTP API and a web chat (common/serve).
//
//   bin/prompting serve --model runs/sft --tokenizer runs/tokenizer [--tools --world runs/world]
//                       [--index runs/prompting/index_bm25 --k 1] [--host 127.0.0.1 --port 8000]
//
//   curl http://127.0.0.1:8000/v1/chat/completions -H 'Content-Type: application/json' \
//        -d '{"model": "sft", "messages": [{"role": "user", "content": "What is 478 * 56?"}]}'
#pragma once
#include <cstdint>
#include <string>

#include "common/retrieval/rag.h"

namespace sog {

struct ServeConfig {
  std::string model, lora, tokenizer, name;  // name: the model id clients use (default: the folder's name)
  std::string system;                        // a system message for chats that bring none
  bool tools = false;
  std::string world;                         // lookup's people
  MessageRetrievalOptions retrieval;
  std::string host = "127.0.0.1";
  int port = 8000;
  int64_t rows = 16;         // sequences decoded together
  int64_t max_queued = 256;  // waiting sequences before 503
  int max_n = 16;
};

int run_serve(const ServeConfig& c);

}  // namespace sog
