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
/// in [0, 1]): slerp when `spherical`, else a straight line. Returns [steps, C, H, W]. A conditional
/// model needs the images' labels (int64 [2]): each is encoded with its class, and the path's class
/// vector moves linearly from one class to the other with the code.
torch::Tensor interpolate_images(ModelImpl& model, const torch::Tensor& x_from, const torch::Tensor& x_to,
                                 int64_t steps, bool spherical, const torch::Tensor& labels = {});

/// A conditional model's change of class at fixed codes: `rows` codes drawn from the prior (seeded by
/// `seed`), each decoded in a row of `steps` images whose class vector moves linearly from one-hot
/// `from` to one-hot `to` (the style stays, the class changes). Returns [rows * steps, C, H, W].
torch::Tensor interpolate_classes(ModelImpl& model, int64_t from, int64_t to, int64_t steps, int64_t rows, uint64_t seed);

/// The decoder's images over a 2-D plane of the code space: dimensions dim_x and dim_y take n values
/// each (the standard normal quantiles of n evenly spaced probabilities in (0, 1), as in the VAE paper,
/// scaled by `span`), the other dimensions stay 0. Returns [n * n, C, H, W], row by row.
torch::Tensor latent_manifold(ModelImpl& model, int64_t n, int64_t dim_x, int64_t dim_y, double span = 1.0);

}  // namespace latentlab
