#include <ATen/CPUGeneratorImpl.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>

#include "latentlab/error.h"
#include "latentlab/io.h"
#include "latentlab/progress.h"
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
};

}  // namespace

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
  Progress progress(log_);
  progress.start_epoch(epoch, config_.epochs, batcher.batches(), config_.batch_size);
  torch::Tensor last_loss;
  auto t0 = Clock::now();
  for (int64_t b = 0; b < batcher.batches(); ++b) {
    torch::Tensor x = batcher.batch(b);
    for (size_t p = 0; p < phases_.size(); ++p) {
      if (b % phases_[p].every != 0) continue;
      optims_[p]->zero_grad();
      LossTerms l = model_->losses(p, x);
      l.loss.backward();
      optims_[p]->step();
      if (phases_.size() == 1)
        sums.add(l, x.size(0), "loss", "");
      else
        sums.add(l, x.size(0), phases_[p].name, phases_[p].name + "_");
      last_loss = l.loss;
    }
    progress.update(b, [&] { return last_loss.item<double>(); });
    if (config_.preview_every > 0 && (b + 1) % config_.preview_every == 0) write_preview();
  }
  double secs = seconds_since(t0);
  nlohmann::json m;
  m["epoch"] = epoch;
  sums.to_json(m, "train_");
  if (phases_.size() > 1) {
    double total = 0;
    for (auto& p : phases_) total += m["train_" + p.name].get<double>();
    m["train_loss"] = total;
  }
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
    torch::Tensor x = batcher.batch(b);
    sums.add(model_->eval_losses(x), x.size(0), "loss", "");
  }
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

void Trainer::save_checkpoint(int64_t epoch) {
  auto a = model_archive("checkpoint", config_, shape_, *model_);
  a.write("epoch", c10::IValue(epoch));
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
    a.load_from(bytes.data(), bytes.size());
    c10::IValue v;
    require(a.try_read("kind", v) && v.isString() && v.toStringRef() == "checkpoint", path + ": not a latentlab checkpoint");
    a.read("epoch", v);
    int64_t epoch = v.toInt();
    torch::serialize::InputArchive m;
    a.read("model", m);
    model_->load(m);
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
  fs::create_directories(config_.out);
  setup();
  int64_t start = 0;
  if (!resume) {
    build_optimizers();
  } else {
    start = load_checkpoint();
    // Keep the metrics of the epochs the checkpoint holds.
    std::ifstream in(path_in(config_.out, "metrics.jsonl"));
    for (std::string line; std::getline(in, line);) {
      auto j = nlohmann::json::parse(line, nullptr, false);
      if (!j.is_discarded() && j.is_object() && j.value("epoch", int64_t(0)) <= start) metrics_.push_back(j);
    }
    std::fprintf(log_, "resuming %s after epoch %lld of %lld\n", config_.out.c_str(), (long long)start,
                 (long long)config_.epochs);
  }
  atomic_write(config_path, to_json(config_).dump(2) + "\n");
  std::fprintf(log_, "run folder: %s (model %s, %lld parameters, device %s, %d threads)\n", config_.out.c_str(),
               config_.model.c_str(), [&] {
                 long long n = 0;
                 for (auto& p : model_->parameters()) n += p.numel();
                 return n;
               }(), config_.device.c_str(), torch::get_num_threads());
  for (int64_t epoch = start + 1; epoch <= config_.epochs; ++epoch) {
    nlohmann::json m = train_epoch(epoch);
    auto t0 = Clock::now();
    m.update(evaluate());
    m["eval_seconds"] = seconds_since(t0);
    double train_loss = m["train_loss"].get<double>(), test_loss = m.value("test_loss", NAN);
    require(std::isfinite(train_loss), "epoch " + std::to_string(epoch) + ": the training loss is not finite (" +
                                           std::to_string(train_loss) + "); lower --lr. The last good checkpoint is kept.");
    metrics_.push_back(m);
    std::string lines;
    for (auto& j : metrics_) lines += j.dump() + "\n";
    atomic_write(path_in(config_.out, "metrics.jsonl"), lines);
    if (epoch % config_.image_every == 0 || epoch == config_.epochs) write_images(epoch);
    if (epoch % config_.save_every == 0 || epoch == config_.epochs) save_checkpoint(epoch);
    char buf[256];
    std::snprintf(buf, sizeof buf, "epoch %lld/%lld  train_loss %.4f  test_loss %.4f  %.1fs  %.0f img/s",
                  (long long)epoch, (long long)config_.epochs, train_loss, test_loss, m["seconds"].get<double>(),
                  m["images_per_s"].get<double>());
    Progress(log_).end_epoch(buf);
  }
  model_->to(torch::kCPU);
  atomic_write(path_in(config_.out, "model"), save_model_bytes(config_, shape_, *model_));
  model_->to(device_);
  return {metrics_, config_.out};
}

}  // namespace latentlab
