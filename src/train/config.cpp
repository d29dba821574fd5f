#include "latentlab/config.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <set>
#include <type_traits>

#include "latentlab/data.h"
#include "latentlab/error.h"
#include "latentlab/model.h"
#include "latentlab/nn.h"
#include "latentlab/regularizers.h"
#include "latentlab/settings.h"

namespace latentlab {
namespace {

using C = TrainConfig;
using json = nlohmann::json;

template <class F>
std::function<void(const C&)> req(F ok, std::string message) {
  return [ok, message](const C& c) { require(ok(c), message); };
}

// The run's settings and the settings several models share, in --help order. Defaults are the
// TrainConfig members' initializers; `fallback` is the value a setting left to the model takes when
// the model's entry names none.
const std::vector<Setting>& table() {
  static const std::vector<Setting> rows = {
      // what to train on
      {"model", "model to train (see `latentlab models`)", &C::model},
      {"dataset", "mnist | fashion-mnist | folder:<path> (PNG, JPEG, BMP images, recursively; labels from sub-folders)",
       &C::dataset, nullptr, nullptr, {}, [](const C& c) { check_dataset_name(c.dataset); }},
      {"data_dir", "folder with the four IDX files (plain or .gz); default: the dataset's own", &C::data_dir},
      {"image_size", "image folders: resize the shorter side and center-crop to this (0: the model's); IDX datasets are 28",
       &C::image_size, nullptr, 64,
       {},
       [](const C& c) {
         if (is_folder_dataset(c))
           require(c.image_size == 0 || (c.image_size >= 8 && c.image_size <= 1024), "--image-size must be in [8, 1024]");
         else
           require(c.image_size == 0 || c.image_size == 28, "--image-size " + std::to_string(c.image_size) + ": " + c.dataset +
                                                                " images are 28x28 (resizing applies to image folders only)");
       }},
      {"channels", "image folders: 1 (grayscale) | 3 (RGB); IDX datasets have 1", &C::channels, nullptr, 3, {},
       [](const C& c) {
         if (is_folder_dataset(c))
           require(c.channels == 0 || c.channels == 1 || c.channels == 3, "--channels must be 1 (grayscale) or 3 (RGB)");
         else
           require(c.channels == 0 || c.channels == 1, "--channels: " + c.dataset + " images are grayscale (1 channel)");
       }},
      {"strict", "image folders: stop at a file that cannot be decoded instead of skipping it", &C::strict},
      {"holdout", "image folders: share of the images held out as the test split", &C::holdout, nullptr, nullptr, {},
       req([](const C& c) { return c.holdout >= 0 && c.holdout < 1; }, "--holdout must be in [0, 1)")},
      {"binarize", "train on binarised images (each pixel 1 with its grey level as probability): dynamic (a fresh draw of "
                   "each image every time it is seen, the IWAE paper's) | static (one draw of the training set from --seed); "
                   "the test set is one fixed draw, the same for every run",
       &C::binarize, nullptr, nullptr, {"dynamic", "static"}},
      {"train_images", "train on the first N training images only (0: all)", &C::train_images, nullptr, nullptr, {},
       req([](const C& c) { return c.train_images >= 0; }, "--train-images must be 0 (all) or a count")},
      // how to train
      {"epochs", "training epochs", &C::epochs, nullptr, nullptr, {},
       [](const C& c) { require(c.epochs >= 1, "--epochs must be at least 1 (got " + std::to_string(c.epochs) + ")"); }},
      {"batch_size", "mini-batch size (per process when data-parallel)", &C::batch_size, nullptr, 128, {},
       [](const C& c) {
         require(c.batch_size >= 0, "--batch-size must be at least 1, or 0 for the model's default (got " +
                                        std::to_string(c.batch_size) + ")");
       }},
      {"shuffle", "reshuffle the training images every epoch; --no-shuffle keeps the files' order", &C::shuffle},
      {"drop_last", "leave out each epoch's last batch when it is not full (PyTorch's drop_last)", &C::drop_last},
      {"lr", "Adam learning rate", &C::lr, nullptr, 1e-3, {},
       [](const C& c) {
         require(c.lr >= 0 && c.lr < 10, "--lr must be in (0, 10), or 0 for the model's default (got " + std::to_string(c.lr) + ")");
       }},
      {"beta1", "Adam beta1 (negative: the model's)", &C::beta1, nullptr, 0.9, {},
       req([](const C& c) { return c.beta1 < 1; }, "--beta1 must be in [0, 1), or negative for the model's default")},
      {"seed", "seed of initialisation, shuffling and sampling", &C::seed},
      {"threads", "CPU threads (0: all cores)", &C::threads, nullptr, nullptr, {},
       req([](const C& c) { return c.threads >= 0 && c.threads <= 1024; }, "--threads must be 0 (all cores) or a positive count")},
      {"device", "where to train", &C::device, nullptr, nullptr, {"cpu", "cuda"}},
      {"out", "run folder (default: runs/<model>-<date-time>)", &C::out},
      // model shape, for the models that read it
      {"arch", "mlp | conv networks", &C::arch, nullptr, "mlp", {"mlp", "conv"},
       req([](const C& c) { return !(c.contractive > 0 && c.arch == "conv"); },
           "--contractive needs --arch mlp (the Jacobian is computed for MLP encoders)")},
      {"hidden", "encoder hidden sizes, comma separated (mirrored in the decoder)", &C::hidden, nullptr, json::array({400}), {},
       [](const C& c) {
         for (auto h : c.hidden) require(h >= 1 && h <= 1000000, "--hidden sizes must be positive");
       }},
      {"latent", "code size (nz of a GAN)", &C::latent, nullptr, 20, {},
       req([](const C& c) { return c.latent >= 0 && c.latent <= 100000; },
           "--latent must be a positive size, or 0 for the model's default")},
      {"activation", "relu | leaky_relu | elu | tanh | sigmoid | identity (hidden layers and the AE code)", &C::activation,
       nullptr, nullptr, {}, [](const C& c) { parse_activation(c.activation); }},
      {"loss", "reconstruction loss", &C::loss, nullptr, "bce", {"bce", "mse"}},
      {"loss_reduction", "what the optimiser minimises: mean (over every pixel and image, PyTorch's default) | sum "
                         "(reduction='sum') | image (summed per image, averaged over the batch); metrics keep the model's unit",
       &C::loss_reduction, nullptr, nullptr, {"mean", "sum", "image"}},
      {"init", "weight initialisation: default (PyTorch's kaiming-uniform) | dcgan (N(0, 0.02), batch-norm scales N(1, 0.02), "
               "zero biases) | glorot (TensorFlow's)",
       &C::init, nullptr, "default", {"default", "dcgan", "glorot"}},
      // regularisers, for the autoencoders that read them
      {"noise", "denoising: gaussian:<sigma> | masking:<p> | salt-pepper:<p>", &C::noise, nullptr, nullptr, {},
       [](const C& c) { parse_noise(c.noise); }},
      {"l1", "weight of the L1 penalty on the code (sparse AE)", &C::l1, nullptr, nullptr, {},
       req([](const C& c) { return c.l1 >= 0 && std::isfinite(c.l1); }, "--l1 must be a non-negative weight")},
      {"sparsity", "<rho>:<weight>: KL sparsity penalty toward mean activation rho", &C::sparsity, nullptr, nullptr, {},
       [](const C& c) { parse_sparsity(c.sparsity); }},
      {"contractive", "weight of the encoder's squared Jacobian norm (contractive AE)", &C::contractive, nullptr, nullptr, {},
       req([](const C& c) { return c.contractive >= 0 && std::isfinite(c.contractive); },
           "--contractive must be a non-negative weight")},
      {"dropout", "dropout probability on hidden layers, training only", &C::dropout, nullptr, nullptr, {},
       [](const C& c) {
         require(c.dropout >= 0 && c.dropout < 1, "--dropout must be in [0, 1)");
         require(!(c.contractive > 0 && c.dropout > 0),
                 "--contractive and --dropout cannot be combined (the penalty is the Jacobian of the deterministic encoder)");
       }},
      // outputs
      {"image_every", "write image grids every N epochs (and after the last)", &C::image_every, nullptr, nullptr, {},
       req([](const C& c) { return c.image_every >= 1; }, "--image-every must be at least 1")},
      {"grid_images", "images in each samples grid", &C::grid_images, nullptr, nullptr, {},
       req([](const C& c) { return c.grid_images >= 1 && c.grid_images <= 4096; }, "--grid-images must be in [1, 4096]")},
      {"preview_every", "also write samples-latest.png every N batches (0: off)", &C::preview_every, nullptr, nullptr, {},
       req([](const C& c) { return c.preview_every >= 0; }, "--preview-every must be 0 (off) or a number of batches")},
      {"log_every", "append each phase's latest loss to steps.jsonl every N batches (0: off; negative: the model's)",
       &C::log_every, nullptr, 0, {},
       req([](const C& c) { return c.log_every >= -1; }, "--log-every must be 0 (off) or a number of batches")},
      {"save_every", "write the checkpoint every N epochs (and after the last)", &C::save_every, nullptr, nullptr, {},
       req([](const C& c) { return c.save_every >= 1; }, "--save-every must be at least 1")},
      {"keep_checkpoints", "also keep checkpoint-<epoch> of the last N saves, or all (sample, generate, reconstruct, "
                           "eval --epoch E read them)",
       &C::keep_checkpoints, nullptr, nullptr, {},
       req([](const C& c) { return c.keep_checkpoints >= -1; },
           "--keep-checkpoints must be a number of checkpoints to keep, 0 (only the latest) or all"),
       {{"all", -1}}},
      // numerics
      {"on_nonfinite", "a batch with a NaN or infinite loss or gradient: stop (keep the last good checkpoint) | skip (no "
                       "update; counted as skipped_batches in metrics.jsonl)",
       &C::on_nonfinite, nullptr, nullptr, {"stop", "skip"}},
  };
  return rows;
}

const TrainConfig& unset_config() {
  static const TrainConfig c;
  return c;
}

json member_value(const TrainConfig& c, const SettingField& f) {
  return std::visit(
      [&](auto p) -> json {
        if constexpr (std::is_same_v<decltype(p), std::monostate>)
          return nullptr;
        else
          return c.*p;
      },
      f);
}

// Reads one setting, refusing what a plain get_to would silently change: a fraction for a whole
// number ({"epochs": 1.5} is not 1) and a negative value for an unsigned one ({"seed": -1}).
template <class T>
void read_setting(const json& v, T& out, const std::string& key, const std::string& source) {
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
  if constexpr (std::is_floating_point_v<T>) {
    if (!v.is_number()) throw Error(source + ": setting '" + key + "' must be a number (got " + v.dump() + ")");
  }
  v.get_to(out);
}

// A model setting's value read with the type of its declared default.
json read_model_setting(const Setting& s, const json& v, const std::string& source) {
  const json& d = s.value;
  if (d.is_boolean()) {
    bool b;
    read_setting(v, b, s.key, source);
    return b;
  }
  if (d.is_number_integer()) {
    int64_t i;
    read_setting(v, i, s.key, source);
    return i;
  }
  if (d.is_number()) {
    double x;
    read_setting(v, x, s.key, source);
    return x;
  }
  if (d.is_array()) {
    std::vector<int64_t> a;
    read_setting(v, a, s.key, source);
    return a;
  }
  std::string t;
  read_setting(v, t, s.key, source);
  return t;
}

std::string join(const std::vector<std::string>& items, const std::string& last_sep) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i)
    out += (i == 0 ? "" : i + 1 == items.size() ? last_sep : ", ") + items[i];
  return out;
}

