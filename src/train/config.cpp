#include "latentlab/config.h"

#include <cmath>
#include <algorithm>
#include <fstream>
#include <set>
#include <type_traits>

#include "latentlab/data.h"
#include "latentlab/error.h"
#include "latentlab/model.h"
#include "latentlab/nn.h"
#include "latentlab/regularizers.h"

namespace latentlab {

#define LATENTLAB_CONFIG_FIELDS(X) \
  X(model) X(dataset) X(data_dir) X(image_size) X(channels) X(strict) X(holdout) X(train_images) X(epochs)  \
  X(batch_size) X(shuffle) X(drop_last) X(lr) X(lr_g) X(lr_d) X(beta1) X(seed) X(threads) X(device) X(out) X(arch) X(hidden) X(latent) X(activation) X(loss) \
  X(loss_reduction) X(output) X(init)   X(noise) X(l1) X(sparsity) X(contractive) X(dropout) X(beta) X(kl_warmup) X(posterior) X(ngf) X(ndf) X(d_every) \
  X(g_every) X(g_fresh_noise) X(prior) X(image_every) X(grid_images) X(preview_every) X(log_every) X(save_every) X(keep_checkpoints) \
  X(on_nonfinite)

nlohmann::json to_json(const TrainConfig& c) {
  nlohmann::json j;
#define X(f) j[#f] = c.f;
  LATENTLAB_CONFIG_FIELDS(X)
#undef X
  return j;
}

namespace {

// Reads one setting, refusing what a plain get_to would silently change: a fraction for a whole
// number ({"epochs": 1.5} is not 1) and a negative value for an unsigned one ({"seed": -1}).
template <class T>
void read_setting(const nlohmann::json& v, T& out, const std::string& key, const std::string& source) {
  if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
    bool whole = v.is_number_integer() || (v.is_number_float() && std::isfinite(v.get<double>()) &&
                                           std::floor(v.get<double>()) == v.get<double>() && std::fabs(v.get<double>()) < 9e15);
    if (v.is_number() && !whole)
      throw Error(source + ": setting '" + key + "' must be a whole number (got " + v.dump() + ")");
    if (std::is_unsigned_v<T> && v.is_number() && !v.is_number_unsigned() &&
        (v.is_number_integer() ? v.get<int64_t>() < 0 : v.get<double>() < 0))
      throw Error(source + ": setting '" + key + "' must not be negative (got " + v.dump() + ")");
    if (v.is_number_float()) {
      out = static_cast<T>(v.get<double>());
      return;
    }
  }
  v.get_to(out);
}

}  // namespace

TrainConfig config_from_json(const nlohmann::json& j, TrainConfig c, const std::string& source) {
  require(j.is_object(), source + ": expected a JSON object of settings");
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& key = it.key();
    bool known = false;
    try {
#define X(f) \
  if (key == #f) { read_setting(it.value(), c.f, key, source); known = true; }
      LATENTLAB_CONFIG_FIELDS(X)
#undef X
    } catch (const nlohmann::json::exception& e) {
      throw Error(source + ": setting '" + key + "' has the wrong type (" + it.value().dump() + ")");
    }
    if (!known) {
      std::string keys;
#define X(f) keys += std::string(keys.empty() ? "" : ", ") + #f;
      LATENTLAB_CONFIG_FIELDS(X)
#undef X
      throw Error(source + ": unknown setting '" + key + "'; known settings: " + keys);
    }
  }
  return c;
}
#undef LATENTLAB_CONFIG_FIELDS

TrainConfig load_config(const std::string& path, TrainConfig base) {
  std::ifstream in(path);
  require(in.good(), path + ": cannot open the config file");
  nlohmann::json j;
  try {
    in >> j;
  } catch (const nlohmann::json::exception& e) {
    throw Error(path + ": not valid JSON (" + std::string(e.what()) + ")");
  }
  return config_from_json(j, std::move(base), path);
}

