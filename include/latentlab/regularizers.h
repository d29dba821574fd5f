#pragma once
// Regularisers shared by every autoencoder and VAE: input corruption (denoising), penalties on the
// code (L1, KL sparsity) and the contractive penalty (see MlpImpl::forward_with_jacobian).
#include <torch/torch.h>

#include <string>

#include "latentlab/config.h"
#include "latentlab/model.h"

namespace latentlab {

struct Noise {
  enum class Kind { none, gaussian, masking, salt_pepper } kind = Kind::none;
  double amount = 0;  ///< sigma for gaussian, probability for masking and salt-pepper
};
/// Parses --noise: "" | gaussian:<sigma> | masking:<p> | salt-pepper:<p>.
Noise parse_noise(const std::string& spec);
/// Corrupts images in [0, 1]: adds N(0, sigma^2) noise (clamped to [0, 1]), zeroes pixels with
/// probability p (masking), or sets pixels to 0 or 1 with probability p (salt-pepper).
torch::Tensor corrupt(const torch::Tensor& x, const Noise& noise);

struct Sparsity {
  double rho = 0, weight = 0;
};
/// Parses --sparsity: "" | <rho>:<weight> with rho in (0, 1).
Sparsity parse_sparsity(const std::string& spec);
/// sum_j KL(rho || rho_hat_j), with rho_hat_j the batch mean of the activation 1 - exp(-|code_j|), which is 0
/// for a silent unit and tends to 1 as |code_j| grows (so a ReLU code can reach any rho in (0, 1)).
torch::Tensor kl_sparsity(const torch::Tensor& code, double rho);

/// The regularisers of one model, from its settings.
struct Regularizers {
  Regularizers() = default;
  explicit Regularizers(const TrainConfig& c);
  Noise noise;
  Sparsity sparsity;
  double l1 = 0, contractive = 0;
  /// Whether any penalty on the code is on (L1, KL sparsity, contractive); input noise is not one.
  bool penalise_code() const { return l1 != 0 || sparsity.weight != 0 || contractive != 0; }
  /// Adds the weighted penalties to `l`, both to the loss and the terms: "l1" and "sparsity" on the
  /// code, and "contractive" when `jacobian_sq` (the batch mean of ||J||_F^2) is given.
  void add_penalties(LossTerms& l, const torch::Tensor& code, const torch::Tensor& jacobian_sq = {}) const;
};

}  // namespace latentlab
