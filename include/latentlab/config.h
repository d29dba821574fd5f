#pragma once
// The resolved settings of a training run: one struct, read from flags or a JSON config file,
// validated before any work starts, and saved as config.json in the run folder.
#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace latentlab {

struct TrainConfig {
  // what to train on
  std::string model = "vae";       ///< registered model name (--model)
  std::string dataset = "mnist";   ///< mnist | fashion-mnist (--dataset)
  std::string data_dir;            ///< folder with the four IDX files; empty: the dataset's default
  // how to train
  int64_t epochs = 10;
  int64_t batch_size = 0;          ///< 0: the model's default (vae 128, ae 32)
  double lr = 1e-3;                ///< Adam learning rate
  uint64_t seed = 0;               ///< fixes initialisation, shuffling and sampling
  int64_t threads = 0;             ///< intra-op threads; 0: all cores
  std::string device = "cpu";      ///< cpu | cuda
  std::string out;                 ///< run folder; empty: runs/<model>-<date-time>
  // model shape (each model reads what applies to it)
  std::string arch = "mlp";             ///< mlp | conv encoder and decoder
  std::vector<int64_t> hidden;          ///< encoder hidden sizes (mirrored in the decoder); empty: the model's default
  int64_t latent = 20;                  ///< code size
  std::string activation = "relu";      ///< relu | leaky_relu | elu | tanh | sigmoid (hidden layers and the AE code)
  std::string loss;                     ///< reconstruction loss bce | mse; empty: the model's default (vae bce, ae mse)
  // regularisers, for any autoencoder or VAE
  std::string noise;                    ///< denoising: gaussian:<sigma> | masking:<p> | salt-pepper:<p>; empty: none
  double l1 = 0;                        ///< weight of the L1 penalty on the code
  std::string sparsity;                 ///< <rho>:<weight>: KL sparsity penalty toward mean activation rho
  double contractive = 0;               ///< weight of ||J_encoder(x)||_F^2
  double dropout = 0;                   ///< dropout probability on hidden layers (training only)
  // VAE
  double beta = 1;                      ///< weight of the KL term (beta-VAE)
  int64_t kl_warmup = 0;                ///< epochs over which the KL weight rises linearly to beta
  // outputs
  int64_t image_every = 1;         ///< write reconstruction/sample grids every N epochs (and after the last)
  int64_t grid_images = 64;        ///< images per sample grid
};

/// Checks every field; throws latentlab::Error naming the flag and the accepted values.
void validate(const TrainConfig& c);

/// Fills the settings left to the model (batch_size 0, empty hidden, empty loss) from the model's
/// registered defaults, so that a saved config.json is always concrete.
void apply_model_defaults(TrainConfig& c);

nlohmann::json to_json(const TrainConfig& c);
/// Applies the keys of `j` over `base`. Unknown keys and wrongly typed values are errors that name
/// the key and `source` (a file name, for messages).
TrainConfig config_from_json(const nlohmann::json& j, TrainConfig base = {}, const std::string& source = "config");
/// Reads a JSON config file (for example a run's config.json).
TrainConfig load_config(const std::string& path, TrainConfig base = {});

}  // namespace latentlab
