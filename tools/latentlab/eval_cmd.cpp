// latentlab eval / pca / encode: measurements of a run, the PCA baseline, codes out as .npy.
#include <cmath>
#include <filesystem>

#include "commands.h"
#include "latentlab/classifier.h"
#include "latentlab/error.h"
#include "latentlab/eval.h"
#include "latentlab/io.h"
#include "latentlab/run_folder.h"
#include "latentlab/train.h"

namespace latentlab::cli {
namespace {

void print_table(const nlohmann::json& j, const std::string& indent = "") {
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (it.value().is_object()) {
      std::printf("%s%s:\n", indent.c_str(), it.key().c_str());
      print_table(it.value(), indent + "  ");
    } else if (it.value().is_number_float()) {
      std::printf("%s%-30s %.6g\n", indent.c_str(), it.key().c_str(), it.value().get<double>());
    } else {
      std::printf("%s%-30s %s\n", indent.c_str(), it.key().c_str(),
                  it.value().is_string() ? it.value().get<std::string>().c_str() : it.value().dump().c_str());
    }
  }
}

// The flags that choose a dataset, for the commands that read one without a run folder.
void add_dataset_flags(CLI::App& cmd, TrainConfig& c) {
  cmd.add_option("--dataset", c.dataset, "mnist | fashion-mnist | folder:<path> (labels from sub-folders)")->capture_default_str();
  cmd.add_option("--data-dir", c.data_dir, "folder with the four IDX files");
  cmd.add_option("--image-size", c.image_size, "image folders: size (0: 64; as the runs or images to compare)")->capture_default_str();
  cmd.add_option("--channels", c.channels, "image folders: 1 or 3 (0: 3)")->capture_default_str();
  add_threads_flag(cmd, c.threads);
}

// Such a command's settings, checked and completed (threads applied) before any work.
TrainConfig dataset_settings(const TrainConfig& given) {
  TrainConfig c = given;
  validate(c);
  apply_model_defaults(c);
  apply_threads(c.threads);
  return c;
}

}  // namespace

