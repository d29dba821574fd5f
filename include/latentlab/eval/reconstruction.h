#pragma once
// The PCA baseline and the reconstruction measures of autoencoder-type runs (eval/autoencoder_eval.cpp, eval/pca.cpp).
#include <torch/torch.h>

#include <cstdio>
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
  torch::Tensor explained_variance;  ///< [k], variances along the components
  double total_variance = 0;         ///< trace of the covariance (the variance of all D pixels)
  /// Fits k components to x [N, ...] (float). Costs O(N D k) memory and time beyond small sizes:
  /// D <= 4096: the D x D covariance (float64, exact); else N <= 4096: the N x N Gram matrix (exact);
  /// else a randomized SVD (4 power iterations, 10 extra directions). `progress` hears each stage.
  static Pca fit(const torch::Tensor& x, int64_t k, const std::function<void(const std::string&)>& progress = {});
  /// Share of the total variance that the k components explain, in [0, 1].
  double explained_fraction() const;
  torch::Tensor encode(const torch::Tensor& x) const;       ///< [b, k]
  torch::Tensor reconstruct(const torch::Tensor& x) const;  ///< the shape of x
};

/// Per-pixel mean squared error between the test images and f(input) over a whole dataset, in batches.
/// With `noise`, each input is corrupted first (seeded by `seed`) while the target stays clean. f gets
/// each batch with its labels (where the dataset has them), for models conditioned on labels.
double reconstruction_mse(const Dataset& d, const std::function<torch::Tensor(const Batch&)>& f,
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
