#include <ATen/CPUGeneratorImpl.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "latentlab/error.h"
#include "latentlab/io.h"
#include "latentlab/progress.h"
#include "latentlab/run_folder.h"
#include "latentlab/settings.h"
#include "latentlab/run_lock.h"
#include "latentlab/train.h"

namespace fs = std::filesystem;

namespace latentlab {

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }


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
      const std::string name = e.at(0).get<std::string>();
      auto it = std::find(names.begin(), names.end(), name);
      if (it != names.end()) {  // merging another rank's sums
        sums[it - names.begin()].add_(e.at(1).get<double>());
        counts[it - names.begin()] += e.at(2).get<int64_t>();
        continue;
      }
      names.push_back(name);
      sums.push_back(torch::tensor(e.at(1).get<double>(), torch::TensorOptions(torch::kFloat32).device(device)));
      counts.push_back(e.at(2).get<int64_t>());
    }
  }
  // A job: the sums of every rank, on every rank (a rank that saw no images has no names, so the sums
  // travel by name, not as one tensor).
  void reduce(ProcessGroup* group, torch::Device device) {
    if (!group) return;
    auto all = group->allgather(save().dump());
    names.clear();
    sums.clear();
    counts.clear();
    for (const auto& part : all) load(nlohmann::json::parse(part), device);
  }
};

std::atomic<bool> g_stop_requested{false};

