#pragma once
// What the codes know: linear-probe and k-NN accuracy of an encoder's codes beside PCA's (eval/probe.cpp).
#include <torch/torch.h>

#include <cstdio>
#include <functional>
#include <nlohmann/json.hpp>

#include "latentlab/data.h"
#include "latentlab/model.h"

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