void check_settings_apply(const TrainConfig& c) {
  require(ModelRegistry::has(c.model),
          "--model " + c.model + ": unknown model; choose one of " + ModelRegistry::names_joined());
  const nlohmann::json mine = to_json(c), unset = to_json(TrainConfig{});
  auto flag = [](std::string k) {
    for (auto& ch : k)
      if (ch == '_') ch = '-';
    return "--" + k;
  };
  // a model-specific setting (one that some model reads) given a value with a model that does not read it
  const auto& reads = ModelRegistry::reads(c.model);
  std::set<std::string> checked;
  for (const auto& [name, summary] : ModelRegistry::list())
    for (const auto& key : ModelRegistry::reads(name)) {
      if (!checked.insert(key).second || mine[key] == unset[key]) continue;
      if (std::find(reads.begin(), reads.end(), key) != reads.end()) continue;
      std::string models;
      for (const auto& [other, s2] : ModelRegistry::list()) {
        const auto& r = ModelRegistry::reads(other);
        if (std::find(r.begin(), r.end(), key) != r.end()) models += (models.empty() ? "" : ", ") + other;
      }
      throw Error(flag(key) + " does not apply to --model " + c.model + "; it applies to " + models);
    }
  // settings of image folders given for an IDX dataset
  if (!is_folder_dataset(c))
    for (const char* key : {"holdout", "strict"})
      require(mine[key] == unset[key], flag(key) + " applies to image folders (--dataset folder:<path>) only; " + c.dataset +
                                           " has its own test split");
}

bool is_folder_dataset(const TrainConfig& c) { return c.dataset.rfind("folder:", 0) == 0; }
std::string folder_path(const TrainConfig& c) { return is_folder_dataset(c) ? c.dataset.substr(7) : std::string(); }

void apply_model_defaults(TrainConfig& c) {
  require(ModelRegistry::has(c.model),
          "--model " + c.model + ": unknown model; choose one of " + ModelRegistry::names_joined());
  bool folder = is_folder_dataset(c);
  if (!folder && c.image_size == 0) c.image_size = 28;  // IDX datasets have one size
  if (!folder && c.channels == 0) c.channels = 1;
  // A model's default applies to a setting still at its "unset" value.
  nlohmann::json j = to_json(c);
  const nlohmann::json unset = to_json(TrainConfig{});
  for (const auto& [key, value] : ModelRegistry::defaults(c.model).items())
    if (j.contains(key) && j[key] == unset[key]) j[key] = value;
  c = config_from_json(j, c, "model defaults of " + c.model);
  // Then the global ones.
  if (c.batch_size == 0) c.batch_size = 128;
  if (c.hidden.empty()) c.hidden = {400};
  if (c.loss.empty()) c.loss = "bce";
  if (c.lr == 0) c.lr = 1e-3;
  if (c.beta1 < 0) c.beta1 = 0.9;
  if (c.latent == 0) c.latent = 20;
  if (c.arch.empty()) c.arch = "mlp";
  if (c.image_size == 0) c.image_size = 64;
  if (c.channels == 0) c.channels = 3;
  if (c.init.empty()) c.init = "default";
  if (c.log_every < 0) c.log_every = 0;
}