// A value as it is written after its flag: text bare, lists comma separated.
std::string text_of(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (!v.is_array()) return v.dump();
  std::string out;
  for (const auto& x : v) out += (out.empty() ? "" : ",") + x.dump();
  return out;
}

bool is_member(const Setting& s) { return !std::holds_alternative<std::monostate>(s.field); }

// The value of a setting nobody gave: a member's initializer, or a model setting's declared default.
json unset_value(const Setting& s) { return is_member(s) ? member_value(unset_config(), s.field) : s.value; }

// The value a setting nobody gave takes for a model: the model's entry's default, else the row's
// fallback, else unset_value (what apply_model_defaults fills in and --help prints).
json default_for(const Setting& s, const ModelEntry* e) {
  if (is_member(s) && e && e->defaults.contains(s.key)) return e->defaults[s.key];
  if (is_member(s) && !s.fallback.is_null()) return s.fallback;
  return unset_value(s);
}

}  // namespace

std::string flag_for(const std::string& key) {
  std::string f = "--" + key;
  std::replace(f.begin(), f.end(), '_', '-');
  return f;
}

std::string Setting::flag() const { return flag_for(key); }

std::string Setting::type_name() const {
  if (is_flag()) return "";
  json d = unset_value(*this);
  if (d.is_array()) return "N,N,...";
  if (d.is_number_integer() || d.is_number_unsigned()) return words.empty() ? "INT" : "INT|" + words[0].first;
  if (d.is_number()) return "NUM";
  return "TEXT";
}

