#pragma once
// Loss terms as free functions. Each returns one value per image (shape [b]); models average them.
#include <torch/torch.h>

namespace latentlab {

/// Binary cross-entropy of targets in [0, 1] against Bernoulli logits, summed over each image's pixels.
/// Stable form: max(l, 0) - l * t + log(1 + exp(-|l|)).
torch::Tensor bce_with_logits_per_image(const torch::Tensor& logits, const torch::Tensor& target);

/// Squared error summed over each image's pixels.
torch::Tensor sse_per_image(const torch::Tensor& recon, const torch::Tensor& target);

/// KL( N(mu, exp(logvar)) || N(0, I) ) summed over latent dimensions:
/// -0.5 * sum(1 + logvar - mu^2 - exp(logvar)).
torch::Tensor kl_std_normal_per_image(const torch::Tensor& mu, const torch::Tensor& logvar);

}  // namespace latentlab
