// latentlab train: flags (or a JSON --config) -> TrainConfig -> Trainer.
#include <signal.h>
#include <unistd.h>

#include <csignal>
#include <algorithm>
#include <deque>
#include <filesystem>

#include "commands.h"
#include "latentlab/data.h"
#include "latentlab/distributed.h"
#include "latentlab/error.h"
#include "latentlab/presets.h"
#include "latentlab/run_folder.h"
#include "latentlab/settings.h"
#include "latentlab/signals.h"
#include "latentlab/train.h"

namespace latentlab::cli {
namespace {

// One flag of the settings table (settings.h): the option and where its value lands until resolve().
struct Flag {
  CLI::Option* option;
  const Setting* setting;
  std::string text;  // a valued flag's text, parsed by setting_from_text
  bool on = false;   // a boolean flag
};

struct TrainArgs {
  std::deque<Flag> table;  // stable addresses: CLI11 writes into text and on
  std::string config_file, resume, preset;
  bool dashboard = false;
  DashboardOptions board;
  int64_t nproc = 0;
  double dist_timeout = 60;
};

// Every setting of the table is a flag whose help (with the defaults) comes from the table.
void add_flags(CLI::App& cmd, TrainArgs& a) {
  for (const Setting& s : all_settings()) {
    Flag& f = a.table.emplace_back(Flag{nullptr, &s});
    const std::string help = setting_help(s);
    if (s.is_flag()) {
      // a setting that is on by default is turned off with --no-<key>
      bool on_by_default = setting_value(TrainConfig{}, s).get<bool>();
      f.option = cmd.add_flag(on_by_default ? s.flag() + ",!--no-" + s.flag().substr(2) : s.flag(), f.on, help);
    } else {
      f.option = cmd.add_option(s.flag(), f.text, help)->type_name(s.type_name());
    }
    if (is_model_setting(s.key)) f.option->group("Model settings (`latentlab models --verbose` lists each model's)");
  }
}

// defaults <- preset <- config file (or the resumed run's config.json) <- flags given on the command
// line. `recorded_out` receives the "out" a resumed run's config.json holds.
TrainConfig resolve(const TrainArgs& a, std::string& recorded_out) {
  nlohmann::json merged = nlohmann::json::object();
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
      if (f.option->count() && f.setting->key != "epochs" && f.setting->key != "threads" && f.setting->key != "device")
        throw Error(f.option->get_name() + " cannot change when resuming (" + a.resume +
                    "/config.json fixes it); only --epochs, --threads and --device may be given with --resume");
  } else if (!a.config_file.empty()) {
    base = load_config(a.config_file, base);
  }
  for (const auto& f : a.table)
    if (f.option->count()) merged[f.setting->key] = f.setting->is_flag() ? nlohmann::json(f.on) : setting_from_text(*f.setting, f.text);
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
  auto* cmd = app.add_subcommand("models", "list the models --model accepts, the presets and the datasets");
  auto verbose = std::make_shared<bool>(false);
  cmd->add_flag("--verbose,-v", *verbose, "also each model's settings with their defaults for that model, and the datasets");
  cmd->callback([verbose] {
    size_t w = 0;
    for (const auto& [name, summary] : ModelRegistry::list()) w = std::max(w, name.size());
    for (const auto& [name, summary] : presets()) w = std::max(w, name.size());
    const int width = static_cast<int>(w) + 2;
    for (const ModelEntry* e : ModelRegistry::entries()) {
      std::printf("%-*s%s\n", width, e->name.c_str(), e->summary.c_str());
      if (!*verbose) continue;
      // the settings this model reads or owns, and the run settings it chooses a default for
      for (const Setting& s : all_settings()) {
        auto models = models_reading(s.key);
        bool applies = std::find(models.begin(), models.end(), e->name) != models.end();
        if (!applies && !(models.empty() && e->defaults.contains(s.key))) continue;
        std::printf("    %-20s %-14s %s\n", s.flag().c_str(), setting_default_for(s, e->name).c_str(), s.help.c_str());
      }
      std::printf("\n");
    }
    std::printf("\npresets (--preset):\n");
    for (const auto& [name, summary] : presets()) std::printf("%-*s%s\n", width, name.c_str(), summary.c_str());
    if (!*verbose) return;
    std::printf("\ndatasets (--dataset):\n");
    for (const DatasetEntry* d : DatasetRegistry::entries()) {
      std::string name = d->name + (d->name.back() == ':' ? "<path>" : "");
      std::printf("%-*s%s\n", width + 6, name.c_str(), d->help.c_str());
      if (d->default_dir) std::printf("%-*sdefault folder: %s\n", width + 6, "", d->default_dir().c_str());
    }
  });
}

}  // namespace latentlab::cli
