#include <ATen/CPUGeneratorImpl.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>

#include "latentlab/error.h"
#include "latentlab/io.h"
#include "latentlab/progress.h"
#include "latentlab/report.h"
#include "latentlab/run_lock.h"
#include "latentlab/train.h"

namespace fs = std::filesystem;

namespace latentlab {

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

std::string path_in(const std::string& dir, const std::string& name) { return (fs::path(dir) / name).string(); }

// Sums of the named terms over an epoch, kept on the device (read once per epoch, no host syncs),
// with the number of images each was measured on (a phase with every > 1 sees fewer).
struct TermSums {
  std::vector<std::string> names;
  std::vector<torch::Tensor> sums;
  std::vector<int64_t> counts;
  // Adds the phase's loss as `loss_name` and each term as `term_prefix` + its name.
  void add(const LossTerms& l, int64_t n, const std::string& loss_name, const std::string& term_prefix) {
    auto add_one = [&](const std::string& name, const torch::Tensor& v) {
      for (size_t i = 0; i < names.size(); ++i)
        if (names[i] == name) {
          sums[i].add_(v.detach(), static_cast<double>(n));
          counts[i] += n;
          return;
        }
      names.push_back(name);
      sums.push_back(v.detach().mul(static_cast<double>(n)));
      counts.push_back(n);
    };
    add_one(loss_name, l.loss);
    for (const auto& [name, v] : l.terms) add_one(term_prefix + name, v);
  }
  void to_json(nlohmann::json& j, const std::string& prefix) const {
    for (size_t i = 0; i < names.size(); ++i) j[prefix + names[i]] = sums[i].item<double>() / counts[i];
  }
  // For a checkpoint written in the middle of an epoch (float32 sums survive the trip through double).
  nlohmann::json save() const {
    nlohmann::json j = nlohmann::json::array();
    for (size_t i = 0; i < names.size(); ++i) j.push_back({names[i], sums[i].item<double>(), counts[i]});
    return j;
  }
  void load(const nlohmann::json& j, torch::Device device) {
    for (const auto& e : j) {
      names.push_back(e.at(0).get<std::string>());
      sums.push_back(torch::tensor(e.at(1).get<double>(), torch::TensorOptions(torch::kFloat32).device(device)));
      counts.push_back(e.at(2).get<int64_t>());
    }
  }
};

std::atomic<bool> g_stop_requested{false};

// Sum of a phase's gradients: finite exactly when every gradient is (barring overflow of the sum).
torch::Tensor grad_sum(const Phase& phase, const FlatAdam& opt) {
  if (opt.options.alias()) return opt.flat_grads().sum();
  torch::Tensor s = torch::zeros({}, phase.parameters.front().options());
  for (const auto& p : phase.parameters)
    if (p.grad().defined()) s = s + p.grad().sum();
  return s;
}

}  // namespace

void request_stop() { g_stop_requested.store(true); }
bool stop_requested() { return g_stop_requested.load(); }

Trainer::Trainer(TrainConfig config, std::FILE* log) : config_(std::move(config)), log_(log) {
  apply_model_defaults(config_);
  validate(config_);
  device_ = resolve_device(config_.device);
  if (config_.out.empty()) config_.out = default_run_dir(config_.model);
}

void Trainer::setup() {
  apply_threads(config_.threads);
  auto t0 = Clock::now();
  Splits splits = load_splits(config_, log_);
  train_ = std::move(splits.train);
  test_ = std::move(splits.test);
  std::fprintf(log_, "data: %s, %lld train and %lld test images of %lldx%lldx%lld, loaded in %.2fs\n",
               config_.dataset.c_str(), (long long)train_.size(), (long long)test_.size(),
               (long long)train_.channels(), (long long)train_.height(), (long long)train_.width(), seconds_since(t0));
  shape_ = {train_.channels(), train_.height(), train_.width()};
  // Built once: on CUDA they copy the dataset to the device.
  train_batches_ = std::make_unique<Batcher>(train_, config_.batch_size, true, device_);
  test_batches_ = std::make_unique<Batcher>(test_, 1000, false, device_);
  torch::manual_seed(config_.seed);
  model_ = ModelRegistry::create(config_, shape_);
  model_->to(device_);
  // Fixed codes and test images for the per-epoch grids.
  torch::manual_seed(epoch_seed(config_.seed, -1));
  fixed_z_ = model_->sample_prior(config_.grid_images, torch::kFloat32).to(device_);
  fixed_x_ = to_float(test_.images.slice(0, 0, std::min<int64_t>(32, test_.size()))).to(device_);
}

