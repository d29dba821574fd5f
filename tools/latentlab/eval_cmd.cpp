// latentlab eval / pca / encode: measurements of a run, the PCA baseline, codes out as .npy.
#include <filesystem>

#include "commands.h"
#include "latentlab/error.h"
#include "latentlab/eval.h"
#include "latentlab/io.h"
#include "latentlab/train.h"

namespace latentlab::cli {
namespace {

void print_table(const nlohmann::json& j) {
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (it.value().is_number_float())
      std::printf("%-28s %.6g\n", it.key().c_str(), it.value().get<double>());
    else
      std::printf("%-28s %s\n", it.key().c_str(), it.value().is_string() ? it.value().get<std::string>().c_str()
                                                                        : it.value().dump().c_str());
  }
}

}  // namespace

void add_eval(CLI::App& app) {
  struct Args {
    std::string run, data_dir;
    AutoencoderEvalOptions opts;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("eval", "measure a run on the test set; prints a table and writes <run>/eval.json");
  cmd->add_option("run", a->run, "run folder")->required();
  cmd->add_option("--noise", a->opts.noise, "noise for the noisy-input MSE (default: the run's --noise)");
  cmd->add_option("--zero-tolerance", a->opts.zero_tolerance, "|code| below this counts as a near zero")
      ->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_option("--seed", a->opts.seed, "seed of the noise")->capture_default_str();
  cmd->add_option("--data-dir", a->data_dir, "data folder (default: the run's)");
  cmd->callback([a] {
    parse_noise(a->opts.noise);
    auto run = load_run(a->run);
    require(run.model->can_reconstruct(), "eval: model " + run.config.model + " does not reconstruct images");
    apply_threads(run.config.threads);
    auto data = load_splits(run.config, stderr, a->data_dir);
    auto j = evaluate_autoencoder(*run.model, run.config, data.train, data.test, a->opts);
    print_table(j);
    atomic_write((std::filesystem::path(a->run) / "eval.json").string(), j.dump(2) + "\n");
  });
}

void add_pca(CLI::App& app) {
  struct Args {
    std::string dataset = "mnist", data_dir, out;
    int64_t dim = 20, threads = 0;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("pca", "fit PCA on the training set; report test MSE and write a reconstruction grid");
  cmd->add_option("--dataset", a->dataset, "mnist | fashion-mnist")->capture_default_str();
  cmd->add_option("--data-dir", a->data_dir, "folder with the four IDX files");
  cmd->add_option("--dim", a->dim, "number of components")->capture_default_str();
  cmd->add_option("-o,--out", a->out, "reconstruction grid (.png); default: pca-<dataset>-<dim>.png");
  cmd->add_option("--threads", a->threads, "CPU threads (0: all cores)")->capture_default_str();
  cmd->callback([a] {
    apply_threads(a->threads);
    auto train = load_idx_dataset(a->dataset, a->data_dir, Split::train);
    auto test = load_idx_dataset(a->dataset, a->data_dir, Split::test);
    Pca pca = Pca::fit(to_float(train.images), a->dim);
    double mse = reconstruction_mse(test, [&](const torch::Tensor& x) { return pca.reconstruct(x); });
    double var = pca.explained_variance.sum().item<double>();
    std::printf("pca dataset %s dim %lld: test_mse %.6f (explained variance %.4f)\n", a->dataset.c_str(),
                (long long)a->dim, mse, var);
    auto x = to_float(test.images.slice(0, 0, 32));
    std::string out = a->out.empty() ? "pca-" + a->dataset + "-" + std::to_string(a->dim) + ".png" : a->out;
    write_reconstruction_grid(out, x, pca.reconstruct(x).clamp(0, 1));
    std::fprintf(stderr, "wrote %s\n", out.c_str());
  });
}

void add_encode(CLI::App& app) {
  struct Args {
    std::string run, out = "codes.npy", split = "test", data_dir;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("encode", "write the codes (means for VAEs) of a split as .npy, labels beside them");
  cmd->add_option("run", a->run, "run folder")->required();
  cmd->add_option("-o,--out", a->out, "codes file (.npy, float32 [n, latent]); labels go to <name>-labels.npy")
      ->capture_default_str();
  cmd->add_option("--split", a->split, "test | train")->capture_default_str()->check(CLI::IsMember({"test", "train"}));
  cmd->add_option("--data-dir", a->data_dir, "data folder (default: the run's)");
  cmd->callback([a] {
    require(std::filesystem::path(a->out).extension() == ".npy", "-o " + a->out + ": the codes file must end in .npy");
    auto run = load_run(a->run);
    auto splits = load_splits(run.config, stderr, a->data_dir);
    const Dataset& data = a->split == "train" ? splits.train : splits.test;
    torch::NoGradGuard g;
    run.model->eval();
    Batcher batches(data, 1000, false);
    std::vector<torch::Tensor> codes;
    for (int64_t b = 0; b < batches.batches(); ++b) codes.push_back(run.model->code(batches.batch(b)));
    auto stem = std::filesystem::path(a->out);
    auto labels = (stem.parent_path() / (stem.stem().string() + "-labels.npy")).string();
    write_npy(labels, data.labels);
    write_npy(a->out, torch::cat(codes).contiguous());
    std::fprintf(stderr, "wrote %lld codes of size %lld to %s and labels to %s\n", (long long)data.size(),
                 (long long)run.model->latent_dim(), a->out.c_str(), labels.c_str());
  });
}

}  // namespace latentlab::cli
