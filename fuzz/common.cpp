// Shared by every fuzz target: the target table and a scratch folder.
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "fuzz.h"

namespace latentlab::fuzz {

std::map<std::string, Target>& targets() {
  static std::map<std::string, Target> t;
  return t;
}

namespace {
struct Scratch {
  std::string path;
  Scratch() {
    path = (std::filesystem::temp_directory_path() / ("latentlab-fuzz-" + std::to_string(::getpid()))).string();
    std::filesystem::create_directories(path);
  }
  ~Scratch() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};
}  // namespace

const std::string& scratch() {
  static Scratch s;
  return s.path;
}

void write_file(const std::string& path, const uint8_t* data, size_t size) {
  std::ofstream(path, std::ios::binary | std::ios::trunc).write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
}

}  // namespace latentlab::fuzz