void validate(const TrainConfig& c) {
  require(ModelRegistry::has(c.model),
          "--model " + c.model + ": unknown model; choose one of " + ModelRegistry::names_joined());
  bool ds_ok = false;
  for (const auto& n : dataset_names()) ds_ok |= n == c.dataset;
  std::string ds;
  for (const auto& n : dataset_names()) ds += (ds.empty() ? "" : ", ") + n;
  if (is_folder_dataset(c)) {
    require(!folder_path(c).empty(), "--dataset folder:<path>: the path is missing");
    require(c.image_size == 0 || (c.image_size >= 8 && c.image_size <= 1024), "--image-size must be in [8, 1024]");
    require(c.channels == 0 || c.channels == 1 || c.channels == 3, "--channels must be 1 (grayscale) or 3 (RGB)");
    require(c.holdout >= 0 && c.holdout < 1, "--holdout must be in [0, 1)");
  } else {
    require(ds_ok, "--dataset " + c.dataset + ": unknown dataset; choose one of " + ds + " or folder:<path>");
    require(c.image_size == 0 || c.image_size == 28,
            "--image-size " + std::to_string(c.image_size) + ": " + c.dataset + " images are 28x28 (resizing applies to image folders only)");
    require(c.channels == 0 || c.channels == 1, "--channels: " + c.dataset + " images are grayscale (1 channel)");
  }
  require(c.train_images >= 0, "--train-images must be 0 (all) or a count");
  require(c.beta1 < 1, "--beta1 must be in [0, 1), or negative for the model's default");
  require(c.posterior == "logvar" || c.posterior == "relu-sigma", "--posterior " + c.posterior + ": choose logvar or relu-sigma");
  require(c.ngf >= 1 && c.ngf <= 4096 && c.ndf >= 1 && c.ndf <= 4096, "--ngf and --ndf must be in [1, 4096]");
  require(c.d_every >= 1 && c.g_every >= 1, "--d-every and --g-every must be at least 1");
  require(c.prior == "gaussian" || c.prior == "mixture", "--prior " + c.prior + ": choose gaussian or mixture");
  require(c.preview_every >= 0, "--preview-every must be 0 (off) or a number of batches");
  require(c.save_every >= 1, "--save-every must be at least 1");
  require(c.keep_checkpoints >= -1, "--keep-checkpoints must be a number of checkpoints to keep, 0 (only the latest) or all");
  require(c.on_nonfinite == "stop" || c.on_nonfinite == "skip", "--on-nonfinite " + c.on_nonfinite + ": choose stop or skip");
  require(c.epochs >= 1, "--epochs must be at least 1 (got " + std::to_string(c.epochs) + ")");
  require(c.batch_size >= 0, "--batch-size must be at least 1, or 0 for the model's default (got " +
                                 std::to_string(c.batch_size) + ")");
  require(c.lr >= 0 && c.lr < 10, "--lr must be in (0, 10), or 0 for the model's default (got " + std::to_string(c.lr) + ")");
  require(c.threads >= 0 && c.threads <= 1024, "--threads must be 0 (all cores) or a positive count");
  require(c.device == "cpu" || c.device == "cuda", "--device " + c.device + ": choose cpu or cuda");
  require(c.latent >= 0 && c.latent <= 100000, "--latent must be a positive size, or 0 for the model's default");
  for (auto h : c.hidden) require(h >= 1 && h <= 1000000, "--hidden sizes must be positive");
  parse_activation(c.activation);
  require(c.loss.empty() || c.loss == "bce" || c.loss == "mse", "--loss " + c.loss + ": choose bce or mse");
  parse_noise(c.noise);
  parse_sparsity(c.sparsity);
  require(c.l1 >= 0 && std::isfinite(c.l1), "--l1 must be a non-negative weight");
  require(c.contractive >= 0 && std::isfinite(c.contractive), "--contractive must be a non-negative weight");
  require(c.dropout >= 0 && c.dropout < 1, "--dropout must be in [0, 1)");
  require(!(c.contractive > 0 && c.dropout > 0),
          "--contractive and --dropout cannot be combined (the penalty is the Jacobian of the deterministic encoder)");
  require(c.arch.empty() || c.arch == "mlp" || c.arch == "conv", "--arch " + c.arch + ": choose mlp or conv");
  require(!(c.contractive > 0 && c.arch == "conv"), "--contractive needs --arch mlp (the Jacobian is computed for MLP encoders)");
  require(c.beta >= 0 && std::isfinite(c.beta), "--beta must be a non-negative weight");
  require(c.kl_warmup >= 0, "--kl-warmup must be 0 (off) or a number of epochs");
  require(c.image_every >= 1, "--image-every must be at least 1");
  require(c.lr_g >= 0 && c.lr_g < 10 && c.lr_d >= 0 && c.lr_d < 10, "--lr-g and --lr-d must be in (0, 10), or 0 for --lr");
  require(c.loss_reduction.empty() || c.loss_reduction == "mean" || c.loss_reduction == "sum" || c.loss_reduction == "image",
          "--loss-reduction " + c.loss_reduction + ": choose mean, sum or image");
  require(c.output == "sigmoid" || c.output == "tanh", "--output " + c.output + ": choose sigmoid or tanh");
  require(c.output != "tanh" || c.loss.empty() || c.loss == "mse",
          "--output tanh needs --loss mse: BCE needs targets in [0, 1], and tanh scales the images to [-1, 1]");
  require(c.init.empty() || c.init == "default" || c.init == "dcgan" || c.init == "glorot",
          "--init " + c.init + ": choose default (PyTorch's), dcgan or glorot");
  require(c.log_every >= -1, "--log-every must be 0 (off) or a number of batches");
  require(c.grid_images >= 1 && c.grid_images <= 4096, "--grid-images must be in [1, 4096]");
}

}  // namespace latentlab
