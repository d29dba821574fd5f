// latentlab sample / reconstruct: read a run folder, write a PNG grid or a .npy array.
#include "commands.h"
#include "latentlab/error.h"
#include "latentlab/eval.h"
#include "latentlab/io.h"
#include "latentlab/train.h"

namespace latentlab::cli {

void add_sample(CLI::App& app) {
  struct Args {
    std::string run, out = "samples.png", codes;
    int64_t n = 64, nrow = 8;
    uint64_t seed = 0;
    int64_t threads = 0, epoch = 0;
    std::vector<int64_t> labels;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("sample", "decode codes drawn from the prior");
  cmd->add_option("run", a->run, "run folder")->required();
  auto* n_opt = cmd->add_option("-n", a->n, "number of images (a conditional model: --nrow per class asked for)")
                    ->capture_default_str()->check(CLI::Range(1, 100000));
  cmd->add_option("-o,--out", a->out, "output: .png grid or .npy float32 [n, C, H, W] in [0, 1]")->capture_default_str();
  cmd->add_option("--nrow", a->nrow, "images per grid row")->capture_default_str()->check(CLI::Range(1, 1000));
  cmd->add_option("--seed", a->seed, "seed of the codes")->capture_default_str()->check(CLI::NonNegativeNumber);
  cmd->add_option("--codes", a->codes, "also write the codes decoded, as .npy float32 [n, ...]");
  add_label_flags(*cmd, a->labels);
  add_threads_flag(*cmd, a->threads);
  add_epoch_flag(*cmd, a->epoch);
  cmd->callback([a, n_opt] {
    auto run = load_run(a->run, a->epoch);
    auto classes = classes_to_generate(*run.model, a->labels, a->labels.size() == 1 ? "--label" : "--labels");
    if (!classes.empty() && n_opt->count() == 0) a->n = static_cast<int64_t>(classes.size()) * a->nrow;
    check_image_file(a->out, a->n, run.config.image_size, run.config.image_size, a->nrow);
    if (!a->codes.empty()) {
      require(a->codes.size() > 4 && a->codes.compare(a->codes.size() - 4, 4, ".npy") == 0, "--codes " + a->codes + ": name a .npy file");
      check_can_create(a->codes, "--codes");
    }
    apply_threads(a->threads);
    auto g = generate_images(*run.model, a->n, 0, 0, 1, a->seed, stderr, class_rows(classes, a->n, a->nrow));
    write_images(a->out, g.images, a->nrow);
    if (!a->codes.empty()) write_npy(a->codes, g.codes.to(torch::kCPU).contiguous());
    std::fprintf(stderr, "wrote %lld samples to %s\n", (long long)a->n, a->out.c_str());
  });
}

void add_generate(CLI::App& app) {
  struct Args {
    std::string run, out = "generated.png";
    int64_t n = 64, search = 0, nrow = 8;
    double mean = 0, std = 1;
    uint64_t seed = 0;
    int64_t threads = 0, epoch = 0;
    std::vector<int64_t> labels;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("generate", "draw images; with --search, keep the ones the discriminator scores best");
  cmd->add_option("run", a->run, "run folder")->required();
  auto* n_opt = cmd->add_option("-n", a->n, "images to keep (a conditional model: --nrow per class asked for)")
                    ->capture_default_str()->check(CLI::Range(1, 100000));
  cmd->add_option("--search", a->search, "images to draw and rank by the discriminator (0: no ranking; the seed uses 512)")
      ->capture_default_str()->check(CLI::Range(0, 1000000));
  cmd->add_option("--mean", a->mean, "mean of the codes")->capture_default_str();
  cmd->add_option("--std", a->std, "standard deviation of the codes")->capture_default_str();
  cmd->add_option("-o,--out", a->out, "output: .png grid or .npy float32 [n, C, H, W] in [0, 1]")->capture_default_str();
  cmd->add_option("--nrow", a->nrow, "images per grid row")->capture_default_str()->check(CLI::Range(1, 1000));
  cmd->add_option("--seed", a->seed, "seed of the codes")->capture_default_str()->check(CLI::NonNegativeNumber);
  add_label_flags(*cmd, a->labels);
  add_threads_flag(*cmd, a->threads);
  add_epoch_flag(*cmd, a->epoch);
  cmd->callback([a, n_opt] {
    auto run = load_run(a->run, a->epoch);
    auto classes = classes_to_generate(*run.model, a->labels, a->labels.size() == 1 ? "--label" : "--labels");
    require(classes.empty() || a->search == 0, "--search ranks by the discriminator, which a conditional GAN's scores for a "
                                               "class; drop --search for this run");
    if (!classes.empty() && n_opt->count() == 0) a->n = static_cast<int64_t>(classes.size()) * a->nrow;
    check_image_file(a->out, a->n, run.config.image_size, run.config.image_size, a->nrow);
    apply_threads(a->threads);
    auto g = generate_images(*run.model, a->n, a->search, a->mean, a->std, a->seed, stderr, class_rows(classes, a->n, a->nrow));
    write_images(a->out, g.images, a->nrow);
    if (a->search)
      std::fprintf(stderr, "kept the %lld best of %lld samples (discriminator logits %.3f to %.3f) in %s\n", (long long)a->n,
                   (long long)a->search, g.scores[0].item<double>(), g.scores[-1].item<double>(), a->out.c_str());
    else
      std::fprintf(stderr, "wrote %lld samples to %s\n", (long long)a->n, a->out.c_str());
  });
}

void add_reconstruct(CLI::App& app) {
  struct Args {
    std::string run, out = "reconstruction.png", data_dir;
    int64_t n = 32, threads = 0, epoch = 0, nrow = 8;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("reconstruct", "reconstruct the first test images");
  cmd->add_option("run", a->run, "run folder")->required();
  cmd->add_option("-n", a->n, "number of test images")->capture_default_str()->check(CLI::Range(1, 10000));
  cmd->add_option("-o,--out", a->out, "output: .png grid (inputs over reconstructions) or .npy of the reconstructions")
      ->capture_default_str();
  cmd->add_option("--nrow", a->nrow, "inputs per grid row, each row above its reconstructions (-n 10 --nrow 10: the TF seed's 2x10 figure)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000));
  cmd->add_option("--data-dir", a->data_dir, "data folder (default: the run's)");
  add_threads_flag(*cmd, a->threads);
  add_epoch_flag(*cmd, a->epoch);
  cmd->callback([a] {
    auto run = load_run(a->run, a->epoch);
    require(run.model->can_reconstruct(), "model " + run.config.model + " in " + a->run + " does not reconstruct images");
    check_image_file(a->out, 2 * a->n, run.config.image_size, run.config.image_size, a->nrow);
    apply_threads(a->threads);
    auto test = load_splits(run.config, stderr, a->data_dir).test;
    torch::NoGradGuard g;
    run.model->eval();
    const int64_t n = std::min(a->n, test.size());
    auto x = to_float(test.images.slice(0, 0, n));
    auto y = run.model->reconstruct(Batch(x, run.model->uses_labels() ? test.labels.slice(0, 0, n) : torch::Tensor()));
    if (std::filesystem::path(a->out).extension() == ".npy") {
      write_npy(a->out, y.contiguous());
    } else {
      write_reconstruction_grid(a->out, x, y, a->nrow);
    }
    std::fprintf(stderr, "wrote %lld reconstructions to %s\n", (long long)x.size(0), a->out.c_str());
  });
}

}  // namespace latentlab::cli
