// latentlab train: flags (or a JSON --config) -> TrainConfig -> Trainer.
#include <signal.h>
#include <unistd.h>

#include <csignal>
#include <algorithm>
#include <filesystem>

#include "commands.h"
#include "latentlab/distributed.h"
#include "latentlab/error.h"
#include "latentlab/presets.h"
#include "latentlab/run_folder.h"
#include "latentlab/signals.h"
#include "latentlab/train.h"

namespace latentlab::cli {
namespace {

struct Flag {
  CLI::Option* option;
  std::string key;  // the TrainConfig / config.json key
};

struct TrainArgs {
  TrainConfig flags;
  std::vector<Flag> table;
  std::string config_file, resume, preset;
  bool dashboard = false;
  DashboardOptions board;
  int64_t nproc = 0;
  double dist_timeout = 60;
};

// The flag table: every TrainConfig field is a flag, and its default is printed by --help.
void add_flags(CLI::App& cmd, TrainArgs& a) {
  TrainConfig& c = a.flags;
  auto add = [&](const std::string& flag, const std::string& key, auto& field, const std::string& help) {
    CLI::Option* opt;
    if constexpr (std::is_same_v<std::decay_t<decltype(field)>, bool>)
      opt = cmd.add_flag(flag, field, help);
    else
      opt = cmd.add_option(flag, field, help)->capture_default_str();
    a.table.push_back({opt, key});
    return opt;
  };
  add("--model", "model", c.model, "model to train (see `latentlab models`)");
  add("--dataset", "dataset", c.dataset, "mnist | fashion-mnist | folder:<path> (PNG, JPEG, BMP images, recursively)");
  add("--data-dir", "data_dir", c.data_dir, "folder with the four IDX files (plain or .gz); default: the dataset's own");
  add("--image-size", "image_size", c.image_size, "image folders: resize the shorter side and center-crop to this (0: dcgan 96, others 64)");
  add("--channels", "channels", c.channels, "image folders: 1 grayscale | 3 RGB (0: 3)");
  add("--strict", "strict", c.strict, "image folders: stop at a file that cannot be decoded instead of skipping it");
  add("--holdout", "holdout", c.holdout, "image folders: share of the images held out as the test split");
  add("--train-images", "train_images", c.train_images, "train on the first N training images only (0: all)");
  add("--epochs", "epochs", c.epochs, "training epochs");
  add("--batch-size", "batch_size", c.batch_size, "mini-batch size (0: the model's default: vae 128, ae 32, gan 64, aae 100)");
  a.table.push_back({cmd.add_flag("--shuffle,!--no-shuffle", c.shuffle,
                                  "reshuffle the training images every epoch; --no-shuffle keeps the files' order"),
                     "shuffle"});
  add("--drop-last", "drop_last", c.drop_last, "leave out each epoch's last batch when it is not full (PyTorch's drop_last)");
  add("--lr", "lr", c.lr, "Adam learning rate (0: the model's default: 1e-3; gan, dcgan 2e-4)");
  add("--lr-g", "lr_g", c.lr_g, "GANs: the generator's learning rate (0: --lr)");
  add("--lr-d", "lr_d", c.lr_d, "GANs: the discriminator's learning rate (0: --lr)");
  add("--beta1", "beta1", c.beta1, "Adam beta1 (negative: the model's default: 0.9; gan, dcgan, aae 0.5)");
  add("--seed", "seed", c.seed, "seed of initialisation, shuffling and sampling")->check(CLI::NonNegativeNumber);
  add("--threads", "threads", c.threads, "CPU threads (0: all cores)");
  add("--device", "device", c.device, "cpu | cuda");
  add("--out", "out", c.out, "run folder (default: runs/<model>-<date-time>)");
  add("--arch", "arch", c.arch, "mlp | conv networks (default: dcgan conv, others mlp)");
  add("--hidden", "hidden", c.hidden, "encoder hidden sizes, comma separated (default: vae 400, ae 256,64)")->delimiter(',');
  add("--latent", "latent", c.latent, "code size, nz of a GAN (0: the model's default: 20; gan, dcgan 100; aae 8)");
  add("--activation", "activation", c.activation, "relu | leaky_relu | elu | tanh | sigmoid | identity");
  add("--loss", "loss", c.loss, "reconstruction loss bce | mse (default: vae bce, ae mse)");
  add("--loss-reduction", "loss_reduction", c.loss_reduction,
      "what the optimiser minimises: mean (over every pixel and image, PyTorch's default) | sum (reduction='sum') | "
      "image (summed per image, averaged over the batch); default: ae mean, vae image; metrics keep the model's unit");
  add("--output", "output", c.output, "vae: decoder output sigmoid | tanh (images scaled to [-1, 1] as Normalize(0.5, 0.5); needs --loss mse)");
  add("--init", "init", c.init, "weight initialisation default (PyTorch's) | dcgan (N(0, 0.02)) | glorot (TensorFlow's); "
      "default: dcgan for dcgan, PyTorch's for the others");
  add("--noise", "noise", c.noise, "denoising: gaussian:<sigma> | masking:<p> | salt-pepper:<p>");
  add("--l1", "l1", c.l1, "weight of the L1 penalty on the code (sparse AE)");
  add("--sparsity", "sparsity", c.sparsity, "<rho>:<weight>: KL sparsity penalty toward mean activation rho");
  add("--contractive", "contractive", c.contractive, "weight of the encoder's squared Jacobian norm (contractive AE)");
  add("--dropout", "dropout", c.dropout, "dropout probability on hidden layers, training only");
  add("--beta", "beta", c.beta, "weight of the KL term (beta-VAE)");
  add("--kl-warmup", "kl_warmup", c.kl_warmup, "epochs over which the KL weight rises to --beta (0: off)");
  add("--posterior", "posterior", c.posterior, "vae: logvar | relu-sigma (the first seed's encoder)");
  add("--ngf", "ngf", c.ngf, "dcgan: generator feature maps");
  add("--ndf", "ndf", c.ndf, "dcgan: discriminator feature maps");
  add("--d-every", "d_every", c.d_every, "GANs: train the discriminator every N batches");
  add("--g-every", "g_every", c.g_every, "GANs: train the generator every N batches");
  add("--g-fresh-noise", "g_fresh_noise", c.g_fresh_noise,
      "GANs: the generator's step draws new codes (the anime seed) instead of reusing the discriminator step's fakes");
  add("--prior", "prior", c.prior, "aae: gaussian | mixture (10 Gaussians on a circle)");
  add("--image-every", "image_every", c.image_every, "write image grids every N epochs");
  add("--preview-every", "preview_every", c.preview_every, "write samples-latest.png every N batches (0: off)");
  add("--log-every", "log_every", c.log_every,
      "append each phase's latest loss to steps.jsonl every N batches (0: off; negative: GANs 20, others 0)");
  add("--save-every", "save_every", c.save_every, "write the checkpoint every N epochs (and after the last)");
  add("--keep-checkpoints", "keep_checkpoints", c.keep_checkpoints,
      "also keep checkpoint-<epoch> of the last N saves, or all (sample, generate, reconstruct, eval --epoch E read them)")
      ->transform(CLI::Transformer({{"all", "-1"}}));
  add("--grid-images", "grid_images", c.grid_images, "images in each samples grid");
  add("--on-nonfinite", "on_nonfinite", c.on_nonfinite,
      "a batch with a NaN or infinite loss or gradient: stop (keep the last good checkpoint) | skip (count it)");
}

// defaults <- preset <- config file (or the resumed run's config.json) <- flags given on the command
// line. `recorded_out` receives the "out" a resumed run's config.json holds.
TrainConfig resolve(const TrainArgs& a, std::string& recorded_out) {
  nlohmann::json given = to_json(a.flags), merged = nlohmann::json::object();
  TrainConfig base;
  require(a.preset.empty() || a.resume.empty(), "--preset cannot be given with --resume (the run's config.json fixes every setting)");
  require(a.config_file.empty() || a.resume.empty(),
          "--config cannot be given with --resume (the run's config.json fixes every setting)");
  if (!a.preset.empty()) base = config_from_json(preset(a.preset), base, "--preset " + a.preset);
  if (!a.resume.empty()) {
    std::string path = run_folder::file(a.resume, run_folder::kConfig);
    require(std::filesystem::exists(path), "--resume " + a.resume + ": no config.json there; is it a latentlab run folder?");
    base = load_config(path);
    recorded_out = base.out;
    base.out = a.resume;
    for (const auto& f : a.table)
      if (f.option->count() && f.key != "epochs" && f.key != "threads" && f.key != "device")
        throw Error(f.option->get_name() + " cannot change when resuming (" + a.resume +
                    "/config.json fixes it); only --epochs, --threads and --device may be given with --resume");
  } else if (!a.config_file.empty()) {
    base = load_config(a.config_file, base);
  }
  for (const auto& f : a.table)
    if (f.option->count()) merged[f.key] = given[f.key];
  TrainConfig c = config_from_json(merged, base, "command line");
  if (a.resume.empty()) check_settings_apply(c);
  return c;
}

}  // namespace

void add_train(CLI::App& app) {
  auto args = std::make_shared<TrainArgs>();
  auto* cmd = app.add_subcommand("train", "train a model and write a run folder");
  add_flags(*cmd, *args);
  cmd->add_option("--config", args->config_file, "JSON file of settings (keys as in a run's config.json); flags override it")
      ->check(CLI::ExistingFile);
  cmd->add_option("--preset", args->preset, "settings that reproduce a seed (listed by `latentlab models`)");
  cmd->add_option("--resume", args->resume, "continue the run in this folder from its last checkpoint")
      ->check(CLI::ExistingDirectory);
  cmd->add_option("--nproc", args->nproc,
                  "train data-parallel in N processes on this machine (c10d Gloo; --batch-size is per process); "
                  "torchrun and srun set RANK, WORLD_SIZE, ... instead")
      ->check(CLI::Range(int64_t(1), int64_t(1024)));
  cmd->add_option("--dist-timeout", args->dist_timeout,
                  "data-parallel: seconds a rank waits for the others (start, each collective) before the job stops")
      ->capture_default_str()
      ->check(CLI::Range(1.0, 86400.0));
  cmd->add_flag("--dashboard", args->dashboard, "serve the live dashboard of the runs folder while training (see `serve`)");
  add_dashboard_flags(*cmd, args->board);
  cmd->callback([args] {
    std::string recorded_out;
    TrainConfig c = resolve(*args, recorded_out);
    Trainer trainer(c);  // validates the settings (once, before any worker starts)
    if (!recorded_out.empty()) trainer.set_recorded_out(recorded_out);
    DistEnv env = dist_env_from_environment();
    env.timeout = std::chrono::milliseconds(static_cast<int64_t>(args->dist_timeout * 1000));
    const bool launcher = args->nproc > 0 && !launched_by_latentlab();
    std::unique_ptr<Dashboard> board;
    if (args->dashboard && env.rank == 0 && !launched_by_latentlab()) {
      // the dashboard shows the folder that holds this run, so earlier runs can be compared
      auto runs = std::filesystem::absolute(trainer.config().out).parent_path();
      std::filesystem::create_directories(runs);
      args->board.runs_dir = runs.string();
      board = std::make_unique<Dashboard>(args->board);
      start_dashboard(*board, args->board);
    }
    if (launcher) {
      // the workers get this command line and the run folder this process named
      std::vector<std::string> argv = command_line();
      if (c.out.empty() && args->resume.empty()) argv.insert(argv.begin() + 2, {"--out", trainer.config().out});
      int code = launch_local(args->nproc, argv, env.timeout);
      if (code == 130) throw Interrupted();
      if (code != 0) throw ExitStatus{code};
      std::fprintf(stderr, "done: %s\n", trainer.config().out.c_str());
      return;
    }
    require(args->nproc == 0 || env.world_size == args->nproc,
            "--nproc " + std::to_string(args->nproc) + " but WORLD_SIZE=" + std::to_string(env.world_size));
    trainer.set_distributed(env);
    // Ctrl-C: stop after the current batch with a checkpoint that resumes there; a second one kills.
    // The signal thread (take_signals in main) calls this; the computation is never interrupted.
    on_signal([count = 0](int) mutable {
      if (count++ > 0) return false;
      request_stop();
      const char msg[] = "\nlatentlab: stopping after this batch to write a checkpoint (Ctrl-C again to kill)\n";
      (void)!::write(2, msg, sizeof msg - 1);
      return true;
    });
    auto result = trainer.run(!args->resume.empty());
    if (result.interrupted) throw Interrupted();
    if (env.rank == 0 && !launched_by_latentlab()) std::fprintf(stderr, "done: %s\n", result.run_dir.c_str());
  });
}

void add_models(CLI::App& app) {
  auto* cmd = app.add_subcommand("models", "list the models --model accepts");
  cmd->callback([] {
    size_t w = 0;
    for (const auto& [name, summary] : ModelRegistry::list()) w = std::max(w, name.size());
    for (const auto& [name, summary] : presets()) w = std::max(w, name.size());
    const int width = static_cast<int>(w) + 2;
    for (const auto& [name, summary] : ModelRegistry::list()) std::printf("%-*s%s\n", width, name.c_str(), summary.c_str());
    std::printf("\npresets (--preset):\n");
    for (const auto& [name, summary] : presets()) std::printf("%-*s%s\n", width, name.c_str(), summary.c_str());
  });
}

}  // namespace latentlab::cli
