#pragma once
// The resolved settings of a training run: one struct, read from flags or a JSON config file,
// validated before any work starts, and saved as config.json in the run folder. The run's own
// settings (data, optimiser, schedule, outputs, device) and those shared by several models are
// members; a model's own settings live in `model_settings`, declared by the model's registry entry.
// settings.h holds the table that describes every setting once (flag, help, default, checks).
#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace latentlab {

struct TrainConfig {
  // what to train on
  std::string model = "vae";       ///< registered model name (--model)
  std::string dataset = "mnist";   ///< mnist | fashion-mnist | folder:<path> (--dataset)
  std::string data_dir;            ///< folder with the four IDX files; empty: the dataset's default
  int64_t image_size = 0;          ///< image folders: resize the shorter side and center-crop to this; 0: the model's default (dcgan 96 as in the seed, others 64); IDX datasets are 28
  int64_t channels = 0;            ///< image folders: 1 (grayscale) or 3 (RGB); 0: 3 for folders, 1 for IDX datasets
  bool strict = false;             ///< image folders: a file that cannot be decoded is an error instead of skipped
  double holdout = 0.1;            ///< image folders: share of the images held out as the test split
  int64_t train_images = 0;        ///< use only the first N training images (0: all), for quick runs and benchmarks
  std::string binarize;            ///< train on binarised images: dynamic (a fresh Bernoulli draw of each image every
                                   ///< time it is seen) | static (one draw of the training set from --seed); empty: off.
                                   ///< Either way the test set is one fixed draw (the same for every run)
  // how to train
  int64_t epochs = 10;
  int64_t batch_size = 0;          ///< 0: the model's default (vae 128, ae 32)
  bool shuffle = true;             ///< reshuffle the training images every epoch (--no-shuffle: the file's order)
  bool drop_last = false;          ///< leave out the last batch of an epoch when it is not full (PyTorch's drop_last)
  double lr = 0;                   ///< Adam learning rate; 0: the model's default (1e-3; GANs 2e-4)
  double beta1 = -1;               ///< Adam beta1; negative: the model's default (0.9; GANs 0.5)
  uint64_t seed = 0;               ///< fixes initialisation, shuffling and sampling
  int64_t threads = 0;             ///< intra-op threads; 0: all cores
  std::string device = "cpu";      ///< cpu | cuda
  std::string out;                 ///< run folder; empty: runs/<model>-<date-time>
  // model shape (each model reads what applies to it)
  std::string arch;                     ///< mlp | conv networks; empty: the model's default (dcgan conv, others mlp)
  std::vector<int64_t> hidden;          ///< encoder hidden sizes (mirrored in the decoder); empty: the model's default
  int64_t latent = 0;                   ///< code size (nz of a GAN); 0: the model's default (20; GANs 100; aae 8)
  std::string activation = "relu";      ///< relu | leaky_relu | elu | tanh | sigmoid | identity (hidden layers and the AE code)
  std::string loss;                     ///< reconstruction loss bce | mse; empty: the model's default (vae bce, ae mse)
  std::string loss_reduction;           ///< how the loss the optimiser minimises adds up a batch: mean (over every pixel
                                        ///< of every image, PyTorch's default) | sum (over every pixel of every image,
                                        ///< reduction='sum') | image (summed over each image, averaged over the batch);
                                        ///< empty: the model's default (ae mean, vae image). Metrics are always per image
                                        ///< (vae) or per pixel (ae), whatever the reduction.
  std::string init;                     ///< weight initialisation: default (PyTorch's: kaiming-uniform, a = sqrt(5)) |
                                        ///< dcgan (N(0, 0.02), batch-norm scales N(1, 0.02), zero biases) | glorot
                                        ///< (Glorot-uniform weights, zero biases: TensorFlow's); empty: the model's
                                        ///< default (dcgan for dcgan, default for the others)
  // regularisers, for any autoencoder or VAE
  std::string noise;                    ///< denoising: gaussian:<sigma> | masking:<p> | salt-pepper:<p>; empty: none
  double l1 = 0;                        ///< weight of the L1 penalty on the code
  std::string sparsity;                 ///< <rho>:<weight>: KL sparsity penalty toward mean activation rho
  double contractive = 0;               ///< weight of ||J_encoder(x)||_F^2
  double dropout = 0;                   ///< dropout probability on hidden layers (training only)
  // outputs
  int64_t image_every = 1;         ///< write reconstruction/sample grids every N epochs (and after the last)
  int64_t grid_images = 64;        ///< images per sample grid
  int64_t preview_every = 200;     ///< also write samples-latest.png every N batches during an epoch (0: off)
  int64_t log_every = -1;          ///< append every phase's latest loss to steps.jsonl every N batches (0: off);
                                   ///< negative: the model's default (GANs 20, as the seed's plot_every; others 0)
  int64_t save_every = 1;          ///< write the checkpoint every N epochs (and after the last)
  int64_t keep_checkpoints = 0;    ///< also keep checkpoint-<epoch> of the last N saves (-1: all; 0: only `checkpoint`)
  // numerics
  std::string on_nonfinite = "stop";  ///< a batch whose loss or gradient is NaN or infinite: stop (keep the last good
                                      ///< checkpoint) | skip (no update; counted as skipped_batches in metrics.jsonl)
  // the settings a model declares itself (its registry entry's `settings`: the VAE's beta, a GAN's
  // ngf, ...), by config.json key; a key not given here has the default its model declares
  nlohmann::json model_settings = nlohmann::json::object();

  /// A model's own setting: the value given, or its declared default. Throws latentlab::Error for a
  /// key that no registered model declares.
  template <class T>
  T get(const std::string& key) const { return setting_json(key).template get<T>(); }
  const nlohmann::json& setting_json(const std::string& key) const;
  /// Sets any setting by its config.json key, with config.json's type checks (config_from_json).
  template <class T>
  TrainConfig& set(const std::string& key, const T& value) { return set_json(key, nlohmann::json(value)); }
  TrainConfig& set_json(const std::string& key, const nlohmann::json& value);
};

/// Checks every field; throws latentlab::Error naming the flag and the accepted values.
void validate(const TrainConfig& c);

/// Refuses settings that mean nothing for c.model or c.dataset: a model-specific setting (one that a
/// registered model reads) away from its default with a model that does not read it, and image-folder
/// settings with an IDX dataset. Errors name the flag and the models it applies to. Call it on the
/// user's settings, before apply_model_defaults.
void check_settings_apply(const TrainConfig& c);

/// Fills the settings left to the model (batch_size, lr, latent and image_size 0, beta1 negative,
/// empty hidden, loss and arch) from the model's registered defaults and then the global ones, so
/// that a saved config.json is always concrete.
void apply_model_defaults(TrainConfig& c);

nlohmann::json to_json(const TrainConfig& c);
/// Applies the keys of `j` over `base`. Unknown keys and wrongly typed values are errors that name
/// the key and `source` (a file name, for messages).
TrainConfig config_from_json(const nlohmann::json& j, TrainConfig base = {}, const std::string& source = "config");
/// True for --dataset folder:<path>; folder_path() gives the path.
bool is_folder_dataset(const TrainConfig& c);
std::string folder_path(const TrainConfig& c);

/// Reads a JSON config file (for example a run's config.json).
TrainConfig load_config(const std::string& path, TrainConfig base = {});

}  // namespace latentlab
