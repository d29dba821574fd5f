// Run-folder I/O shared by the trainer and the later commands: model files, seeds, devices.

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <map>
#include <cstdlib>
#include <thread>

#include "latentlab/build_config.h"
#include "latentlab/error.h"
#include "latentlab/files.h"
#include "latentlab/train.h"
#include "latentlab/weights.h"

namespace latentlab {

std::string default_run_dir(const std::string& model) {
  std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%d-%H%M%S", std::localtime(&t));
  return "runs/" + model + "-" + buf;
}

uint64_t epoch_seed(uint64_t seed, int64_t epoch) {
  // splitmix64 of the pair
  uint64_t z = seed * 0x9E3779B97F4A7C15ULL + static_cast<uint64_t>(epoch) + 0x632BE59BD9B4E019ULL;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return (z ^ (z >> 31)) & 0x7fffffffffffffffULL;
}

int64_t apply_threads(int64_t threads) {
  int64_t n = threads;
  if (n <= 0) {
    // OMP_NUM_THREADS, where it is a positive count, as for any OpenMP program; else every core
    const char* env = std::getenv("OMP_NUM_THREADS");
    char* end = nullptr;
    long v = env ? std::strtol(env, &end, 10) : 0;
    n = (env && end != env && *end == '\0' && v > 0 && v <= 1024) ? v
                                                                   : std::max<int64_t>(1, std::thread::hardware_concurrency());
  }
  torch::set_num_threads(static_cast<int>(n));
  return n;
}

torch::Device resolve_device(const std::string& name) {
  if (name == "cpu") return torch::kCPU;
  if (name == "cuda") {
    require(torch::cuda::is_available(), "--device cuda: no CUDA device is available to this LibTorch build; use --device cpu");
    return torch::kCUDA;
  }
  throw Error("--device " + name + ": choose cpu or cuda");
}

WeightsWriter model_writer(const std::string& kind, const TrainConfig& c, const ImageShape& shape, ModelImpl& model) {
  WeightsWriter w(kind);
  w.metadata["config"] = to_json(c).dump();
  w.metadata["shape"] = nlohmann::json(std::vector<int64_t>{shape.channels, shape.height, shape.width}).dump();
  w.add_module("model.", model);
  return w;
}

std::string save_model_bytes(const TrainConfig& c, const ImageShape& shape, ModelImpl& model) {
  return model_writer("model", c, shape, model).bytes();
}

std::string export_model_bytes(const LoadedModel& m) {
  WeightsWriter w = model_writer("export", m.config, m.shape, *m.model);
  for (auto& [name, t] : w.tensors) name = name.substr(std::string("model.").size());
  w.metadata["model"] = m.model->kind();
  return w.bytes();
}

LoadedModel load_model_file(const std::string& path) {
  require(std::filesystem::is_regular_file(path), path + ": no such model file");
  return load_model(WeightsFile::read_kind(read_file(path), path, {"model", "checkpoint"},
                                           "model or checkpoint file (a run folder's `model` or `checkpoint` was expected)"));
}

LoadedModel load_model(const WeightsFile& f) {
  const std::string& path = f.path();
  LoadedModel out;
  try {
    require(!f.meta("config").empty(), path + ": not a latentlab model or checkpoint file (its settings are missing)");
    auto config = nlohmann::json::parse(f.meta("config"), nullptr, false);
    require(config.is_object(), path + ": malformed file: its settings are not a JSON object");
    out.config = config_from_json(config, {}, path);
    auto s = nlohmann::json::parse(f.meta("shape"), nullptr, false);
    require(s.is_array() && s.size() == 3 && s[0].is_number_integer() && s[1].is_number_integer() && s[2].is_number_integer(),
            path + ": malformed image shape");
    out.shape = {s[0].get<int64_t>(), s[1].get<int64_t>(), s[2].get<int64_t>()};
    require(out.shape.channels >= 1 && out.shape.channels <= 4 && out.shape.height >= 1 && out.shape.height <= 1024 &&
                out.shape.width >= 1 && out.shape.width <= 1024,  // as --image-size
            path + ": malformed image shape");
    validate(out.config);
    // the model is built (and its memory allocated) from the settings and shape before the weights are
    // checked, so a shape that disagrees with the settings is refused first (settings built in C++ may
    // leave channels and image size unstated, 0: those are not compared)
    const auto& cc = out.config;
    require((cc.channels == 0 || out.shape.channels == cc.channels) &&
                (cc.image_size == 0 || (out.shape.height == cc.image_size && out.shape.width == cc.image_size)),
            path + ": malformed file: its image shape " + std::to_string(out.shape.channels) + "x" + std::to_string(out.shape.height) +
                "x" + std::to_string(out.shape.width) + " disagrees with its settings (channels " + std::to_string(out.config.channels) +
                ", image size " + std::to_string(out.config.image_size) + ")");
    out.model = ModelRegistry::create(out.config, out.shape);
    load_weights(*out.model, f, "model.");
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    throw Error(path + ": cannot load (" + std::string(e.what()).substr(0, 300) + ")");
  }
  return out;
}

LoadedModel load_run(const std::string& run_dir, int64_t epoch) {
  namespace fs = std::filesystem;
  require(fs::is_directory(run_dir), run_dir + ": no such run folder");
  if (epoch > 0) {
    fs::path kept = run_folder::file(run_dir, run_folder::kept_checkpoint(epoch));
    if (fs::exists(kept)) return load_model_file(kept.string());
    std::string have;
    for (int64_t e : run_folder::kept_checkpoint_epochs(run_dir)) have += (have.empty() ? "" : ", ") + std::to_string(e);
    throw Error("--epoch " + std::to_string(epoch) + ": " + run_dir + " keeps no checkpoint of that epoch; " +
                (have.empty() ? std::string("it keeps none (train with --keep-checkpoints N or all to keep them)")
                              : "it keeps epochs " + have));
  }
  fs::path model = run_folder::file(run_dir, run_folder::kModel), checkpoint = run_folder::file(run_dir, run_folder::kCheckpoint);
  if (fs::exists(model)) return load_model_file(model.string());
  if (fs::exists(checkpoint)) {
    auto m = load_model_file(checkpoint.string());
    std::fprintf(stderr, "note: %s has no final model file (training is unfinished or was interrupted); using the weights of "
                 "its last checkpoint\n", run_dir.c_str());
    return m;
  }
  throw Error(run_dir + ": holds neither a model nor a checkpoint file; is it a latentlab run folder?");
}

}  // namespace latentlab
