// Two parameter sets trained together, as a reward or value model is: a GPT and a scalar head,
// one loss over the LM head and the scalar head on the same hidden states, dropout on, batches
// from a BatchLoader, each set with its own AdamW. Shared by the tests of exact resume
// (test_train_state.cpp: the state file alone; test_training_run.cpp: through TrainingRun).
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "common/autograd/tape.h"
#include "common/data/dataset.h"
#include "common/nn/gpt.h"
#include "common/nn/gpt_checkpoint.h"
#include "common/nn/scalar_head.h"
#include "common/ops/cross_entropy.h"
#include "common/ops/elementwise.h"
#include "common/ops/reduce.h"
#include "common/optim/adamw.h"

namespace sog::testing {

struct TwoSets {
  std::unique_ptr<GPT> model;
  std::unique_ptr<ScalarHead> head;
  std::unique_ptr<AdamW> opt_model, opt_head;
  std::unique_ptr<BatchLoader> loader;
  Rng dropout{99};

  TwoSets(const TokenDataset& data, std::unique_ptr<GPT> m, std::unique_ptr<ScalarHead> h)
      : model(std::move(m)), head(std::move(h)) {
    opt_model = std::make_unique<AdamW>(model->num_params(), model->optimizer_segments(),
                                        AdamWConfig{0.9f, 0.95f, 1e-8f, 0.1f});
    opt_head = std::make_unique<AdamW>(head->num_params(), head->optimizer_segments(),
                                       AdamWConfig{0.9f, 0.99f, 1e-8f, 0.01f});
    loader = std::make_unique<BatchLoader>(data, 2, 8, 5);
  }
  // One step of both sets; the loss before it.
  float step() {
    Tensor x, y;
    loader->next(x, y);
    Tensor h = model->hidden(x, &dropout);  // (B,T,C)
    Tensor lm = cross_entropy(model->lm_head(h), y, Tensor(), -1, model->config().V);
    Tensor v = head->at_every_position(h);  // (B,T)
    Tensor loss = add(lm, mean(mul(v, v)));
    const float value = loss.item();
    loss.backward();
    opt_model->step(model->params(), model->grads(), 1e-2f);
    opt_head->step(head->params(), head->grads(), 5e-2f);
    model->zero_grad();
    head->zero_grad();
    return value;
  }
};

// 400 tokens of a 30-token vocabulary, a training split only.
inline TokenDataset tiny_data() {
  TokenDataset d;
  d.n_vocab = 30;
  TokenSource s;
  s.name = "counting";
  for (int i = 0; i < 400; i++) s.train.push_back(static_cast<uint16_t>((i * 7 + i / 13) % 30));
  d.sources.push_back(s);
  return d;
}

// L=1, NH=2, C=16, maxT=8, V=30, dropout 0.1.
inline std::unique_ptr<GPT> fresh_model() {
  GPTConfig c;
  c.L = 1, c.NH = 2, c.C = 16, c.max_T = 8, c.V = 30, c.Vp = padded_vocab(30), c.dropout = 0.1f;
  auto m = std::make_unique<GPT>(c);
  m->init_gpt2(11);
  return m;
}

// A fresh model and head (seeded), ready to train.
inline TwoSets fresh_two_sets(const TokenDataset& data) {
  auto m = fresh_model();
  auto h = std::make_unique<ScalarHead>(m->config().C);
  h->init(12);
  return TwoSets(data, std::move(m), std::move(h));
}

// A model and head read back from their files (model.bin, head.bin), with dropout 0.1 as in
// fresh_model() and their optimizers at zero: the state's moments are restored by the caller.
inline TwoSets two_sets_from_files(const TokenDataset& data, const std::string& model_bin, const std::string& head_bin) {
  GPTConfig c = read_checkpoint_config(model_bin);
  c.dropout = 0.1f;  // dropout is a training setting, not part of the checkpoint
  auto model = std::make_unique<GPT>(c);
  model->params().copy_from(load_checkpoint(model_bin, nullptr));
  auto head = std::make_unique<ScalarHead>(ScalarHead::load(head_bin, c.C));
  return TwoSets(data, std::move(model), std::move(head));
}

}  // namespace sog::testing
