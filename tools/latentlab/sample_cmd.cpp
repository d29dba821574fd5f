// latentlab sample / reconstruct: read a run folder, write a PNG grid or a .npy array.
#include <ATen/CPUGeneratorImpl.h>

#include "commands.h"
#include "latentlab/error.h"
#include "latentlab/io.h"
#include "latentlab/train.h"

namespace latentlab::cli {

void add_sample(CLI::App& app) {
  struct Args {
    std::string run, out = "samples.png";
    int64_t n = 64, nrow = 8;
    uint64_t seed = 0;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("sample", "decode codes drawn from the prior");
  cmd->add_option("run", a->run, "run folder")->required();
  cmd->add_option("-n", a->n, "number of images")->capture_default_str()->check(CLI::Range(1, 100000));
  cmd->add_option("-o,--out", a->out, "output: .png grid or .npy float32 [n, C, H, W] in [0, 1]")->capture_default_str();
  cmd->add_option("--nrow", a->nrow, "images per grid row")->capture_default_str()->check(CLI::Range(1, 1000));
  cmd->add_option("--seed", a->seed, "seed of the codes")->capture_default_str();
  cmd->callback([a] {
    auto run = load_run(a->run);
    torch::NoGradGuard g;
    run.model->eval();
    auto gen = at::detail::createCPUGenerator(a->seed);
    auto z = torch::randn({a->n, run.model->latent_dim()}, gen, torch::kFloat32);
    write_images(a->out, run.model->decode(z), a->nrow);
    std::fprintf(stderr, "wrote %lld samples to %s\n", (long long)a->n, a->out.c_str());
  });
}

void add_reconstruct(CLI::App& app) {
  struct Args {
    std::string run, out = "reconstruction.png", data_dir;
    int64_t n = 32;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("reconstruct", "reconstruct the first test images");
  cmd->add_option("run", a->run, "run folder")->required();
  cmd->add_option("-n", a->n, "number of test images")->capture_default_str()->check(CLI::Range(1, 10000));
  cmd->add_option("-o,--out", a->out, "output: .png grid (inputs over reconstructions) or .npy of the reconstructions")
      ->capture_default_str();
  cmd->add_option("--data-dir", a->data_dir, "data folder (default: the run's)");
  cmd->callback([a] {
    auto run = load_run(a->run);
    require(run.model->can_reconstruct(), "model " + run.config.model + " in " + a->run + " does not reconstruct images");
    auto test = load_idx_dataset(run.config.dataset, a->data_dir.empty() ? run.config.data_dir : a->data_dir, Split::test);
    torch::NoGradGuard g;
    run.model->eval();
    auto x = to_float(test.images.slice(0, 0, std::min(a->n, test.size())));
    auto y = run.model->reconstruct(x);
    if (std::filesystem::path(a->out).extension() == ".npy") {
      write_npy(a->out, y.contiguous());
    } else {
      write_reconstruction_grid(a->out, x, y);
    }
    std::fprintf(stderr, "wrote %lld reconstructions to %s\n", (long long)x.size(0), a->out.c_str());
  });
}

}  // namespace latentlab::cli
