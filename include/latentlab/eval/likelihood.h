#pragma once
// The ELBO and importance-weighted log-likelihood of VAEs, and binarised images (eval/likelihood.cpp).
#include <torch/torch.h>

#include <cstdio>
#include <functional>
#include <nlohmann/json.hpp>

#include "latentlab/data.h"
#include "latentlab/model.h"

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
