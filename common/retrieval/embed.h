// Step 2 of retrieval-augmented generation: a text becomes one vector, so that texts about the
// same thing lie close together. Here the vectors come from our own GPT, no separate encoder:
//
//   ids   = <|endoftext|> + encode(text)                      the text after a document start
//   h     = GPT::hidden(ids)          (B,T,C)                 after the final LayerNorm
//   e     = mean of h over the text's tokens   (mean pooling)     or
//           h at the text's last token         (last pooling)
//   e / ‖e‖                           (N,C)                   unit length: a dot product is a cosine
//
// Design choices:
// - The text is encoded the way other code encodes plain text: AllowedSpecial::none, so a text
//   that spells "<|end|>" cannot forge the token. Before it goes the id of <|endoftext|>, the
//   token every training document started after; its state is the same for every text, so it is
//   left out of both poolings (it would pull all vectors toward one point).
// - A text longer than the model's maxT keeps its FIRST maxT − 1 tokens. A chunk names its subject
//   at its start ("Profile: Nils", "Nils is 46 years old…"), and a query is short; the reward model
//   (common/reward/reward_model.h) keeps the end instead, because it reads its score there.
// - Mean pooling (Sentence-BERT's default) averages every token's state; last pooling takes the
//   one state that, causally, has read the whole text — what a decoder's next-token prediction
//   is built on, but also the state most about "what comes next" and least about the text.
// - Rows of a batch are padded on the right; attention is causal, so a real token never sees the
//   padding, and the padded positions are left out of the mean: a text's vector is the same (within
//   float rounding) alone or in any batch.
// - Inference only: NoGradGuard, nothing is recorded on the tape.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "common/nn/gpt.h"
#include "common/tensor/tensor.h"
#include "common/tokenizer/tokenizer.h"

namespace sog {

enum class Pooling { mean, last };
const char* pooling_name(Pooling pooling);  // "mean", "last"

struct EmbedOptions {
  Pooling pooling = Pooling::mean;
  int64_t batch_rows = 32;  // texts per forward (≥ 1)
};

// The ids the model reads for `text`: <|endoftext|>, then the text's first max_T − 1 tokens.
// Throws std::invalid_argument for an empty text ("nothing to embed") and for max_T < 2.
std::vector<int32_t> embedding_ids(const Tokenizer& tok, const std::string& text, int64_t max_T);

// texts (N) → (N,C) f32, each row of unit L2 norm, row i for texts[i]. Throws
// std::invalid_argument naming the text for an empty one, and for no texts or batch_rows < 1.
Tensor embed_texts(GPT& model, const Tokenizer& tok, const std::vector<std::string>& texts,
                   const EmbedOptions& options = {});

}  // namespace sog