nlohmann::json Trainer::train_epoch(int64_t epoch) {
  torch::manual_seed(epoch_seed(config_.seed, epoch));
  model_->set_epoch(epoch);
  Batcher& batcher = *train_batches_;
  batcher.start_epoch(at::detail::getDefaultCPUGenerator());
  model_->train();
  TermSums sums;
  int64_t first = 0, skipped = 0;
  double seconds_before = 0;
  if (partial_.is_object() && partial_.value("epoch", int64_t(-1)) == epoch) {
    // resuming inside this epoch: same shuffle (above), then the random stream and sums where they stopped
    first = partial_["next_batch"].get<int64_t>();
    skipped = partial_.value("skipped", int64_t(0));
    seconds_before = partial_.value("seconds", 0.0);
    sums.load(partial_["sums"], device_);
    at::Generator gen = at::detail::getDefaultCPUGenerator();  // a handle to the global generator
    std::lock_guard<std::mutex> lock(gen.mutex());
    gen.set_state(partial_rng_);
    partial_ = nullptr;
  }
  Progress progress(log_);
  progress.start_epoch(epoch, config_.epochs, batcher.batches(), config_.batch_size);
  torch::Tensor last_loss;
  // Non-finite losses and gradients. With --on-nonfinite stop on the CPU the optimiser finds a bad
  // gradient in the same pass as its update (the run then stops, and the weights in memory, which the
  // update spoilt, are never saved), so the check costs one scalar read of the loss. Skip mode must
  // know before the update: it reduces the gradients first. On CUDA (unless skip) the first bad batch
  // is recorded on the device and read every 50 batches and at the end of the epoch: no per-batch sync.
  const bool skip_mode = config_.on_nonfinite == "skip";
  const bool check_now = device_.is_cpu() || skip_mode;
  torch::Tensor first_bad = torch::full({}, -1, torch::TensorOptions(torch::kLong).device(device_));
  auto nonfinite_stop = [&](int64_t b, const std::string& what) {
    bool saved = fs::exists(path_in(config_.out, "checkpoint"));
    throw Error("epoch " + std::to_string(epoch) + ", batch " + std::to_string(b + 1) + " of " + std::to_string(batcher.batches()) +
                ": " + what + " is not finite; training stopped. " +
                (saved ? "The last good checkpoint is kept in " + path_in(config_.out, "checkpoint") + " (resume with --resume). "
                       : std::string("No checkpoint had been written yet. ")) +
                "Lower --lr, or pass --on-nonfinite skip to skip such batches.");
  };
  auto check_device_flag = [&] {
    int64_t bad = first_bad.item<int64_t>();
    if (bad >= 0) nonfinite_stop(bad, "the loss or a gradient");
  };
  auto t0 = Clock::now();
  int64_t b = first;
  for (; b < batcher.batches(); ++b) {
    if (stop_requested()) break;
    torch::Tensor x = batcher.batch(b);
    for (size_t p = 0; p < phases_.size(); ++p) {
      if (b % phases_[p].every != 0) continue;
      optims_[p]->zero_grad();
      LossTerms l = model_->losses_and_gradients(p, x);
      // CPU with stop: the optimiser's step reports the gradients; otherwise they are reduced first
      const bool check_in_step = check_now && !skip_mode;
      if (!check_in_step) {
        torch::Tensor health = l.loss.detach() + grad_sum(phases_[p], *optims_[p]);
        if (skip_mode) {
          if (!std::isfinite(health.item<double>())) {
            ++skipped;
            continue;
          }
        } else {
          first_bad = torch::where(first_bad.lt(0) & health.isfinite().logical_not(), torch::full_like(first_bad, b), first_bad);
        }
      }
      bool grads_finite = optims_[p]->step();
      if (check_in_step) {
        bool loss_finite = std::isfinite(l.loss.item<double>());
        if (!loss_finite || !grads_finite)
          nonfinite_stop(b, (loss_finite ? "a gradient (phase " : "the loss (phase ") + phases_[p].name + ")");
      }
      if (phases_.size() == 1)
        sums.add(l, x.size(0), "loss", "");
      else
        sums.add(l, x.size(0), phases_[p].name, phases_[p].name + "_");
      last_loss = l.loss;
    }
    if (!check_now && (b + 1) % 50 == 0) check_device_flag();
    progress.update(b, [&] { return last_loss.defined() ? last_loss.item<double>() : NAN; });
    if (config_.preview_every > 0 && (b + 1) % config_.preview_every == 0) write_preview();
  }
  if (!check_now) check_device_flag();
  double secs = seconds_before + seconds_since(t0);
  nlohmann::json here = {{"epoch", epoch}, {"next_batch", b}, {"skipped", skipped}, {"seconds", secs}, {"sums", sums.save()}};
  if (stop_requested()) {
    // interrupted (request_stop): a checkpoint that resumes at this very batch (after the last one:
    // at the test pass), written before anything else
    save_checkpoint(epoch - 1, here);
    g_stop_requested.store(false);  // served
    return nullptr;
  }
  pass_end_ = here;
  pass_end_rng_ = at::detail::getDefaultCPUGenerator().get_state();
  require(sums.names.size() > 0, "epoch " + std::to_string(epoch) + ": every batch had a non-finite loss or gradient and was skipped; "
                                 "training stopped. Lower --lr.");
  nlohmann::json m;
  m["epoch"] = epoch;
  sums.to_json(m, "train_");
  if (phases_.size() > 1) {
    double total = 0;
    for (auto& p : phases_) total += m["train_" + p.name].get<double>();
    m["train_loss"] = total;
  }
  if (config_.on_nonfinite == "skip") m["skipped_batches"] = skipped;
  m["seconds"] = secs;
  m["images_per_s"] = train_.size() / secs;
  return m;
}

