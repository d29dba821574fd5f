// Flags and checks that several subcommands share.
#include <unistd.h>

#include <filesystem>

#include "commands.h"
#include "latentlab/error.h"
#include "latentlab/io.h"

namespace latentlab::cli {

void add_threads_flag(CLI::App& cmd, int64_t& threads) {
  cmd.add_option("--threads", threads, "CPU threads (0: OMP_NUM_THREADS if set, else all cores)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t(0), int64_t(1024)));
}

void check_output_file(const std::string& path, const std::string& flag) {
  namespace fs = std::filesystem;
  require(!path.empty(), flag + ": the output path is empty");
  std::error_code ec;
  fs::path p = fs::absolute(path, ec);
  require(!ec, flag + " " + path + ": not a usable path (" + ec.message() + ")");
  require(!fs::is_directory(p, ec), flag + " " + path + ": is a folder; give a file name");
  // the nearest folder that exists must be one we can write into (missing ones are created on writing)
  fs::path dir = p.parent_path();
  while (!dir.empty() && !fs::exists(dir, ec) && dir != dir.root_path()) dir = dir.parent_path();
  require(fs::is_directory(dir, ec), flag + " " + path + ": " + dir.string() + " is not a folder");
  require(::access(dir.c_str(), W_OK | X_OK) == 0,
          flag + " " + path + ": cannot write into " + dir.string() + " (permission denied or read-only); choose another " + flag);
}

void check_image_file(const std::string& path, int64_t n, int64_t height, int64_t width, int64_t nrow) {
  check_image_output(path);
  check_output_file(path, "-o");
  if (std::filesystem::path(path).extension() == ".png") check_png_grid("-o " + path, n, height, width, nrow);
}

}  // namespace latentlab::cli