bool Setting::is_flag() const {
  return std::holds_alternative<bool C::*>(field) || (!is_member(*this) && value.is_boolean());
}

const std::vector<Setting>& run_settings() { return table(); }

const std::deque<Setting>& all_settings() {
  // the run's rows, then those of each model as models register (tests add their own); appended only
  static std::deque<Setting> rows(table().begin(), table().end());
  static std::set<std::string> seen = [] {
    std::set<std::string> keys;
    for (const auto& s : table()) keys.insert(s.key);
    return keys;
  }();
  for (const ModelEntry* e : ModelRegistry::entries())
    for (const auto& s : e->settings)
      if (seen.insert(s.key).second) rows.push_back(s);
  return rows;
}

const Setting* find_setting(const std::string& key) {
  for (const auto& s : all_settings())
    if (s.key == key) return &s;
  return nullptr;
}

std::vector<std::string> models_reading(const std::string& key) {
  std::vector<std::string> out;
  for (const ModelEntry* e : ModelRegistry::entries()) {
    bool reads = std::find(e->reads.begin(), e->reads.end(), key) != e->reads.end();
    for (const auto& s : e->settings) reads |= s.key == key;
    if (reads) out.push_back(e->name);
  }
  return out;
}

bool is_model_setting(const std::string& key) { return !models_reading(key).empty(); }

