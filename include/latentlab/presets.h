#pragma once
// Named settings that reproduce a seed exactly (--preset). A preset is a layer of settings applied
// over the defaults and under a --config file and the flags given on the command line.
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace latentlab {

/// The settings of preset `name`; throws latentlab::Error listing the presets for an unknown name.
const nlohmann::json& preset(const std::string& name);
/// Names with one-line descriptions.
std::vector<std::pair<std::string, std::string>> presets();

}  // namespace latentlab
