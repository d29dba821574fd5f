#include <c10/util/Exception.h>

#include <algorithm>
#include <csignal>
#include <string>
#include <vector>
#include <cstdio>

#include "commands.h"
#include "latentlab/build_config.h"
#include "latentlab/distributed.h"
#include "latentlab/error.h"
#include "latentlab/signals.h"

namespace {

// Levenshtein distance, for "did you mean".
size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

}  // namespace

int main(int argc, char** argv) {
  // A file-size limit (ulimit -f) then makes write() fail with EFBIG, which names the file, instead
  // of killing the process.
  std::signal(SIGXFSZ, SIG_IGN);
  // Ctrl-C and SIGTERM go to one waiting thread, never into a running kernel (see signals.h)
  // (a worker of train --nproc holds one that comes before its handler is in place)
  latentlab::take_signals(latentlab::launched_by_latentlab());
  latentlab::cli::set_command_line(argc, argv);
  CLI::App app{"latentlab: train, evaluate, sample and visualise autoencoders, VAEs and GANs"};
  app.require_subcommand(1);
  app.set_version_flag("--version", LATENTLAB_VERSION);
  latentlab::cli::add_train(app);
  latentlab::cli::add_sample(app);
  latentlab::cli::add_generate(app);
  latentlab::cli::add_reconstruct(app);
  latentlab::cli::add_models(app);
  latentlab::cli::add_eval(app);
  latentlab::cli::add_pca(app);
  latentlab::cli::add_scatter(app);
  latentlab::cli::add_report(app);
  latentlab::cli::add_interpolate(app);
  latentlab::cli::add_manifold(app);
  latentlab::cli::add_classifier(app);
  latentlab::cli::add_encode(app);
  latentlab::cli::add_serve(app);
  latentlab::cli::add_export(app);
  if (argc == 1) {  // a bare `latentlab` prints the help
    std::printf("%s", app.help().c_str());
    return 0;
  }
  if (argv[1][0] != '-') {
    // an unknown command gets a suggestion instead of CLI11's "A subcommand is required"
    std::string given = argv[1];
    std::string best;
    size_t best_d = SIZE_MAX;
    bool known = false;
    for (const auto* sub : app.get_subcommands({})) {
      known |= sub->get_name() == given;
      size_t d = edit_distance(given, sub->get_name());
      if (d < best_d) best_d = d, best = sub->get_name();
    }
    if (!known) {
      std::fprintf(stderr, "latentlab: error: unknown command '%s'%s; `latentlab --help` lists the commands\n", given.c_str(),
                   best_d <= 2 ? ("; did you mean '" + best + "'?").c_str() : "");
      return 1;
    }
  }
  try {
    app.parse(argc, argv);
  } catch (const latentlab::cli::Interrupted&) {
    return 130;
  } catch (const latentlab::cli::ExitStatus& e) {
    return e.code;
  } catch (const CLI::ParseError& e) {
    // --help and --version exit 0; every flag error exits 1, like every other bad input
    return app.exit(e) == 0 ? 0 : 1;
  } catch (const latentlab::Error& e) {
    std::fprintf(stderr, "latentlab: error: %s\n", e.what());
    return 1;
  } catch (const c10::Error& e) {
    std::fprintf(stderr, "latentlab: error: %s\n", e.what_without_backtrace());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "latentlab: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
