#include "common/nn/model_folder.h"

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "common/io/atomic_file.h"
#include "common/nn/gpt_checkpoint.h"

namespace sog {

namespace fs = std::filesystem;
using json = nlohmann::json;

static constexpr const char* kFolderFormat = "stateofgpt model folder";
static constexpr int kFolderVersion = 1;

static void require_kind(const std::string& kind, const std::string& where) {
  if (std::find(kModelKinds.begin(), kModelKinds.end(), kind) != kModelKinds.end()) return;
  std::string kinds;
  for (const auto& k : kModelKinds) kinds += (kinds.empty() ? "" : ", ") + k;
  throw std::invalid_argument((where.empty() ? "" : where + ": ") + "kind: expected one of " + kinds + ", found \"" +
                              kind + "\"");
}

static json model_json(const GPTConfig& c) {
  return {{"max_T", c.max_T}, {"V", c.V}, {"Vp", c.Vp}, {"L", c.L}, {"NH", c.NH}, {"C", c.C}};
}

void save_model_folder(const std::string& dir, const std::string& kind, const GPT& model, const ScalarHead* head,
                       const LoRA* lora) {
  require_kind(kind, "save_model_folder " + dir);
  const GPTConfig& m = model.config();
  if (head && head->C() != m.C) {
    throw std::invalid_argument("save_model_folder " + dir + ": the head has width C = " + std::to_string(head->C()) +
                                ", the model C = " + std::to_string(m.C));
  }
  if (lora) lora->require_model(m, "save_model_folder " + dir);
  fs::create_directories(dir);
  json config = {{"format", kFolderFormat}, {"version", kFolderVersion}, {"kind", kind}, {"model", model_json(m)}};
  model.save(dir + "/model.bin");
  if (head) {
    head->save(dir + "/head.bin");
    config["head"] = {{"type", "scalar"}, {"C", head->C()}};
  }
  if (lora) {
    lora->save(dir + "/adapter.bin");
    config["adapter"] = {{"rank", lora->config().rank}, {"targets", lora->config().targets_string()}};
  }
  write_file_atomic(dir + "/config.json", config.dump(2) + "\n");
}

bool is_model_folder(const std::string& path) {
  return fs::is_directory(path) && fs::exists(fs::path(path) / "config.json");
}

// DIR/name, or an error naming it and what it is for.
static std::string part(const std::string& dir, const std::string& name, const std::string& why) {
  const std::string path = dir + "/" + name;
  if (!fs::exists(path)) {
    throw std::runtime_error(path + ": missing: " + why + " — a model folder is written whole by save_model_folder");
  }
  return path;
}

LoadedModel load_model_folder(const std::string& dir, bool base_trainable) {
  const std::string config_path = part(dir, "config.json", "the model folder's description");
  json config;
  GPTConfig described;
  LoadedModel out;
  try {
    config = json::parse(read_file(config_path));
    if (config.at("format").get<std::string>() != kFolderFormat) {
      throw std::invalid_argument("format: expected \"" + std::string(kFolderFormat) + "\", found " +
                                  config.at("format").dump());
    }
    if (config.at("version").get<int>() != kFolderVersion) {
      throw std::invalid_argument("version: expected " + std::to_string(kFolderVersion) + ", found " +
                                  config.at("version").dump());
    }
    out.kind = config.at("kind").get<std::string>();
    require_kind(out.kind, "");
    const json& m = config.at("model");
    described.max_T = m.at("max_T").get<int>(), described.V = m.at("V").get<int>(), described.Vp = m.at("Vp").get<int>();
    described.L = m.at("L").get<int>(), described.NH = m.at("NH").get<int>(), described.C = m.at("C").get<int>();
  } catch (const std::exception& e) {
    throw std::runtime_error(config_path + ": not a model folder's description: " + e.what());
  }

  const std::string model_path = part(dir, "model.bin", "the GPT (an llm.c checkpoint)");
  out.model = std::make_unique<GPT>(GPT::load(model_path, base_trainable));
  const std::string diff = gpt_config_mismatch(described, out.model->config());
  if (!diff.empty()) {
    throw std::runtime_error(model_path + ": the model is not the one " + config_path + " describes: expected " +
                             described.describe() + ", found " + out.model->config().describe() + " (" + diff + ")");
  }
  if (config.contains("head")) {
    const std::string head_path = part(dir, "head.bin", "the scalar head config.json lists");
    out.head = std::make_unique<ScalarHead>(ScalarHead::load(head_path, out.model->config().C));
  }
  if (config.contains("adapter")) {
    const std::string adapter_path = part(dir, "adapter.bin", "the LoRA adapter config.json lists");
    out.lora = std::make_unique<LoRA>(LoRA::load(adapter_path, out.model->config()));
    const json& a = config["adapter"];
    const LoRAConfig& lc = out.lora->config();
    if (a.value("rank", -1) != lc.rank || a.value("targets", "") != lc.targets_string()) {
      throw std::runtime_error(adapter_path + ": the adapter is not the one " + config_path + " describes: expected " +
                               a.dump() + ", found rank " + std::to_string(lc.rank) + " on " + lc.targets_string());
    }
    out.model->attach_lora(out.lora.get());
  }
  return out;
}

}  // namespace sog