nlohmann::json Trainer::evaluate() {
  torch::NoGradGuard no_grad;
  model_->eval();
  Batcher& batcher = *test_batches_;
  TermSums sums;
  for (int64_t b = 0; b < batcher.batches(); ++b) {
    if (stop_requested()) return nullptr;
    torch::Tensor x = batcher.batch(b);
    sums.add(model_->eval_losses(x), x.size(0), "loss", "");
  }
  if (stop_requested()) return nullptr;
  nlohmann::json m;
  sums.to_json(m, "test_");
  return m;
}

void Trainer::write_images(int64_t epoch) {
  torch::NoGradGuard no_grad;
  model_->eval();
  std::string e = std::to_string(epoch);
  if (model_->can_reconstruct())
    write_reconstruction_grid(path_in(config_.out, "reconstruction-" + e + ".png"), fixed_x_,
                              model_->reconstruct(fixed_x_));
  write_png_grid(path_in(config_.out, "samples-" + e + ".png"), model_->decode(fixed_z_), 8);
}

void Trainer::write_preview() {
  torch::NoGradGuard no_grad;
  model_->eval();
  write_png_grid(path_in(config_.out, "samples-latest.png"), model_->decode(fixed_z_), 8);
  model_->train();
}

void Trainer::build_optimizers() {
  phases_ = model_->phases();
  optims_.clear();
  // A parameter that an earlier phase already owns (the AAE's encoder) keeps that phase's storage.
  std::set<const void*> owned;
  for (auto& p : phases_) {
    bool shared = false;
    for (auto& t : p.parameters) shared |= !owned.insert(t.unsafeGetTensorImpl()).second;
    optims_.push_back(std::make_unique<FlatAdam>(p.parameters, FlatAdamOptions(config_.lr).beta1(config_.beta1).alias(!shared)));
  }
}

