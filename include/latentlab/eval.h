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

/// The device of the model's parameters (the CPU for a model without any).
torch::Device model_device(ModelImpl& model);

/// Images drawn from a generator, best first when ranked.
struct Generated {
  torch::Tensor images;   ///< [n, C, H, W] in [0, 1]
  torch::Tensor scores;   ///< [n] critic scores (empty when not ranked)
  torch::Tensor indices;  ///< [n] index of each kept image among the drawn ones (empty when not ranked)
  torch::Tensor codes;    ///< the codes the kept images were decoded from, [n, ...] as the prior draws them
};

/// The seeds' generate(): draws `search` codes (prior draws * std + mean, which is N(mean, std^2) for a
/// Gaussian prior), decodes them, scores them with the model's critic and keeps the `n` best, highest
/// score first. search == 0 draws n images without scoring. Seeded by `seed`; works in chunks of 256.
/// `log`: where progress goes (nullptr: silent).
Generated generate_images(ModelImpl& model, int64_t n, int64_t search, double mean, double std, uint64_t seed,
                          std::FILE* log = nullptr);

}  // namespace latentlab

namespace latentlab {

struct LikelihoodOptions {
  /// Importance samples per image. Default: 1000.
  int64_t samples = 1000;
  /// Test images the estimate uses (the first N; 0: all). Default: 2000 (k = 1000 over all 10,000
  /// MNIST test images takes about 2 minutes on 2 cores).
  int64_t images = 2000;
  /// Decodes per forward pass, bounding memory (8192 keeps each buffer under glibc's mmap threshold,
  /// which avoids page-fault churn). Default: 8192.
  int64_t chunk = 8192;
  /// Dynamically binarise the images (x ~ Bernoulli(pixel)) before evaluating. Default: false.
  bool binarize = false;
  /// Seed of the samples and of the binarisation. Default: 0.
  uint64_t seed = 0;
};

/// The model's ELBO (mean of the log importance weights) and the importance-weighted estimate of
/// log p(x) (Burda et al.) with `samples` draws per image, in nats per image and bits per dimension,
/// as JSON: elbo, log_likelihood, ..._bits_per_dim, samples, images.
/// `log`: where progress goes (nullptr: silent).
nlohmann::json evaluate_likelihood(ModelImpl& model, const Dataset& test, const LikelihoodOptions& opts = {},
                                   std::FILE* log = nullptr);

/// Binarises images in [0, 1]: each pixel is 1 with its value as probability (the "dynamic
/// binarisation" of the IWAE paper), drawn from `seed`.
torch::Tensor binarize(const torch::Tensor& x, uint64_t seed);

}  // namespace latentlab

namespace latentlab {

/// The codes (model.code(): VAE means, AE and AAE codes) of every image of d, in batches: [N, latent].
torch::Tensor codes_of(ModelImpl& model, const Dataset& d);

/// Test accuracy of a multinomial logistic regression (standardised inputs, L2 1e-4, full-batch
/// L-BFGS) fitted to the training codes and labels.
double linear_probe_accuracy(const torch::Tensor& train_x, const torch::Tensor& train_y, const torch::Tensor& test_x,
                             const torch::Tensor& test_y);
/// Test accuracy of a k-nearest-neighbour vote (Euclidean) over the training codes.
double knn_accuracy(const torch::Tensor& train_x, const torch::Tensor& train_y, const torch::Tensor& test_x,
                    const torch::Tensor& test_y, int64_t k = 5);

/// Linear-probe and k-NN accuracy of the model's codes and, as the baseline, of PCA codes of the
/// same size, as JSON.
nlohmann::json evaluate_codes(ModelImpl& model, const Dataset& train, const Dataset& test);

}  // namespace latentlab

namespace latentlab {

struct RunEvalOptions {
  AutoencoderEvalOptions reconstruction;
  LikelihoodOptions likelihood;
  /// Generated images scored by the classifier. Default: 10000.
  int64_t fd_images = 10000;
  /// Sections to compute (reconstruction, likelihood, generator, codes); empty: every one that applies.
  std::vector<std::string> parts;
  /// Seed of the generated images.
  uint64_t seed = 0;
  /// The folder the data was read from, recorded in each section's settings.
  std::string data_dir;
};

/// Every measurement that applies to the model, as JSON with one object per section:
/// "reconstruction" (models that reconstruct), "likelihood" (VAEs), "generator" (every model: prior
/// samples scored by the dataset's classifier, trained and cached on first use; labelled data only),
/// "codes" (models with an encoder: linear probe and k-NN, PCA beside them).
/// Each section carries "settings": what it measured (data, sample counts, seeds).
nlohmann::json evaluate_run(ModelImpl& model, const TrainConfig& c, const Splits& data, const RunEvalOptions& o,
                            std::FILE* log = stderr);

/// An eval.json after a new call: the sections of `now` replace those of `earlier` of the same name,
/// the others are kept.
nlohmann::json merge_eval(const nlohmann::json& earlier, const nlohmann::json& now);

}  // namespace latentlab

namespace latentlab {

/// Spherical interpolation between codes a and b ([d] each) at t in [0, 1]; linear when they are
/// (anti)parallel. Suited to Gaussian priors, where slerp keeps the norm typical.
torch::Tensor slerp(const torch::Tensor& a, const torch::Tensor& b, double t);

/// Decodes `steps` points on the path between the codes of images x_from and x_to ([C, H, W] each,
/// in [0, 1]): slerp when `spherical`, else a straight line. Returns [steps, C, H, W].
torch::Tensor interpolate_images(ModelImpl& model, const torch::Tensor& x_from, const torch::Tensor& x_to,
                                 int64_t steps, bool spherical);

/// The decoder's images over a 2-D plane of the code space: dimensions dim_x and dim_y take n values
/// each (the standard normal quantiles of n evenly spaced probabilities in (0, 1), as in the VAE paper,
/// scaled by `span`), the other dimensions stay 0. Returns [n * n, C, H, W], row by row.
torch::Tensor latent_manifold(ModelImpl& model, int64_t n, int64_t dim_x, int64_t dim_y, double span = 1.0);

}  // namespace latentlab