json setting_value(const TrainConfig& c, const Setting& s) {
  if (is_member(s)) return member_value(c, s.field);
  auto it = c.model_settings.find(s.key);
  return it != c.model_settings.end() ? *it : s.value;
}

const json& TrainConfig::setting_json(const std::string& key) const {
  auto it = model_settings.find(key);
  if (it != model_settings.end()) return *it;
  const Setting* s = find_setting(key);
  require(s != nullptr && !is_member(*s), "'" + key + "' is not a setting any registered model declares");
  return s->value;
}

TrainConfig& TrainConfig::set_json(const std::string& key, const json& value) {
  *this = config_from_json(json{{key, value}}, *this, "setting " + key);
  return *this;
}

json setting_from_text(const Setting& s, const std::string& text) {
  for (const auto& [word, v] : s.words)
    if (word == text) return v;
  const json d = unset_value(s);
  auto whole = [&](const std::string& t) -> int64_t {
    char* end = nullptr;
    errno = 0;
    long long v = std::strtoll(t.c_str(), &end, 10);
    require(!t.empty() && end && *end == '\0' && errno == 0,
            s.flag() + " " + text + ": expected a whole number" + (s.words.empty() ? "" : " or " + s.words[0].first));
    return v;
  };
  if (std::holds_alternative<uint64_t C::*>(s.field)) {
    int64_t v = whole(text);
    require(v >= 0, s.flag() + " must not be negative (got " + text + ")");
    return static_cast<uint64_t>(v);
  }
  if (d.is_array()) {
    json out = json::array();
    size_t start = 0;
    while (start <= text.size()) {
      size_t comma = text.find(',', start);
      if (comma == std::string::npos) comma = text.size();
      out.push_back(whole(text.substr(start, comma - start)));
      start = comma + 1;
    }
    return out;
  }
  if (d.is_number_integer()) return whole(text);
  if (d.is_number()) {
    char* end = nullptr;
    double v = std::strtod(text.c_str(), &end);
    require(!text.empty() && end && *end == '\0', s.flag() + " " + text + ": expected a number");
    return v;
  }
  if (d.is_boolean()) {
    require(text == "true" || text == "false", s.flag() + " " + text + ": expected true or false");
    return text == "true";
  }
  return text;
}

std::string setting_default_for(const Setting& s, const std::string& model) {
  return text_of(default_for(s, &ModelRegistry::entry(model)));
}

std::string setting_help(const Setting& s) {
  std::string h = s.help;
  if (!s.choices.empty() && s.help.find(" | ") == std::string::npos) h += ": " + join(s.choices, " | ");
  auto models = models_reading(s.key);
  if (!models.empty()) h += "; applies to " + join(models, ", ");
  // each model's own default, then the value of the others
  std::vector<std::string> own;
  if (is_member(s))
    for (const ModelEntry* e : ModelRegistry::entries())
      if (e->defaults.contains(s.key)) own.push_back(e->name + " " + text_of(e->defaults[s.key]));
  json base = default_for(s, nullptr);  // a model without a default of its own
  bool empty = (base.is_string() && base.get<std::string>().empty()) || (base.is_array() && base.empty());
  if (!own.empty())
    h += "; default: " + join(own, ", ") + (empty ? "" : ", others " + text_of(base));
  else if (!empty && !s.is_flag())
    h += "; default: " + text_of(base);
  return h;
}