void Trainer::save_checkpoint(int64_t epoch, const nlohmann::json& partial, const torch::Tensor& rng) {
  auto a = model_archive("checkpoint", config_, shape_, *model_);
  a.write("epoch", c10::IValue(epoch));
  if (!partial.is_null()) {
    a.write("partial", c10::IValue(partial.dump()));
    a.write("partial_rng", rng.defined() ? rng : at::detail::getDefaultCPUGenerator().get_state());
  }
  for (size_t i = 0; i < optims_.size(); ++i) {
    torch::serialize::OutputArchive o;
    optims_[i]->save(o);
    a.write("optimizer_" + phases_[i].name, o);
  }
  atomic_write(path_in(config_.out, "checkpoint"), archive_bytes(a));
}

int64_t Trainer::load_checkpoint() {
  std::string path = path_in(config_.out, "checkpoint");
  require(fs::exists(path), "--resume " + config_.out + ": no checkpoint in this run folder (nothing to resume)");
  std::string bytes = read_file(path);
  try {
    torch::serialize::InputArchive a;
    load_archive(a, bytes, path);
    c10::IValue v;
    require(a.try_read("kind", v) && v.isString() && v.toStringRef() == "checkpoint", path + ": not a latentlab checkpoint");
    // the checkpoint must have been written by this run's settings (a copied or edited file is refused)
    require(a.try_read("config", v) && v.isString(), path + ": the checkpoint holds no settings; it is not a latentlab checkpoint");
    auto saved = nlohmann::json::parse(v.toStringRef(), nullptr, false);
    auto mine = to_json(config_);
    for (const char* k : {"model", "arch", "hidden", "latent", "activation", "posterior", "ngf", "ndf", "prior", "dataset",
                          "image_size", "channels", "loss", "batch_size", "seed"})
      require(saved.is_object() && saved.contains(k) && saved[k] == mine[k],
              path + ": this checkpoint was written with " + k + " = " +
                  (saved.is_object() && saved.contains(k) ? saved[k].dump() : std::string("(missing)")) + ", but " +
                  path_in(config_.out, "config.json") + " says " + mine[k].dump() +
                  "; the checkpoint belongs to another run. Restore that run's config.json or start a new run.");
    a.read("epoch", v);
    int64_t epoch = v.toInt();
    require(epoch >= 0, path + ": malformed epoch " + std::to_string(epoch));
    if (a.try_read("partial", v) && v.isString()) {
      partial_ = nlohmann::json::parse(v.toStringRef());
      a.read("partial_rng", partial_rng_);
    }
    torch::serialize::InputArchive m;
    a.read("model", m);
    load_weights(*model_, m, path);
    model_->to(device_);
    build_optimizers();
    for (size_t i = 0; i < optims_.size(); ++i) {
      torch::serialize::InputArchive o;
      a.read("optimizer_" + phases_[i].name, o);
      optims_[i]->load(o);
    }
    return epoch;
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    throw Error(path + ": cannot load checkpoint (" + std::string(e.what()).substr(0, 300) + ")");
  }
}

