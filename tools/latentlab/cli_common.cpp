// Flags and checks that several subcommands share.
#include <filesystem>

#include "commands.h"
#include "latentlab/error.h"
#include "latentlab/io.h"

namespace latentlab::cli {

namespace {
std::vector<std::string> g_command_line;
}  // namespace

void set_command_line(int argc, char** argv) { g_command_line.assign(argv, argv + argc); }
const std::vector<std::string>& command_line() { return g_command_line; }

void add_epoch_flag(CLI::App& cmd, int64_t& epoch) {
  cmd.add_option("--epoch", epoch, "use the weights of checkpoint-<epoch> (train --keep-checkpoints); 0: the final model")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
}

void add_label_flags(CLI::App& cmd, std::vector<int64_t>& labels) {
  auto* one = cmd.add_option("--label", labels, "a conditional model: generate this class")->expected(1);
  cmd.add_option("--labels", labels, "a conditional model: generate these classes, one row each (default: every class)")
      ->delimiter(',')
      ->excludes(one);
}

void add_threads_flag(CLI::App& cmd, int64_t& threads) {
  cmd.add_option("--threads", threads, "CPU threads (0: OMP_NUM_THREADS if set, else all cores)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t(0), int64_t(1024)));
}

void check_image_file(const std::string& path, int64_t n, int64_t height, int64_t width, int64_t nrow) {
  check_image_output(path);
  check_can_create(path, "-o");
  if (std::filesystem::path(path).extension() == ".png") check_png_grid("-o " + path, n, height, width, nrow);
}

}  // namespace latentlab::cli