void add_eval(CLI::App& app) {
  struct Args {
    std::string run, data_dir, out;
    int64_t threads = 0, epoch = 0;
    RunEvalOptions opts;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("eval", "measure a run on the test set; prints a table and writes <run>/eval.json");
  cmd->add_option("run", a->run, "run folder")->required();
  auto& o = a->opts;
  cmd->add_option("--parts", o.parts, "sections: reconstruction, likelihood, generator, codes (default: all that apply)")
      ->delimiter(',');
  cmd->add_option("--noise", o.reconstruction.noise, "noise for the noisy-input MSE (default: the run's --noise)");
  cmd->add_option("--zero-tolerance", o.reconstruction.zero_tolerance, "|code| below this counts as a near zero")
      ->capture_default_str();
  cmd->add_option("--iw-samples", o.likelihood.samples, "importance samples per image for log p(x)")
      ->capture_default_str()->check(CLI::Range(1, 1000000));
  cmd->add_option("--iw-images", o.likelihood.images, "test images for log p(x), the first N (0: all)")->capture_default_str();
  cmd->add_option("--iw-chunk", o.likelihood.chunk, "decodes per pass (bounds memory)")->capture_default_str()
      ->check(CLI::Range(1, 100000000));
  cmd->add_flag("--binarize", o.likelihood.binarize, "evaluate on dynamically binarised images");
  cmd->add_option("--fd-images", o.fd_images, "generated images for the classifier scores")->capture_default_str()
      ->check(CLI::Range(2, 1000000));
  cmd->add_option("--seed", o.seed, "seed of noise, samples and generated images")->capture_default_str()->check(CLI::NonNegativeNumber);
  cmd->add_option("--labels", o.labels, "a conditional model: the classes the generator section draws, in turn, with the "
                                        "classifier's accuracy per class (default: every class)")
      ->delimiter(',');
  cmd->add_option("--data-dir", a->data_dir, "data folder (default: the run's)");
  cmd->add_option("-o,--out", a->out, "where the results go (default: <run>/eval.json); sections of an earlier call are kept");
  add_threads_flag(*cmd, a->threads);
  add_epoch_flag(*cmd, a->epoch);
  cmd->callback([a] {
    auto& o = a->opts;
    parse_noise(o.reconstruction.noise);
    require(o.reconstruction.zero_tolerance > 0 && std::isfinite(o.reconstruction.zero_tolerance),
            "--zero-tolerance must be a positive number (got " + std::to_string(o.reconstruction.zero_tolerance) + ")");
    require(o.likelihood.images >= 0, "--iw-images must be 0 (all test images) or a count (got " +
                                          std::to_string(o.likelihood.images) + ")");
    o.reconstruction.seed = o.likelihood.seed = o.seed;
    // an earlier epoch's figures go beside the final model's, not into them
    const std::string name = a->epoch > 0 ? "eval-epoch" + std::to_string(a->epoch) + ".json" : run_folder::kEval;
    std::string out = a->out.empty() ? (std::filesystem::path(a->run) / name).string() : a->out;
    check_can_create(out, a->out.empty() ? name + " in the run folder (or -o)" : "-o");
    auto run = load_run(a->run, a->epoch);
    classes_to_generate(*run.model, o.labels, "--labels");  // before any work
    if (!run.config.binarize.empty() && !o.likelihood.binarize) {
      o.likelihood.binarize = true;
      std::fprintf(stderr, "the run trained on binarised images (--binarize %s): log p(x) is measured on binarised test images\n",
                   run.config.binarize.c_str());
    }
    apply_threads(a->threads);
    const std::string dir = a->data_dir.empty() ? run.config.data_dir : a->data_dir;
    o.data_dir = is_folder_dataset(run.config) ? folder_path(run.config)
                                               : std::filesystem::absolute(dir.empty() ? default_data_dir(run.config.dataset) : dir).string();
    auto data = load_splits(run.config, stderr, a->data_dir);
    auto j = evaluate_run(*run.model, run.config, data, o);
    print_table(j);
    nlohmann::json earlier;
    if (std::filesystem::exists(out)) {
      earlier = nlohmann::json::parse(read_file(out), nullptr, false);
      if (!earlier.is_object()) {
        std::fprintf(stderr, "warning: %s is not a JSON object; it is replaced\n", out.c_str());
        earlier = nullptr;
      }
    }
    atomic_write(out, merge_eval(earlier, j).dump(2) + "\n");
    std::fprintf(stderr, "wrote %s\n", out.c_str());
  });
}

void add_classifier_baseline(CLI::App& top);
void add_classifier_score(CLI::App& top);

void add_classifier(CLI::App& app) {
  struct Args {
    TrainConfig c;
    ClassifierTrainOptions o;
    bool force = false;
  };
  auto a = std::make_shared<Args>();
  auto* top = app.add_subcommand("classifier", "the evaluation classifier of a dataset");
  top->require_subcommand(1);
  add_classifier_baseline(*top);
  add_classifier_score(*top);
  auto* cmd = top->add_subcommand("train", "train (or retrain with --force) and cache it; prints its test accuracy");
  add_dataset_flags(*cmd, a->c);
  cmd->add_option("--epochs", a->o.epochs, "training epochs")->capture_default_str()->check(CLI::Range(1, 1000));
  cmd->add_option("--seed", a->o.seed, "seed")->capture_default_str()->check(CLI::NonNegativeNumber);
  cmd->add_flag("--force", a->force, "retrain even when a cached classifier exists");
  cmd->callback([a] {
    TrainConfig c = dataset_settings(a->c);
    auto data = load_splits(c);
    std::string name = is_folder_dataset(c) ? std::filesystem::absolute(folder_path(c)).string() : c.dataset;
    std::string path = classifier_path(name, data.train.channels(), data.train.height());
    if (!a->force && std::filesystem::exists(path)) {
      auto t = load_classifier(path);
      std::printf("classifier %s: test accuracy %.4f (cached in %s; --force retrains)\n", name.c_str(), t.test_accuracy, path.c_str());
      return;
    }
    auto t = train_classifier(data, name, a->o);
    save_classifier(t, path);
    std::printf("classifier %s: test accuracy %.4f, cached in %s\n", name.c_str(), t.test_accuracy, path.c_str());
  });
}

// latentlab classifier baseline: the scores of real training images and of uniform noise, the two
// ends of the scale a generator's score falls between.
void add_classifier_baseline(CLI::App& top) {
  struct Args {
    TrainConfig c;
    int64_t n = 10000;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = top.add_subcommand("baseline", "classifier scores of N training images and of uniform noise against the test set");
  add_dataset_flags(*cmd, a->c);
  cmd->add_option("-n", a->n, "images of each kind")->capture_default_str()->check(CLI::Range(2, 1000000));
  cmd->callback([a] {
    TrainConfig c = dataset_settings(a->c);
    auto data = load_splits(c);
    auto cls = classifier_for(c, data);
    int64_t n = std::min(a->n, data.train.size());
    auto real = evaluate_images(to_float(data.train.images.slice(0, 0, n)), cls, data.test);
    torch::manual_seed(0);
    auto noise = evaluate_images(torch::rand({n, data.train.channels(), data.train.height(), data.train.width()}), cls, data.test);
    std::printf("%-28s %14s %14s\n", "", "training images", "uniform noise");
    for (const char* k : {"classifier_frechet_distance", "classes_covered", "label_entropy", "mean_confidence"})
      std::printf("%-28s %14.4f %14.4f\n", k, real[k].get<double>(), noise[k].get<double>());
  });
}

// latentlab classifier score: the generator section's scores of images made elsewhere (a PyTorch
// model's samples as .npy), so that two frameworks' generators are measured by the same classifier.
void add_classifier_score(CLI::App& top) {
  struct Args {
    TrainConfig c;
    std::string images, out;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = top.add_subcommand("score", "the generator scores (classifier Frechet distance, classes covered, label "
                                          "entropy) of images in a .npy file: n x C x H x W in [0, 1], or uint8");
  cmd->add_option("images", a->images, ".npy file of images")->required();
  add_dataset_flags(*cmd, a->c);
  cmd->add_option("-o,--out", a->out, "also write the scores as JSON here");
  cmd->callback([a] {
    TrainConfig c = dataset_settings(a->c);
    if (!a->out.empty()) check_can_create(a->out, "-o");
    auto data = load_splits(c);
    auto images = read_images_npy(a->images, data.train.channels(), data.train.height(), data.train.width(), 2);
    auto cls = classifier_for(c, data);
    auto scores = evaluate_images(images, cls, data.test);
    print_table(scores);
    if (!a->out.empty()) atomic_write(a->out, scores.dump(2) + "\n");
  });
}

void add_pca(CLI::App& app) {
  struct Args {
    TrainConfig c;
    std::string out;
    int64_t dim = 20;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("pca", "fit PCA on the training set; report test MSE and write a reconstruction grid");
  add_dataset_flags(*cmd, a->c);
  cmd->add_option("--dim", a->dim, "number of components")->capture_default_str();
  cmd->add_option("-o,--out", a->out, "reconstruction grid (.png); default: pca-<dataset>-<dim>.png");
  cmd->callback([a] {
    TrainConfig c = dataset_settings(a->c);
    std::string name = is_folder_dataset(c) ? std::filesystem::path(folder_path(c)).filename().string() : c.dataset;
    std::string out = a->out.empty() ? "pca-" + name + "-" + std::to_string(a->dim) + ".png" : a->out;
    check_can_create(out, "-o");
    auto data = load_splits(c);
    Pca pca = Pca::fit(to_float(data.train.images), a->dim, [](const std::string& s) { std::fprintf(stderr, "%s\n", s.c_str()); });
    double mse = reconstruction_mse(data.test, [&](const Batch& x) { return pca.reconstruct(x.images); });
    std::printf("pca dataset %s dim %lld: test_mse %.6f (explained variance fraction %.4f: the %lld leading components "
                "hold %.4g of the total variance %.4g)\n",
                c.dataset.c_str(), (long long)a->dim, mse, pca.explained_fraction(), (long long)a->dim,
                pca.explained_variance.sum().item<double>(), pca.total_variance);
    auto x = to_float(data.test.images.slice(0, 0, 32));
    write_reconstruction_grid(out, x, pca.reconstruct(x).clamp(0, 1));
    std::fprintf(stderr, "wrote %s\n", out.c_str());
  });
}

void add_encode(CLI::App& app) {
  struct Args {
    std::string run, out = "codes.npy", split = "test", data_dir;
    int64_t threads = 0;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("encode", "write the codes (means for VAEs) of a split as .npy, labels beside them");
  cmd->add_option("run", a->run, "run folder")->required();
  cmd->add_option("-o,--out", a->out, "codes file (.npy, float32 [n, latent]); labels go to <name>-labels.npy")
      ->capture_default_str();
  cmd->add_option("--split", a->split, "test | train")->capture_default_str()->check(CLI::IsMember({"test", "train"}));
  cmd->add_option("--data-dir", a->data_dir, "data folder (default: the run's)");
  add_threads_flag(*cmd, a->threads);
  cmd->callback([a] {
    require(std::filesystem::path(a->out).extension() == ".npy", "-o " + a->out + ": the codes file must end in .npy");
    check_can_create(a->out, "-o");
    auto run = load_run(a->run);
    require(run.model->has_codes(), "encode: model " + run.config.model + " in " + a->run + " has no encoder to find codes with");
    apply_threads(a->threads);
    auto splits = load_splits(run.config, stderr, a->data_dir);
    const Dataset& data = a->split == "train" ? splits.train : splits.test;
    torch::Tensor codes = codes_of(*run.model, data);
    auto stem = std::filesystem::path(a->out);
    auto labels = (stem.parent_path() / (stem.stem().string() + "-labels.npy")).string();
    write_npy(labels, data.labels);
    write_npy(a->out, codes.contiguous());
    std::fprintf(stderr, "wrote %lld codes of size %lld to %s and labels to %s\n", (long long)data.size(),
                 (long long)run.model->latent_dim(), a->out.c_str(), labels.c_str());
  });
}

}  // namespace latentlab::cli
