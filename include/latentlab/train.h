#pragma once
// The trainer and the run folder. The trainer knows a model only through its phases and the named
// losses they return; everything later commands need is written into the run folder:
//   config.json        resolved settings (reloadable with --config)
//   metrics.jsonl      one JSON object per epoch
//   checkpoint         model, optimisers, epoch, RNG seed of the next epoch (written atomically)
//   checkpoint-<epoch> earlier checkpoints, with --keep-checkpoints
//   reconstruction-<epoch>.png, samples-<epoch>.png, samples-latest.png (during an epoch)
//   model              the final model (config embedded), for sample/reconstruct/eval
#include <torch/torch.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "latentlab/config.h"
#include "latentlab/data.h"
#include "latentlab/distributed.h"
#include "latentlab/model.h"
#include "latentlab/optim.h"
#include "latentlab/run_folder.h"
#include "latentlab/run_lock.h"
#include "latentlab/weights.h"

namespace latentlab {

/// Default run folder: runs/<model>-<YYYYmmdd-HHMMSS>.
std::string default_run_dir(const std::string& model);

/// Seed of epoch `epoch` of a run seeded with `seed`: each epoch reseeds every generator from it,
/// so resuming at an epoch boundary continues the exact random stream.
uint64_t epoch_seed(uint64_t seed, int64_t epoch);

/// Sets the intra-op thread count (0: all cores) and returns the count in use.
int64_t apply_threads(int64_t threads);
/// The device named by --device; throws when CUDA is asked for and not available.
torch::Device resolve_device(const std::string& name);

/// Starts a model or checkpoint file (weights.h): format, kind ("model" or "checkpoint"), settings,
/// image shape and the model's tensors under "model.".
WeightsWriter model_writer(const std::string& kind, const TrainConfig& c, const ImageShape& shape, ModelImpl& model);

/// Serialises a model (and its config) to the bytes of a `model` file, and back.
std::string save_model_bytes(const TrainConfig& c, const ImageShape& shape, ModelImpl& model);
struct LoadedModel {
  TrainConfig config;
  ImageShape shape;
  Model model;
};
LoadedModel load_model_file(const std::string& path);
/// The bytes of `latentlab export`: the model's tensors under the names PyTorch's state_dict() gives a
/// module of the same structure (no prefix), the settings and image shape in the metadata, as a
/// safetensors file that Python reads (examples/python/decode.py rebuilds the networks).
std::string export_model_bytes(const LoadedModel& m);
/// The model of a model or checkpoint file already read.
LoadedModel load_model(const WeightsFile& file);

/// A run folder's trained model: its `model` file, or its checkpoint when training has not finished;
/// with epoch > 0 the weights of checkpoint-<epoch> (kept by --keep-checkpoints). A missing epoch is an
/// error that names the epochs the folder keeps.
LoadedModel load_run(const std::string& run_dir, int64_t epoch = 0);

struct TrainResult {
  std::vector<nlohmann::json> metrics;  ///< one object per epoch (all epochs of the run)
  std::string run_dir;
  bool interrupted = false;  ///< stopped by request_stop(); the checkpoint resumes at the next batch
};

/// Asks a running Trainer to stop after its current batch, write a checkpoint from which --resume
/// continues at the next batch (with the same random stream on the CPU, so the weights end up
/// identical to an uninterrupted run), and return with TrainResult::interrupted. Async-signal-safe;
/// the command-line tool calls it from its signal thread (signals.h) on the first SIGINT or SIGTERM.
void request_stop();
bool stop_requested();


class Trainer {
 public:
  /// Validates the config; `log` receives progress (stderr by default).
  explicit Trainer(TrainConfig config, std::FILE* log = stderr);
  ~Trainer();
  /// Trains from epoch 1, or from the run folder's checkpoint with resume = true.
  TrainResult run(bool resume = false);
  const TrainConfig& config() const { return config_; }
  Model model() const { return model_; }
  /// The "out" that config.json records, when it differs from the folder written (a resumed run keeps
  /// the path it was created with, however --resume was typed).
  void set_recorded_out(std::string out) { recorded_out_ = std::move(out); }
  /// Trains as one rank of a data-parallel job (world_size > 1): run() joins the process group, and
  /// rank 0 alone writes the run folder. See distributed.h.
  void set_distributed(DistEnv env) { dist_env_ = std::move(env); }

