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
  int64_t batch_size = 128;
  double lr = 1e-3;                ///< Adam learning rate
  uint64_t seed = 0;               ///< fixes initialisation, shuffling and sampling
  int64_t threads = 0;             ///< intra-op threads; 0: all cores
  std::string device = "cpu";      ///< cpu | cuda
  std::string out;                 ///< run folder; empty: runs/<model>-<date-time>
  // model shape (each model reads what applies to it)
  std::vector<int64_t> hidden = {400};  ///< hidden layer sizes of the MLP encoder (mirrored in the decoder)
  int64_t latent = 20;                  ///< code size
  // outputs
  int64_t image_every = 1;         ///< write reconstruction/sample grids every N epochs (and after the last)
  int64_t grid_images = 64;        ///< images per sample grid
};

/// Checks every field; throws latentlab::Error naming the flag and the accepted values.
void validate(const TrainConfig& c);

nlohmann::json to_json(const TrainConfig& c);
/// Applies the keys of `j` over `base`. Unknown keys and wrongly typed values are errors that name
/// the key and `source` (a file name, for messages).
TrainConfig config_from_json(const nlohmann::json& j, TrainConfig base = {}, const std::string& source = "config");
/// Reads a JSON config file (for example a run's config.json).
TrainConfig load_config(const std::string& path, TrainConfig base = {});

}  // namespace latentlab
