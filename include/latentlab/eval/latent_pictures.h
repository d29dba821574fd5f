#pragma once
// Pictures of the code space: interpolation between two images' codes and the 2-D manifold (eval/latent_pictures.cpp).
#include <torch/torch.h>

#include <cstdio>
#include <functional>
#include <nlohmann/json.hpp>

#include "latentlab/model.h"

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
