#include "common/nn/load_model.h"

#include <filesystem>
#include <stdexcept>

namespace sog {

namespace fs = std::filesystem;

LoadedModel load_model(const std::string& model_path, const std::string& lora_path, const Tokenizer& tok,
                       const std::string& tokenizer_dir) {
  LoadedModel out;
  if (is_model_folder(model_path)) {
    out = load_model_folder(model_path);
  } else {
    std::string checkpoint = model_path;
    if (fs::is_directory(model_path)) {
      checkpoint = model_path + "/model.bin";
      if (!fs::exists(checkpoint)) {
        throw std::runtime_error(model_path + ": a folder with neither config.json (a model folder) nor model.bin (a "
                                 "run folder) — give a model.bin or a folder that holds one");
      }
    }
    out.model = std::make_unique<GPT>(GPT::load(checkpoint));
  }
  const GPTConfig& m = out.model->config();
  if (tok.n_vocab() != m.V) {
    throw std::runtime_error("the tokenizer" + (tokenizer_dir.empty() ? "" : " in " + tokenizer_dir) + " has " +
                             std::to_string(tok.n_vocab()) + " tokens but the model " + model_path +
                             " was trained with V = " + std::to_string(m.V) +
                             " — use the tokenizer the model was trained with");
  }
  if (!lora_path.empty()) {
    out.model->attach_lora(nullptr);  // a folder's own adapter gives way to the one asked for
    out.lora = std::make_unique<LoRA>(LoRA::load(lora_path, m));
    out.model->attach_lora(out.lora.get());
  }
  return out;
}

void merge_lora(LoadedModel& m) {
  if (!m.lora) return;
  m.model->attach_lora(nullptr);
  m.lora->merge_into(*m.model);
  m.lora.reset();
}

}  // namespace sog
