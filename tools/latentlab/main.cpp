#include <c10/util/Exception.h>

#include <csignal>
#include <cstdio>

#include "commands.h"
#include "latentlab/build_config.h"
#include "latentlab/error.h"

int main(int argc, char** argv) {
  // A file-size limit (ulimit -f) then makes write() fail with EFBIG, which names the file, instead
  // of killing the process.
  std::signal(SIGXFSZ, SIG_IGN);
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
  try {
    app.parse(argc, argv);
  } catch (const latentlab::cli::Interrupted&) {
    return 130;
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
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
