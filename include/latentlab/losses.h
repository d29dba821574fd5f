#pragma once
// Loss terms as free functions. Each returns one value per image (shape [b]); models average them.
#include <torch/torch.h>

namespace latentlab {

/// Binary cross-entropy of targets in [0, 1] against Bernoulli logits, summed over each image's pixels.
/// Stable form: max(l, 0) - l * t + log(1 + exp(-|l|)).
torch::Tensor bce_with_logits_per_image(const torch::Tensor& logits, const torch::Tensor& target);

/// Squared error summed over each image's pixels.
torch::Tensor sse_per_image(const torch::Tensor& recon, const torch::Tensor& target);

/// For hand-written backward passes: the reconstruction term summed over every pixel of the batch, times
/// `scale` (BCE from logits when `bce`, else the squared error of sigmoid(logits)), as a scalar tensor;
/// its gradient with respect to the logits goes into `dlogits` (reuse_buffer: reallocated only when its
/// shape, dtype or device differs).
torch::Tensor recon_sum_with_grad(const torch::Tensor& logits, const torch::Tensor& target, bool bce, double scale,
                                  torch::Tensor& dlogits);

/// KL( N(mu, exp(logvar)) || N(0, I) ) summed over latent dimensions:
/// -0.5 * sum(1 + logvar - mu^2 - exp(logvar)).
torch::Tensor kl_std_normal_per_image(const torch::Tensor& mu, const torch::Tensor& logvar);

}  // namespace latentlab