TrainResult Trainer::run(bool resume) {
  std::string config_path = path_in(config_.out, "config.json");
  if (!resume) {
    require(!fs::exists(path_in(config_.out, "checkpoint")),
            "--out " + config_.out + ": already holds a run; pass --resume " + config_.out + " to continue it or choose another --out");
  }
  check_can_create(config_.out, "--out", true);
  // everything that can refuse the run (data, model options) runs before the folder is made
  setup();
  {
    std::error_code ec;
    fs::create_directories(config_.out, ec);
    require(!ec, "--out " + config_.out + ": cannot create the run folder (" + ec.message() + ")");
  }
  RunLock lock(config_.out);  // held until run() returns or throws
  int64_t start = 0;
  if (!resume) {
    build_optimizers();
  } else if (!fs::exists(path_in(config_.out, "checkpoint"))) {
    require(fs::exists(config_path), "--resume " + config_.out + ": no checkpoint and no config.json there; nothing to resume");
    // killed before its first checkpoint: nothing to keep, so the run starts over (same seed, same result)
    std::fprintf(log_, "resuming %s: no checkpoint was written yet, so training starts from epoch 1\n", config_.out.c_str());
    build_optimizers();
  } else {
    start = load_checkpoint();
    require(start <= config_.epochs, "--resume " + config_.out + ": the run has finished " + std::to_string(start) +
                                         " epochs; pass --epochs with more than " + std::to_string(start) +
                                         " to train further (--epochs " + std::to_string(config_.epochs) + " was asked)");
    // Keep the metrics of the epochs the checkpoint holds.
    for (auto& j : read_metrics(path_in(config_.out, "metrics.jsonl")))
      if (j.contains("epoch") && j["epoch"].is_number() && j["epoch"].get<double>() <= start) metrics_.push_back(std::move(j));
    if (partial_.is_object())
      std::fprintf(log_, "resuming %s in epoch %lld at batch %lld\n", config_.out.c_str(),
                   (long long)partial_["epoch"].get<int64_t>(), (long long)partial_["next_batch"].get<int64_t>() + 1);
    else
      std::fprintf(log_, "resuming %s after epoch %lld of %lld\n", config_.out.c_str(), (long long)start,
                   (long long)config_.epochs);
  }
  {
    nlohmann::json recorded = to_json(config_);
    if (!recorded_out_.empty()) recorded["out"] = recorded_out_;
    atomic_write(config_path, recorded.dump(2) + "\n");
  }
  std::fprintf(log_, "run folder: %s (model %s, %lld parameters, device %s, %d thread%s)\n", config_.out.c_str(),
               config_.model.c_str(), [&] {
                 long long n = 0;
                 for (auto& p : model_->parameters()) n += p.numel();
                 return n;
               }(), config_.device.c_str(), torch::get_num_threads(), torch::get_num_threads() == 1 ? "" : "s");
  for (int64_t epoch = start + 1; epoch <= config_.epochs; ++epoch) {
    auto interrupted = [&](const std::string& when) {
      std::fprintf(log_, "\ninterrupted %s: checkpoint written; continue with latentlab train --resume %s\n", when.c_str(),
                   config_.out.c_str());
      return TrainResult{metrics_, config_.out, true};
    };
    const std::string in_epoch = "in epoch " + std::to_string(epoch);
    nlohmann::json m = train_epoch(epoch);
    if (m.is_null()) return interrupted(in_epoch + " (training pass)");
    auto t0 = Clock::now();
    nlohmann::json tested = evaluate();
    if (tested.is_null()) {
      // stopped during the test pass: resume runs it again from the end of the training pass
      save_checkpoint(epoch - 1, pass_end_, pass_end_rng_);
      g_stop_requested.store(false);
      return interrupted(in_epoch + " (test pass)");
    }
    m.update(tested);
    m["eval_seconds"] = seconds_since(t0);
    double train_loss = m["train_loss"].get<double>(), test_loss = m.value("test_loss", NAN);
    require(std::isfinite(train_loss), "epoch " + std::to_string(epoch) + ": the training loss is not finite (" +
                                           std::to_string(train_loss) + "); lower --lr. The last good checkpoint is kept.");
    metrics_.push_back(m);
    std::string lines;
    for (auto& j : metrics_) lines += j.dump() + "\n";
    atomic_write(path_in(config_.out, "metrics.jsonl"), lines);
    if (epoch % config_.image_every == 0 || epoch == config_.epochs) write_images(epoch);
    const bool saved = epoch % config_.save_every == 0 || epoch == config_.epochs;
    if (saved) save_checkpoint(epoch);
    char buf[256];
    std::snprintf(buf, sizeof buf, "epoch %lld/%lld  train_loss %.4f  test_loss %.4f  %.1fs  %.0f img/s",
                  (long long)epoch, (long long)config_.epochs, train_loss, test_loss, m["seconds"].get<double>(),
                  m["images_per_s"].get<double>());
    Progress(log_).end_epoch(buf);
    if (stop_requested() && epoch < config_.epochs) {
      // stopped while the epoch's files were written: it is complete, so its checkpoint resumes after it
      if (!saved) save_checkpoint(epoch);
      g_stop_requested.store(false);
      return interrupted("after epoch " + std::to_string(epoch));
    }
  }
  model_->to(torch::kCPU);
  atomic_write(path_in(config_.out, "model"), save_model_bytes(config_, shape_, *model_));
  model_->to(device_);
  return {metrics_, config_.out};
}

}  // namespace latentlab