// Sum of a phase's gradients: finite exactly when every gradient is (barring overflow of the sum).
// `collected`: the flat buffer holds them (aliased, or gathered for a reduction).
torch::Tensor grad_sum(const Phase& phase, const FlatAdam& opt, bool collected) {
  if (opt.options.alias() || collected) return opt.flat_grads().sum();
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

Trainer::~Trainer() {
  if (quiet_log_) std::fclose(quiet_log_);
}

template <typename F>
void Trainer::together(F&& f) {
  if (!group_) return f();
  std::string error;
  try {
    f();
  } catch (const std::exception& e) {
    error = e.what();
  }
  group_->agree(error.empty(), error);
}

bool Trainer::stop_agreed() { return group_ ? group_->any(stop_requested()) : stop_requested(); }

std::vector<torch::Tensor> Trainer::generator_states(const torch::Tensor& mine) {
  if (!group_) return {mine};
  auto all = group_->allgather(std::string(reinterpret_cast<const char*>(mine.data_ptr<uint8_t>()), mine.numel()));
  std::vector<torch::Tensor> out;
  for (const auto& s : all)
    out.push_back(torch::from_blob(const_cast<char*>(s.data()), {static_cast<int64_t>(s.size())}, torch::kUInt8).clone());
  return out;
}

torch::Tensor Trainer::reduce_phase(size_t p, const torch::Tensor& loss, int64_t n, int64_t total, bool& stop) {
  FlatAdam& opt = *optims_[p];
  opt.collect();
  const torch::Tensor& buf = opt.grad_buffer();
  const int64_t g = buf.numel() - 2;
  // this rank's share of the batch's mean: the sum over ranks is then the mean over the whole batch
  const double w = static_cast<double>(n) / static_cast<double>(total);
  if (n == 0)
    buf.zero_();
  else {
    buf.narrow(0, 0, g).mul_(w);
    buf.narrow(0, g, 1).copy_(loss.detach().reshape({1}).mul(w));
  }
  buf.narrow(0, g + 1, 1).fill_(stop_requested() ? 1.0 : 0.0);
  auto t0 = Clock::now();
  group_->allreduce_sum(buf);
  allreduce_seconds_ += seconds_since(t0);
  stop = stop || buf[g + 1].item<float>() > 0;
  return buf[g];
}

void Trainer::check_same_settings() {
  if (!group_) return;
  nlohmann::json mine = to_json(config_);
  for (const char* k : {"out", "threads", "data_dir"}) mine.erase(k);  // may differ from host to host
  mine["(training images loaded)"] = train_.size();
  mine["(test images loaded)"] = test_.size();
  auto all = group_->allgather(mine.dump());
  const auto first = nlohmann::json::parse(all[0]);
  std::string diffs;
  for (size_t r = 1; r < all.size(); ++r) {
    const auto other = nlohmann::json::parse(all[r]);
    for (const auto& [key, value] : first.items())
      if (!other.contains(key) || other[key] != value)
        diffs += (diffs.empty() ? "" : "; ") + ("rank " + std::to_string(r) + " has " + key + " = " +
                                                 (other.contains(key) ? other[key].dump() : "(none)") + " where rank 0 has " + value.dump());
  }
  require(diffs.empty(), "the ranks of this job were started with different settings (" + diffs +
                             "); start every rank with the same command line");
}

void Trainer::setup() {
  int64_t threads = config_.threads;
  if (threads == 0 && group_ && !std::getenv("OMP_NUM_THREADS"))  // the cores shared by this machine's ranks
    threads = std::max<int64_t>(1, std::thread::hardware_concurrency() / std::max<int64_t>(1, dist_env_.local_world_size));
  apply_threads(threads);
  auto t0 = Clock::now();
  Splits splits = load_splits(config_, log_);
  resolve_classes(config_, class_count(splits), config_.dataset);  // a conditional model's classes: the data's
  train_ = std::move(splits.train);
  test_ = std::move(splits.test);
  if (!config_.binarize.empty()) {  // the test set one fixed draw; the training set one draw (static) or one per batch
    test_.images = binarize_images(test_.images, kBinarizedTestSeed);
    if (config_.binarize == "static") train_.images = binarize_images(train_.images, config_.seed);
  }
  std::fprintf(log_, "data: %s, %lld train and %lld test images of %lldx%lldx%lld, loaded in %.2fs\n",
               config_.dataset.c_str(), (long long)train_.size(), (long long)test_.size(),
               (long long)train_.channels(), (long long)train_.height(), (long long)train_.width(), seconds_since(t0));
  shape_ = {train_.channels(), train_.height(), train_.width()};
  // Built once: on CUDA they copy the dataset to the device.
  train_batches_ = std::make_unique<Batcher>(train_, config_.batch_size, config_.shuffle, device_);
  test_batches_ = std::make_unique<Batcher>(test_, 1000, false, device_);
  if (group_) {  // each rank its part of every batch
    train_batches_->shard(group_->rank(), group_->world_size());
    test_batches_->shard(group_->rank(), group_->world_size());
  }
  train_batches_->drop_last(config_.drop_last);
  {
    const int64_t global = config_.batch_size * (group_ ? group_->world_size() : 1);
    const int64_t batches = train_batches_->batches(), left = train_.size() - batches * global;
    if (config_.drop_last && left > 0)
      std::fprintf(log_, "data: --drop-last: %lld full batch%s of %lld per epoch; the last %lld image%s of each epoch's order %s left out\n",
                   (long long)batches, batches == 1 ? "" : "es", (long long)global, (long long)left, left == 1 ? "" : "s",
                   left == 1 ? "is" : "are");
  }
  torch::manual_seed(config_.seed);
  model_ = ModelRegistry::create(config_, shape_);
  model_->to(device_);
  // Fixed codes and test images for the per-epoch grids.
  torch::manual_seed(epoch_seed(config_.seed, -1));
  if (model_->uses_labels() && model_->classes() > 0) {
    // a conditional model's grid: one row per class (the first 32 classes), the same 8 codes in every
    // column, so that a column keeps its style while the class changes down the rows
    const int64_t rows = std::min<int64_t>(model_->classes(), 32);
    fixed_z_ = model_->sample_prior(8, torch::kFloat32).repeat({rows, 1}).to(device_);
    fixed_y_ = torch::arange(rows * 8, torch::kLong).div(8, "floor").to(device_);
  } else {
    fixed_z_ = model_->sample_prior(config_.grid_images, torch::kFloat32).to(device_);
  }
  const int64_t shown = std::min<int64_t>(32, test_.size());
  fixed_x_ = Batch(to_float(test_.images.slice(0, 0, shown)).to(device_),
                   model_->uses_labels() ? test_.labels.slice(0, 0, shown).to(device_) : torch::Tensor());
}

nlohmann::json Trainer::train_epoch(int64_t epoch) {
  torch::manual_seed(epoch_seed(config_.seed, epoch));
  model_->set_epoch(epoch);
  Batcher& batcher = *train_batches_;
  batcher.start_epoch(at::detail::getDefaultCPUGenerator());
  if (group_) {
    // the shuffle above is the same on every rank; noise and dropout come from a stream per rank
    torch::manual_seed(rank_seed(config_.seed, epoch, group_->rank()));
    // BatchNorm statistics stay per rank, as in DDP, and restart from rank 0's each epoch
    std::vector<torch::Tensor> buffers;
    for (auto& t : model_->buffers())
      if (t.is_floating_point()) buffers.push_back(t);
    group_->broadcast_tensors(buffers);
  }
  allreduce_seconds_ = 0;
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
    bool saved = fs::exists(run_folder::file(config_.out, run_folder::kCheckpoint));
    throw Error("epoch " + std::to_string(epoch) + ", batch " + std::to_string(b + 1) + " of " + std::to_string(batcher.batches()) +
                ": " + what + " is not finite; training stopped. " +
                (saved ? "The last good checkpoint is kept in " + run_folder::file(config_.out, run_folder::kCheckpoint) + " (resume with --resume). "
                       : std::string("No checkpoint had been written yet. ")) +
                "Lower --lr, or pass --on-nonfinite skip to skip such batches.");
  };
  auto check_device_flag = [&] {
    int64_t bad = first_bad.item<int64_t>();
    if (bad >= 0) nonfinite_stop(bad, "the loss or a gradient");
  };
  std::vector<torch::Tensor> phase_loss(phases_.size());  // each phase's latest loss, for steps.jsonl
  const std::string steps_path = run_folder::file(config_.out, run_folder::kSteps);
  auto t0 = Clock::now();
  int64_t b = first;
  bool stop = false;  // in a job: agreed by every rank through the gradient allreduce
  for (; b < batcher.batches(); ++b) {
    if (group_ ? stop : stop_requested()) break;
    Batch batch = batch_for(*model_, batcher, b);
    if (config_.binarize == "dynamic") batch.images = torch::bernoulli(batch.images);  // from the run's generator
    const torch::Tensor& x = batch.images;
    const int64_t n = x.size(0);  // in a job the last batch may leave this rank fewer images, or none
    for (size_t p = 0; p < phases_.size(); ++p) {
      if (b % phases_[p].every != 0) continue;
      optims_[p]->zero_grad();
      LossTerms l = n > 0 ? model_->losses_and_gradients(p, batch) : LossTerms{torch::zeros({}, x.options()), {}};
      if (n > 0) scale_gradients(p, model_->loss_scale(n));
      // the loss the checks read: in a job, the whole batch's, reduced with the gradients
      torch::Tensor loss = group_ ? reduce_phase(p, l.loss, n, batcher.batch_total(b), stop) : l.loss.detach();
      // CPU with stop: the optimiser's step reports the gradients; otherwise they are reduced first
      const bool check_in_step = check_now && !skip_mode;
      if (!check_in_step) {
        torch::Tensor health = loss + grad_sum(phases_[p], *optims_[p], group_ != nullptr);
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
        bool loss_finite = std::isfinite(loss.item<double>());
        if (!loss_finite || !grads_finite)
          nonfinite_stop(b, (loss_finite ? "a gradient (phase " : "the loss (phase ") + phases_[p].name + ")");
      }
      if (n == 0) continue;
      if (phases_.size() == 1)
        sums.add(l, n, "loss", "");
      else
        sums.add(l, n, phases_[p].name, phases_[p].name + "_");
      last_loss = l.loss;
      phase_loss[p] = loss;
    }
    if (!check_now && (b + 1) % 50 == 0) check_device_flag();
    progress.update(b, [&] { return last_loss.defined() ? last_loss.item<double>() : NAN; });
    if (writer() && config_.preview_every > 0 && (b + 1) % config_.preview_every == 0) write_preview(x);
    if (writer() && config_.log_every > 0 && (b + 1) % config_.log_every == 0) {
      nlohmann::json line = {{"epoch", epoch}, {"batch", b + 1}, {"step", (epoch - 1) * batcher.batches() + b + 1}};
      for (size_t p = 0; p < phases_.size(); ++p)
        if (phase_loss[p].defined()) line[phases_.size() == 1 ? std::string("loss") : phases_[p].name] = phase_loss[p].item<double>();
      append_line(steps_path, line.dump() + "\n");
    }
  }
  if (!check_now) check_device_flag();
  double secs = seconds_before + seconds_since(t0);
  if (group_) {
    stop = stop || group_->any(stop_requested());  // a request after the last batch's allreduce
    sums.reduce(group_.get(), device_);
  } else {
    stop = stop_requested();
  }
  nlohmann::json here = {{"epoch", epoch}, {"next_batch", b}, {"skipped", skipped}, {"seconds", secs}, {"sums", sums.save()}};
  if (stop) {
    // interrupted (request_stop): a checkpoint that resumes at this very batch (after the last one:
    // at the test pass), written before anything else
    save_checkpoint(epoch - 1, here, generator_states(at::detail::getDefaultCPUGenerator().get_state()));
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
  if (group_) {
    m["world_size"] = group_->world_size();
    m["allreduce_seconds"] = allreduce_seconds_;  // rank 0's
  }
  return m;
}

nlohmann::json Trainer::evaluate() {
  torch::NoGradGuard no_grad;
  model_->eval();
  Batcher& batcher = *test_batches_;
  TermSums sums;
  for (int64_t b = 0; b < batcher.batches() && !stop_requested(); ++b) {
    const Batch batch = batch_for(*model_, batcher, b);
    if (batch.images.size(0) > 0) sums.add(model_->eval_losses(batch), batch.images.size(0), "loss", "");
  }
  if (stop_agreed()) return nullptr;
  sums.reduce(group_.get(), device_);
  nlohmann::json m;
  sums.to_json(m, "test_");
  return m;
}

void Trainer::write_images(int64_t epoch) {
  if (!writer()) return;
  torch::NoGradGuard no_grad;
  model_->eval();
  std::string e = std::to_string(epoch);
  if (model_->can_reconstruct())
    write_reconstruction_grid(run_folder::file(config_.out, "reconstruction-" + e + ".png"), fixed_x_.images,
                              model_->reconstruct(fixed_x_));
  write_png_grid(run_folder::file(config_.out, "samples-" + e + ".png"), grid_samples(), 8);
}

void Trainer::write_preview(const torch::Tensor& batch) {
  torch::NoGradGuard no_grad;
  model_->eval();
  write_png_grid(run_folder::file(config_.out, "samples-latest.png"), grid_samples(), 8);
  // a GAN's samples beside the real images of this batch (the seed's visdom pair)
  if (model_->has_critic() && batch.defined() && batch.size(0) > 0)
    write_png_grid(run_folder::file(config_.out, "real-latest.png"), batch.slice(0, 0, std::min<int64_t>(batch.size(0), config_.grid_images)), 8);
  model_->train();
}

void Trainer::scale_gradients(size_t p, double s) {
  if (s == 1.0) return;
  torch::NoGradGuard no_grad;
  if (optims_[p]->options.alias()) {
    optims_[p]->flat_grads().mul_(s);
    return;
  }
  for (auto& t : phases_[p].parameters)
    if (t.grad().defined()) t.mutable_grad().mul_(s);
}

void Trainer::build_optimizers() {
  phases_ = model_->phases();
  optims_.clear();
  // A parameter that an earlier phase already owns (the AAE's encoder) keeps that phase's storage.
  std::set<const void*> owned;
  for (auto& p : phases_) {
    bool shared = false;
    for (auto& t : p.parameters) shared |= !owned.insert(t.unsafeGetTensorImpl()).second;
    optims_.push_back(std::make_unique<FlatAdam>(p.parameters, FlatAdamOptions(p.lr > 0 ? p.lr : config_.lr).beta1(config_.beta1).alias(!shared).spare(group_ ? 2 : 0)));
  }
}

void Trainer::save_checkpoint(int64_t epoch, const nlohmann::json& partial, const std::vector<torch::Tensor>& rngs) {
  if (!writer()) return;
  WeightsWriter w = model_writer("checkpoint", config_, shape_, *model_);
  w.metadata["epoch"] = std::to_string(epoch);
  w.metadata["world_size"] = std::to_string(group_ ? group_->world_size() : int64_t(1));
  if (!partial.is_null()) {
    w.metadata["partial"] = partial.dump();
    for (size_t r = 0; r < rngs.size(); ++r) w.tensors.emplace_back("rng." + std::to_string(r), rngs[r]);
  }
  for (size_t i = 0; i < optims_.size(); ++i) optims_[i]->save(w, "optimizer." + phases_[i].name + ".");
  atomic_write(run_folder::file(config_.out, run_folder::kCheckpoint), w.bytes());
  if (partial.is_null() && config_.keep_checkpoints != 0) keep_checkpoint(epoch);
}

void Trainer::keep_checkpoint(int64_t epoch) {
  // checkpoint-<epoch>: a hard link to the file just written (the next save renames a new file over
  // `checkpoint`, so the link keeps this one), made under a temporary name and renamed into place
  const fs::path latest = run_folder::file(config_.out, run_folder::kCheckpoint);
  const fs::path kept = run_folder::file(config_.out, run_folder::kept_checkpoint(epoch));
  const fs::path part = kept.string() + ".part";
  std::error_code ec;
  fs::remove(part, ec);
  fs::create_hard_link(latest, part, ec);
  if (ec)
    atomic_write(kept.string(), read_file(latest.string()));  // a file system without links
  else {
    fs::rename(part, kept, ec);
    require(!ec, "cannot write " + kept.string() + " (" + ec.message() + ")");
  }
  if (config_.keep_checkpoints < 0) return;
  auto epochs = run_folder::kept_checkpoint_epochs(config_.out);
  for (size_t i = 0; i + config_.keep_checkpoints < epochs.size(); ++i)
    fs::remove(run_folder::file(config_.out, run_folder::kept_checkpoint(epochs[i])), ec);
}

int64_t Trainer::load_checkpoint(const std::string& bytes) {
  std::string path = run_folder::file(config_.out, run_folder::kCheckpoint);
  try {
    WeightsFile f = WeightsFile::read_kind(bytes, path, {"checkpoint"}, "checkpoint");
    // the checkpoint must have been written by this run's settings (a copied or edited file is refused)
    require(!f.meta("config").empty(), path + ": the checkpoint holds no settings; it is not a latentlab checkpoint");
    auto saved = nlohmann::json::parse(f.meta("config"), nullptr, false);
    auto mine = to_json(config_);
    // the data, the batches and the seed, and every setting the model reads or declares (the weights' shapes among them)
    std::vector<std::string> keys = {"model", "dataset", "image_size", "channels", "batch_size", "seed", "latent"};
    const ModelEntry& entry = ModelRegistry::entry(config_.model);
    keys.insert(keys.end(), entry.reads.begin(), entry.reads.end());
    for (const auto& s : entry.settings) keys.push_back(s.key);
    require(saved.is_object(), path + ": malformed settings; it is not a latentlab checkpoint");
    for (const auto& k : keys) {
      // a model setting added since the checkpoint was written (iw_k, gan_loss, ...) had its default then
      const Setting* s = find_setting(k);
      const bool added = !saved.contains(k) && s && std::holds_alternative<std::monostate>(s->field);
      const nlohmann::json was = saved.contains(k) ? saved[k] : added ? s->value : nlohmann::json();
      require((saved.contains(k) || added) && was == mine[k],
              path + ": this checkpoint was written with " + k + " = " +
                  (saved.contains(k) || added ? was.dump() : std::string("(missing)")) + ", but " +
                  run_folder::file(config_.out, run_folder::kConfig) + " says " + mine[k].dump() +
                  "; the checkpoint belongs to another run. Restore that run's config.json or start a new run.");
    }
    const int64_t world = group_ ? group_->world_size() : 1;
    const int64_t saved_world = f.meta_count("world_size", 1);
    require(saved_world == world, path + ": this run was trained by " + std::to_string(saved_world) + " process" +
                                      (saved_world == 1 ? "" : "es") + " and is resumed by " + std::to_string(world) +
                                      "; resume it with the same number (" +
                                      (saved_world == 1 ? std::string("without --nproc or WORLD_SIZE") : "--nproc " + std::to_string(saved_world) + " or WORLD_SIZE=" + std::to_string(saved_world)) +
                                      "): the batches and random streams depend on it");
    require(!f.meta("epoch").empty(), path + ": the checkpoint holds no epoch; it is not a complete checkpoint");
    const int64_t epoch = f.meta_count("epoch", 0);
    if (!f.meta("partial").empty()) {
      partial_ = nlohmann::json::parse(f.meta("partial"), nullptr, false);
      require(partial_.is_object(), path + ": malformed partial-epoch state");
      const std::string rng = "rng." + std::to_string(group_ ? group_->rank() : 0);
      partial_rng_ = f.tensor(rng);
      require(partial_rng_.defined() && partial_rng_.scalar_type() == torch::kUInt8,
              path + ": holds no generator state " + rng + " for this rank of the interrupted epoch");
    }
    load_weights(*model_, f, "model.");
    model_->to(device_);
    build_optimizers();
    for (size_t i = 0; i < optims_.size(); ++i) optims_[i]->load(f, "optimizer." + phases_[i].name + ".");
    return epoch;
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    throw Error(path + ": cannot load checkpoint (" + std::string(e.what()).substr(0, 300) + ")");
  }
}

int64_t Trainer::prepare(bool resume) {
  const std::string config_path = run_folder::file(config_.out, run_folder::kConfig);
  // everything that can refuse the run (data, model options) runs before the folder is made
  together([&] {
    if (writer()) {
      if (!resume)
        require(!fs::exists(run_folder::file(config_.out, run_folder::kCheckpoint)),
                "--out " + config_.out + ": already holds a run; pass --resume " + config_.out + " to continue it or choose another --out");
      check_can_create(config_.out, "--out", true);
    }
    setup();
  });
  check_same_settings();
  // rank 0 makes the folder, takes its lock and reads the checkpoint, which every rank then loads
  std::string checkpoint;
  together([&] {
    if (!writer()) return;
    std::error_code ec;
    fs::create_directories(config_.out, ec);
    require(!ec, "--out " + config_.out + ": cannot create the run folder (" + ec.message() + ")");
    lock_ = std::make_unique<RunLock>(config_.out);  // held until run() returns or throws
    if (!resume) return;
    if (!fs::exists(run_folder::file(config_.out, run_folder::kCheckpoint))) {
      require(fs::exists(config_path), "--resume " + config_.out + ": no checkpoint and no config.json there; nothing to resume");
      // killed before its first checkpoint: nothing to keep, so the run starts over (same seed, same result)
      std::fprintf(log_, "resuming %s: no checkpoint was written yet, so training starts from epoch 1\n", config_.out.c_str());
      return;
    }
    checkpoint = read_file(run_folder::file(config_.out, run_folder::kCheckpoint));
    require(!checkpoint.empty(), run_folder::file(config_.out, run_folder::kCheckpoint) + ": the file is empty; it is not a latentlab checkpoint");
  });
  if (group_) checkpoint = group_->broadcast_bytes(checkpoint);
  int64_t start = 0;
  together([&] {
    if (checkpoint.empty()) {
      build_optimizers();
      return;
    }
    start = load_checkpoint(checkpoint);
    require(start <= config_.epochs, "--resume " + config_.out + ": the run has finished " + std::to_string(start) +
                                         " epochs; pass --epochs with more than " + std::to_string(start) +
                                         " to train further (--epochs " + std::to_string(config_.epochs) + " was asked)");
  });
  if (group_) {  // as DDP: every rank starts from rank 0's parameters
    std::vector<torch::Tensor> params = model_->parameters();
    group_->broadcast_tensors(params);
  }
  if (writer()) {
    // steps.jsonl keeps the lines of the batches the checkpoint holds (a fresh run starts it empty)
    const std::string steps = run_folder::file(config_.out, run_folder::kSteps);
    if (fs::exists(steps)) {
      const int64_t upto = start * train_batches_->batches() + (partial_.is_object() ? partial_["next_batch"].get<int64_t>() : 0);
      std::string kept;
      if (!checkpoint.empty())
        for (auto& j : read_metrics(steps))
          if (j.contains("step") && j["step"].is_number() && j["step"].get<double>() <= upto) kept += j.dump() + "\n";
      atomic_write(steps, kept);
    }
  }
  if (writer() && start > 0) {
    // Keep the metrics of the epochs the checkpoint holds.
    for (auto& j : read_metrics(run_folder::file(config_.out, run_folder::kMetrics)))
      if (j.contains("epoch") && j["epoch"].is_number() && j["epoch"].get<double>() <= start) metrics_.push_back(std::move(j));
    if (partial_.is_object())
      std::fprintf(log_, "resuming %s in epoch %lld at batch %lld\n", config_.out.c_str(),
                   (long long)partial_["epoch"].get<int64_t>(), (long long)partial_["next_batch"].get<int64_t>() + 1);
    else
      std::fprintf(log_, "resuming %s after epoch %lld of %lld\n", config_.out.c_str(), (long long)start,
                   (long long)config_.epochs);
  }
  if (writer()) {
    nlohmann::json recorded = to_json(config_);
    if (!recorded_out_.empty()) recorded["out"] = recorded_out_;
    atomic_write(config_path, recorded.dump(2) + "\n");
  }
  return start;
}

TrainResult Trainer::run(bool resume) {
  struct ReleaseLock {  // the lock is held while run() runs, however it ends
    std::unique_ptr<RunLock>& lock;
    ~ReleaseLock() { lock.reset(); }
  } release{lock_};
  if (dist_env_.distributed()) {
    if (device_.is_cuda()) {
      const int64_t gpus = static_cast<int64_t>(torch::cuda::device_count());
      require(dist_env_.local_rank < gpus, "--device cuda: rank " + std::to_string(dist_env_.rank) + " is local rank " +
                                               std::to_string(dist_env_.local_rank) + " on a machine with " + std::to_string(gpus) +
                                               " GPU" + (gpus == 1 ? "" : "s") + "; start at most one process per GPU");
      device_ = torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(dist_env_.local_rank));
    }
    group_ = std::make_unique<ProcessGroup>(dist_env_, device_);
    if (group_->rank() != 0) {  // rank 0 reports; the others only fail loudly
      quiet_log_ = std::fopen("/dev/null", "w");
      if (quiet_log_) log_ = quiet_log_;
    }
  }
  const int64_t start = prepare(resume);
  std::fprintf(log_, "run folder: %s (model %s, %lld parameters, device %s, %d thread%s)\n", config_.out.c_str(),
               config_.model.c_str(), [&] {
                 long long n = 0;
                 for (auto& p : model_->parameters()) n += p.numel();
                 return n;
               }(), config_.device.c_str(), torch::get_num_threads(), torch::get_num_threads() == 1 ? "" : "s");
  if (group_)
    std::fprintf(log_, "data-parallel: %lld processes (%s), %lld images per process per batch, %lld per step\n",
                 (long long)group_->world_size(), group_->backend().c_str(), (long long)config_.batch_size,
                 (long long)(config_.batch_size * group_->world_size()));
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
      save_checkpoint(epoch - 1, pass_end_, generator_states(pass_end_rng_));
      g_stop_requested.store(false);
      return interrupted(in_epoch + " (test pass)");
    }
    m.update(tested);
    m["eval_seconds"] = seconds_since(t0);
    double train_loss = m["train_loss"].get<double>(), test_loss = m.value("test_loss", NAN);
    require(std::isfinite(train_loss), "epoch " + std::to_string(epoch) + ": the training loss is not finite (" +
                                           std::to_string(train_loss) + "); lower --lr. The last good checkpoint is kept.");
    metrics_.push_back(m);
    if (writer()) {
      std::string lines;
      for (auto& j : metrics_) lines += j.dump() + "\n";
      atomic_write(run_folder::file(config_.out, run_folder::kMetrics), lines);
    }
    if (epoch % config_.image_every == 0 || epoch == config_.epochs) write_images(epoch);
    const bool saved = epoch % config_.save_every == 0 || epoch == config_.epochs;
    if (saved) save_checkpoint(epoch);
    char buf[256];
    std::snprintf(buf, sizeof buf, "epoch %lld/%lld  train_loss %.4f  test_loss %.4f  %.1fs  %.0f img/s",
                  (long long)epoch, (long long)config_.epochs, train_loss, test_loss, m["seconds"].get<double>(),
                  m["images_per_s"].get<double>());
    Progress(log_).end_epoch(buf);
    if (stop_agreed() && epoch < config_.epochs) {
      // stopped while the epoch's files were written: it is complete, so its checkpoint resumes after it
      if (!saved) save_checkpoint(epoch);
      g_stop_requested.store(false);
      return interrupted("after epoch " + std::to_string(epoch));
    }
  }
  if (writer()) {
    model_->to(torch::kCPU);
    atomic_write(run_folder::file(config_.out, run_folder::kModel), save_model_bytes(config_, shape_, *model_));
    model_->to(device_);
  }
  return {metrics_, config_.out};
}

}  // namespace latentlab
