#pragma once
// Every setting of a training run described once, llama.cpp-style: a row holds its config.json key
// (the flag is --<key> with '-' for '_'), its help, its type and default, and its checks. config.json
// reading and writing, the `train` flags, `train --help`, `latentlab models --verbose` and the checks
// that refuse a setting its model does not read are all generated from the rows.
//
// Where the rows come from: the run's own settings and those several models share are listed in
// src/train/config.cpp; a model declares its own settings in its registry entry
// (ModelEntry::settings, model.h), kept in TrainConfig::model_settings. Defaults are written once:
// a member's initializer in TrainConfig, a model setting's `value`, a model's choice for a shared
// setting in its entry's `defaults`, and the fallback when the model makes none in `fallback`.
#include <nlohmann/json.hpp>

#include <deque>
#include <functional>
#include <string>
#include <variant>
#include <vector>

#include "latentlab/config.h"

namespace latentlab {

/// Where a setting lives: a TrainConfig member, or (std::monostate) TrainConfig::model_settings.
using SettingField = std::variant<std::monostate, std::string TrainConfig::*, int64_t TrainConfig::*, uint64_t TrainConfig::*,
                                  double TrainConfig::*, bool TrainConfig::*, std::vector<int64_t> TrainConfig::*>;

struct Setting {
  std::string key;                ///< config.json key
  std::string help;               ///< one line for --help; the default is added from the row
  SettingField field = {};        ///< the TrainConfig member; std::monostate: a model's own setting
  nlohmann::json value = nullptr;  ///< a model's own setting: its default, whose JSON type is the setting's type
  nlohmann::json fallback = nullptr;  ///< a member whose unset value leaves it to the model: the value when the
                                      ///< model's entry gives none (null: the unset value stands)
  std::vector<std::string> choices = {};  ///< the accepted values of a text setting (empty: any, or `check`)
  std::function<void(const TrainConfig&)> check = nullptr;  ///< throws latentlab::Error naming the flag
  std::vector<std::pair<std::string, nlohmann::json>> words = {};  ///< words the flag also accepts ("all" -> -1)

  std::string flag() const;  ///< --key with '-' for '_'
  bool is_flag() const;      ///< a boolean: a flag without a value (--no-<key> too when the default is true)
  std::string type_name() const;  ///< what --help shows after the flag: INT, NUM, TEXT, N,N,...
};

/// --key with '-' for '_'.
std::string flag_for(const std::string& key);

/// The run's settings and the shared model settings (members of TrainConfig), in --help order.
const std::vector<Setting>& run_settings();
/// Every setting: run_settings() and then each registered model's own, once per key (the first row
/// registered for a key stands). Rows are only ever added, so a Setting pointer or reference stays
/// valid when more models register.
const std::deque<Setting>& all_settings();
/// The row of a key, or nullptr.
const Setting* find_setting(const std::string& key);

/// Whether a setting is model-specific (some model reads or declares it), and the models it applies to.
std::vector<std::string> models_reading(const std::string& key);
bool is_model_setting(const std::string& key);

/// The setting's value in c as JSON (a model setting not given: its default).
nlohmann::json setting_value(const TrainConfig& c, const Setting& s);
/// Parses the text given to the setting's flag (numbers, comma-separated lists, words) into JSON;
/// throws latentlab::Error naming the flag for text that is not of the setting's type.
nlohmann::json setting_from_text(const Setting& s, const std::string& text);
/// The --help line of a setting: its help, the models it applies to, and its default (the models'
/// defaults and the fallback for a setting left to the model).
std::string setting_help(const Setting& s);
/// The default a setting has for one model, as text ("128", "[400]", "logvar").
std::string setting_default_for(const Setting& s, const std::string& model);

}  // namespace latentlab
