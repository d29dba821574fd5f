#pragma once
// The seeds' VAE: MLP encoder to the mean and log-variance of a diagonal Gaussian, reparameterised
// sample, MLP decoder to Bernoulli logits; loss = BCE summed over pixels + analytic KL to N(0, I).
#include "latentlab/model.h"
#include "latentlab/nn.h"

namespace latentlab {

struct VaeOptions {
  VaeOptions(ImageShape shape) : shape_(shape) {}
  /// Shape of an input image.
  TORCH_ARG(ImageShape, shape);
  /// Hidden layer sizes of the encoder; the decoder mirrors them. Default: {400}.
  TORCH_ARG(std::vector<int64_t>, hidden) = std::vector<int64_t>{400};
  /// Code size. Default: 20.
  TORCH_ARG(int64_t, latent) = 20;
};

class VaeImpl : public ModelImpl {
 public:
  explicit VaeImpl(VaeOptions options);
  std::string kind() const override { return "vae"; }
  std::vector<Phase> phases() override;
  LossTerms losses(size_t phase, const torch::Tensor& x) override;
  LossTerms eval_losses(const torch::Tensor& x) override;
  int64_t latent_dim() const override { return options.latent(); }
  torch::Tensor decode(const torch::Tensor& z) override;
  torch::Tensor reconstruct(const torch::Tensor& x) override;
  bool can_reconstruct() const override { return true; }

  /// Mean and log-variance of q(z | x).
  std::pair<torch::Tensor, torch::Tensor> encode(const torch::Tensor& x);
  /// Decoder logits, [b, pixels].
  torch::Tensor decode_logits(const torch::Tensor& z);

  VaeOptions options;
  Mlp encoder{nullptr}, decoder{nullptr};
};

}  // namespace latentlab
