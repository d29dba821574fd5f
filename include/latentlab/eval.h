#pragma once
// Evaluation: the PCA baseline and the reconstruction/code measurements of autoencoder runs.
#include <torch/torch.h>

#include <functional>
#include <nlohmann/json.hpp>

#include "latentlab/config.h"
#include "latentlab/data.h"
#include "latentlab/model.h"
#include "latentlab/regularizers.h"

namespace latentlab {

/// Principal component analysis of flattened images.
struct Pca {
  torch::Tensor mean;                ///< [D]
  torch::Tensor components;          ///< [k, D], orthonormal rows, by decreasing variance
  torch::Tensor explained_variance;  ///< [k]
  /// Fits k components to x [N, ...] (float); the covariance is accumulated in float64.
  static Pca fit(const torch::Tensor& x, int64_t k);
  torch::Tensor encode(const torch::Tensor& x) const;       ///< [b, k]
  torch::Tensor reconstruct(const torch::Tensor& x) const;  ///< the shape of x
};

/// Per-pixel mean squared error between the test images and f(input) over a whole dataset, in batches.
/// With `noise`, each input is corrupted first (seeded by `seed`) while the target stays clean.
double reconstruction_mse(const Dataset& d, const std::function<torch::Tensor(const torch::Tensor&)>& f,
                          const Noise& noise = {}, uint64_t seed = 0);

struct AutoencoderEvalOptions {
  /// Noise for the noisy-input MSE ("" : the run's own --noise, if any).
  std::string noise;
  /// |code| below this counts as a near zero.
  double zero_tolerance = 1e-3;
  /// Seed of the noise.
  uint64_t seed = 0;
};

/// Test MSE, PCA's test MSE at the same code size, noisy-input MSE, code sparsity (exact and near
/// zeros) and the mean Frobenius norm of the encoder's Jacobian, as one JSON object.
nlohmann::json evaluate_autoencoder(ModelImpl& model, const TrainConfig& c, const Dataset& train, const Dataset& test,
                                    const AutoencoderEvalOptions& opts = {});

}  // namespace latentlab

namespace latentlab {

/// Images drawn from a generator, best first when ranked.
struct Generated {
  torch::Tensor images;   ///< [n, C, H, W] in [0, 1]
  torch::Tensor scores;   ///< [n] critic scores (empty when not ranked)
  torch::Tensor indices;  ///< [n] index of each kept image among the drawn ones (empty when not ranked)
};

/// The seeds' generate(): draws `search` codes (prior draws * std + mean, which is N(mean, std^2) for a
/// Gaussian prior), decodes them, scores them with the model's critic and keeps the `n` best, highest
/// score first. search == 0 draws n images without scoring. Seeded by `seed`; works in chunks of 256.
Generated generate_images(ModelImpl& model, int64_t n, int64_t search, double mean, double std, uint64_t seed);

}  // namespace latentlab