nlohmann::json to_json(const TrainConfig& c) {
  json j;
  for (const auto& s : table()) j[s.key] = member_value(c, s.field);
  for (const auto& [key, v] : c.model_settings.items()) j[key] = v;
  if (ModelRegistry::has(c.model))
    for (const auto& s : ModelRegistry::entry(c.model).settings)
      if (!j.contains(s.key)) j[s.key] = s.value;
  return j;
}

TrainConfig config_from_json(const nlohmann::json& j, TrainConfig c, const std::string& source) {
  require(j.is_object(), source + ": expected a JSON object of settings");
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& key = it.key();
    const Setting* s = find_setting(key);
    if (s == nullptr) {
      std::vector<std::string> keys;
      for (const auto& row : all_settings()) keys.push_back(row.key);
      throw Error(source + ": unknown setting '" + key + "'; known settings: " + join(keys, ", "));
    }
    try {
      if (is_member(*s))
        std::visit(
            [&](auto p) {
              if constexpr (!std::is_same_v<decltype(p), std::monostate>) read_setting(it.value(), c.*p, key, source);
            },
            s->field);
      else
        c.model_settings[key] = read_model_setting(*s, it.value(), source);
    } catch (const json::exception&) {
      throw Error(source + ": setting '" + key + "' has the wrong type (" + it.value().dump() + ")");
    }
  }
  return c;
}

TrainConfig load_config(const std::string& path, TrainConfig base) {
  std::ifstream in(path);
  require(in.good(), path + ": cannot open the config file");
  json j;
  try {
    in >> j;
  } catch (const json::exception& e) {
    throw Error(path + ": not valid JSON (" + std::string(e.what()) + ")");
  }
  return config_from_json(j, std::move(base), path);
}

void check_settings_apply(const TrainConfig& c) {
  require(ModelRegistry::has(c.model),
          "--model " + c.model + ": unknown model; choose one of " + ModelRegistry::names_joined());
  // a model-specific setting given a value (not its default) with a model that does not read it
  for (const auto& s : all_settings()) {
    auto models = models_reading(s.key);
    if (models.empty() || std::find(models.begin(), models.end(), c.model) != models.end()) continue;
    if (setting_value(c, s) == unset_value(s)) continue;
    throw Error(s.flag() + " does not apply to --model " + c.model + "; it applies to " + join(models, ", "));
  }
  // settings of image folders given for an IDX dataset
  if (!is_folder_dataset(c))
    for (const char* key : {"holdout", "strict"}) {
      const Setting& s = *find_setting(key);
      require(setting_value(c, s) == unset_value(s),
              s.flag() + " applies to image folders (--dataset folder:<path>) only; " + c.dataset + " has its own test split");
    }
}

bool is_folder_dataset(const TrainConfig& c) { return c.dataset.rfind("folder:", 0) == 0; }
std::string folder_path(const TrainConfig& c) { return is_folder_dataset(c) ? c.dataset.substr(7) : std::string(); }

void apply_model_defaults(TrainConfig& c) {
  const ModelEntry& e = ModelRegistry::entry(c.model);
  if (!is_folder_dataset(c)) {  // IDX datasets have one size
    if (c.image_size == 0) c.image_size = 28;
    if (c.channels == 0) c.channels = 1;
  }
  // The model's default applies to a setting still at its unset value, then the fallback.
  json filled = json::object();
  for (const auto& s : table())
    if (setting_value(c, s) == unset_value(s)) filled[s.key] = default_for(s, &e);
  c = config_from_json(filled, c, "model defaults of " + c.model);
  // The model's own settings are written out, so that a saved config.json is always concrete.
  for (const auto& s : e.settings)
    if (!c.model_settings.contains(s.key)) c.model_settings[s.key] = s.value;
  if (e.resolve) e.resolve(c);
}

void validate(const TrainConfig& c) {
  const ModelEntry& e = ModelRegistry::entry(c.model);
  auto check = [&](const Setting& s) {
    json v = setting_value(c, s);
    if (!s.choices.empty() && v.is_string() && !(is_member(s) && v == unset_value(s)) &&
        std::find(s.choices.begin(), s.choices.end(), v.get<std::string>()) == s.choices.end())
      throw Error(s.flag() + " " + v.get<std::string>() + ": choose " + join(s.choices, " or "));
    if (s.check) s.check(c);
  };
  for (const auto& s : table()) check(s);
  for (const auto& s : e.settings) check(s);
  if (e.check) e.check(c);
}

}  // namespace latentlab