 private:
  void setup();
  nlohmann::json train_epoch(int64_t epoch);
  /// The test pass; null when a stop was requested during it.
  nlohmann::json evaluate();
  void write_images(int64_t epoch);
  /// samples-latest.png from the fixed codes, during an epoch (--preview-every); for a model with a
  /// critic (GANs), also real-latest.png of the current batch.
  void write_preview(const torch::Tensor& batch);
  /// `partial`: where an interrupted epoch stopped, with each rank's CPU generator state (one for a
  /// single process), else null. Only rank 0 writes.
  void save_checkpoint(int64_t epoch, const nlohmann::json& partial = nullptr, const std::vector<torch::Tensor>& rngs = {});
  /// Links the checkpoint just written as checkpoint-<epoch> and drops the oldest beyond --keep-checkpoints.
  void keep_checkpoint(int64_t epoch);
  /// Builds one optimiser per phase (after any weights are loaded: they alias the parameters).
  void build_optimizers();
  /// Multiplies phase p's gradients by s (Model::loss_scale: the run's --loss-reduction).
  void scale_gradients(size_t p, double s);
  /// Loads weights and optimiser state from the bytes of the run folder's checkpoint; returns its epoch.
  int64_t load_checkpoint(const std::string& bytes);
  /// The steps of run() before the first epoch.
  int64_t prepare(bool resume);
  /// Runs `f` on every rank; if it throws on any rank, every rank throws (a single process: as is).
  template <typename F>
  void together(F&& f);
  bool writer() const { return !group_ || group_->rank() == 0; }
  /// A job: whether any rank asked to stop. A single process: whether it did.
  bool stop_agreed();
  /// A job: reduces a phase's gradients (weighted by this rank's share of the batch), its loss and the
  /// stop flag in one allreduce; returns the loss over all ranks. `n`: images this rank had.
  torch::Tensor reduce_phase(size_t phase, const torch::Tensor& loss, int64_t n, int64_t total, bool& stop);
  /// `mine` (this rank's CPU generator state) and, in a job, every other rank's (gathered only when a
  /// checkpoint needs them, on every rank at once).
  std::vector<torch::Tensor> generator_states(const torch::Tensor& mine);
  /// Checks that every rank resolved the same settings and loaded the same data.
  void check_same_settings();

  TrainConfig config_;
  std::FILE* log_;
  torch::Device device_{torch::kCPU};
  Dataset train_, test_;
  std::unique_ptr<Batcher> train_batches_, test_batches_;
  ImageShape shape_;
  Model model_;
  std::vector<Phase> phases_;
  std::vector<std::unique_ptr<FlatAdam>> optims_;
  torch::Tensor fixed_z_, fixed_y_;  // the sample grid's codes (and classes, for a conditional model)
  Batch fixed_x_{torch::Tensor()};   // the test images of the reconstruction grid
  torch::Tensor grid_samples() { return fixed_y_.defined() ? model_->decode_for(fixed_z_, fixed_y_) : model_->decode(fixed_z_); }
  std::vector<nlohmann::json> metrics_;
  nlohmann::json partial_;     // from a checkpoint written mid-epoch
  torch::Tensor partial_rng_;  // this rank's CPU generator state there
  // where the last training pass ended (its sums and this rank's generator state), for a stop during
  // the test pass
  nlohmann::json pass_end_;
  torch::Tensor pass_end_rng_;
  std::string recorded_out_;
  DistEnv dist_env_;
  std::unique_ptr<ProcessGroup> group_;
  std::unique_ptr<RunLock> lock_;  // rank 0's, while run() runs
  std::FILE* quiet_log_ = nullptr;   // other ranks than 0 log nowhere
  double allreduce_seconds_ = 0;    // this epoch's time in gradient allreduces
};

}  // namespace latentlab
