// latentlab interpolate / manifold: pictures of the code space of a run.
#include "commands.h"
#include "latentlab/error.h"
#include "latentlab/eval.h"
#include "latentlab/io.h"
#include "latentlab/plot.h"
#include "latentlab/train.h"

namespace latentlab::cli {

void add_interpolate(CLI::App& app) {
  struct Args {
    std::string run, out = "interpolation.png", data_dir, path = "auto";
    int64_t from = 0, to = 1, steps = 10, threads = 0, from_class = -1, to_class = -1, rows = 1;
    uint64_t seed = 0;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("interpolate", "decode the path between the codes of two test images, or (a conditional "
                                                "model) from one class to another at fixed codes");
  cmd->add_option("run", a->run, "run folder")->required();
  cmd->add_option("--from", a->from, "index of the first test image")->capture_default_str();
  cmd->add_option("--to", a->to, "index of the last test image")->capture_default_str();
  cmd->add_option("--steps", a->steps, "images on the path, ends included")->capture_default_str()->check(CLI::Range(2, 1000));
  cmd->add_option("--path", a->path, "auto (slerp for Gaussian priors, else linear) | slerp | linear")
      ->capture_default_str()->check(CLI::IsMember({"auto", "slerp", "linear"}));
  cmd->add_option("-o,--out", a->out, "output .png (one row) or .npy")->capture_default_str();
  cmd->add_option("--data-dir", a->data_dir, "data folder (default: the run's)");
  auto* fc = cmd->add_option("--from-class", a->from_class, "a conditional model: the class the path starts from, at fixed codes");
  auto* tc = cmd->add_option("--to-class", a->to_class, "a conditional model: the class the path ends at");
  fc->needs(tc);
  tc->needs(fc);
  cmd->add_option("--rows", a->rows, "with --from-class: codes drawn from the prior, one row each")
      ->capture_default_str()->check(CLI::Range(1, 1000))->needs(fc);
  cmd->add_option("--seed", a->seed, "with --from-class: seed of the codes")->capture_default_str()->needs(fc);
  add_threads_flag(*cmd, a->threads);
  cmd->callback([a, fc] {
    auto run = load_run(a->run);
    if (fc->count() > 0) {
      check_image_file(a->out, a->steps * a->rows, run.config.image_size, run.config.image_size, a->steps);
      apply_threads(a->threads);
      auto images = interpolate_classes(*run.model, a->from_class, a->to_class, a->steps, a->rows, a->seed);
      write_images(a->out, images, a->steps);
      std::fprintf(stderr, "wrote %lld row%s from class %lld to class %lld to %s\n", (long long)a->rows, a->rows == 1 ? "" : "s",
                   (long long)a->from_class, (long long)a->to_class, a->out.c_str());
      return;
    }
    require(run.model->can_reconstruct(), "interpolate: model " + run.config.model + " has no encoder to find the codes of test images" +
                                              (run.model->uses_labels() ? "; a conditional model interpolates between classes with "
                                                                          "--from-class A --to-class B" : ""));
    check_image_file(a->out, a->steps, run.config.image_size, run.config.image_size, a->steps);
    apply_threads(a->threads);
    auto test = load_splits(run.config, stderr, a->data_dir).test;
    for (int64_t i : {a->from, a->to})
      require(i >= 0 && i < test.size(), "interpolate: test image " + std::to_string(i) + " does not exist (the test split has " +
                                             std::to_string(test.size()) + ")");
    bool spherical = a->path == "slerp" || (a->path == "auto" && run.config.get<std::string>("prior") == "gaussian");
    auto labels = torch::stack({test.labels[a->from], test.labels[a->to]});
    auto images = interpolate_images(*run.model, to_float(test.images[a->from]), to_float(test.images[a->to]), a->steps, spherical,
                                     run.model->uses_labels() ? labels : torch::Tensor());
    write_images(a->out, images, a->steps);
    std::fprintf(stderr, "wrote %lld images (%s) to %s\n", (long long)a->steps, spherical ? "slerp" : "linear", a->out.c_str());
  });
}

void add_manifold(CLI::App& app) {
  struct Args {
    std::string run, out = "manifold.png";
    int64_t n = 20, threads = 0;
    std::vector<int64_t> dims{0, 1};
    double span = 1.0;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("manifold", "the decoder's images over a 2-D plane of the code space");
  cmd->add_option("run", a->run, "run folder")->required();
  cmd->add_option("-n", a->n, "images per side")->capture_default_str();
  cmd->add_option("--dims", a->dims, "the two code dimensions that vary, comma separated (others are 0) [default: 0,1]")
      ->delimiter(',')->expected(2);
  cmd->add_option("--span", a->span, "scale of the normal quantiles on each axis")->capture_default_str();
  cmd->add_option("-o,--out", a->out, "output .png grid or .npy")->capture_default_str();
  add_threads_flag(*cmd, a->threads);
  cmd->callback([a] {
    require(a->n >= 2 && a->n <= 100, "manifold: -n must be in [2, 100] images per side (got " + std::to_string(a->n) + ")");
    auto run = load_run(a->run);
    check_image_file(a->out, a->n * a->n, run.config.image_size, run.config.image_size, a->n);
    apply_threads(a->threads);
    auto images = latent_manifold(*run.model, a->n, a->dims[0], a->dims[1], a->span);
    write_images(a->out, images, a->n);
    std::fprintf(stderr, "wrote a %lldx%lld manifold over dimensions %lld and %lld to %s\n", (long long)a->n, (long long)a->n,
                 (long long)a->dims[0], (long long)a->dims[1], a->out.c_str());
  });
}

void add_scatter(CLI::App& app) {
  struct Args {
    std::string run, out = "scatter.png", data_dir, split = "test";
    int64_t n = 5000, size = 800, threads = 0;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("scatter", "codes of test images in 2-D (first two principal components), coloured by label");
  cmd->add_option("run", a->run, "run folder")->required();
  cmd->add_option("-n", a->n, "images (the first N of the split)")->capture_default_str()->check(CLI::Range(1, 1000000));
  cmd->add_option("--split", a->split, "test | train")->capture_default_str()->check(CLI::IsMember({"test", "train"}));
  cmd->add_option("--size", a->size, "picture size in pixels")->capture_default_str()->check(CLI::Range(200, 8192));
  cmd->add_option("-o,--out", a->out, "output .png")->capture_default_str();
  cmd->add_option("--data-dir", a->data_dir, "data folder (default: the run's)");
  add_threads_flag(*cmd, a->threads);
  cmd->callback([a] {
    require(std::filesystem::path(a->out).extension() == ".png", "-o " + a->out + ": the scatter plot is a .png");
    check_can_create(a->out, "-o");
    auto run = load_run(a->run);
    require(run.model->has_codes(), "scatter: model " + run.config.model + " has no encoder to find codes with");
    apply_threads(a->threads);
    auto splits = load_splits(run.config, stderr, a->data_dir);
    Dataset d = a->split == "train" ? splits.train : splits.test;
    int64_t n = std::min(a->n, d.size());
    d.images = d.images.slice(0, 0, n);
    d.labels = d.labels.slice(0, 0, n);
    auto z = codes_of(*run.model, d);
    std::string how = "codes";
    if (z.size(1) > 2) {
      Pca pca = Pca::fit(z, 2);
      torch::NoGradGuard g;
      z = pca.encode(z);
      how = "first two principal components of the " + std::to_string(run.model->latent_dim()) + "-d codes";
    } else if (z.size(1) == 1) {
      z = torch::cat({z, torch::zeros_like(z)}, 1);
    }
    std::vector<std::string> names = splits.classes;
    // a folder dataset is named by its last path component: the full path would not fit the title
    std::string data = is_folder_dataset(run.config)
                           ? "folder " + std::filesystem::path(folder_path(run.config)).lexically_normal().filename().string()
                           : run.config.dataset;
    if (data == "folder ") data = "folder " + std::filesystem::path(folder_path(run.config)).parent_path().filename().string();
    write_scatter_png(a->out, z, d.labels, names, run.config.model + " on " + data + ": " + how, a->size);
    std::fprintf(stderr, "wrote %lld points (%s) to %s\n", (long long)n, how.c_str(), a->out.c_str());
  });
}

}  // namespace latentlab::cli
