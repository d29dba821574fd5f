#include "latentlab/run_folder.h"

#include <algorithm>
#include <filesystem>
#include <fstream>

namespace latentlab {
namespace run_folder {

std::string file(const std::string& run_dir, const std::string& name) { return (std::filesystem::path(run_dir) / name).string(); }

std::string kept_checkpoint(int64_t epoch) { return std::string(kCheckpoint) + "-" + std::to_string(epoch); }

std::vector<int64_t> kept_checkpoint_epochs(const std::string& run_dir) {
  std::vector<int64_t> out;
  const std::string prefix = std::string(kCheckpoint) + "-";
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(run_dir, ec)) {
    const std::string name = e.path().filename().string();
    if (name.rfind(prefix, 0) != 0) continue;
    const std::string digits = name.substr(prefix.size());
    if (!digits.empty() && digits.size() < 10 && digits.find_first_not_of("0123456789") == std::string::npos)
      out.push_back(std::stoll(digits));
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace run_folder

std::vector<nlohmann::json> read_metrics(const std::string& path, int64_t* skipped) {
  std::vector<nlohmann::json> out;
  int64_t bad = 0;
  std::ifstream in(path, std::ios::binary);
  for (std::string line; std::getline(in, line);) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (!j.is_discarded() && j.is_object())
      out.push_back(std::move(j));
    else
      ++bad;
  }
  if (skipped) *skipped = bad;
  return out;
}

}  // namespace latentlab
