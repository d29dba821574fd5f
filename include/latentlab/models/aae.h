#pragma once
// The adversarial autoencoder (Makhzani et al.): a deterministic encoder and a decoder trained to
// reconstruct, and a discriminator on codes that makes the encoder's codes follow a prior. Three
// phases per batch: "recon" (encoder + decoder, reconstruction loss), "disc" (discriminator: prior
// draws are real, codes are fake), "gen" (encoder: fool the discriminator).
#include "latentlab/model.h"
#include "latentlab/models/codec.h"

namespace latentlab {

struct AaeOptions {
  AaeOptions(ImageShape shape) : shape_(shape) {}
  /// Shape of an input image.
  TORCH_ARG(ImageShape, shape);
  /// Code size. Default: 8.
  TORCH_ARG(int64_t, latent) = 8;
  /// "mlp" or "conv" encoder and decoder. Default: mlp.
  TORCH_ARG(std::string, arch) = "mlp";
  /// Hidden sizes of the encoder (decoder mirrors) and of the discriminator. Default: {512, 512}.
  TORCH_ARG(std::vector<int64_t>, hidden) = std::vector<int64_t>{512, 512};
  /// Hidden activation of encoder and decoder. Default: relu.
  TORCH_ARG(std::string, activation) = "relu";
  /// Reconstruction loss "bce" or "mse", summed over pixels. Default: bce.
  TORCH_ARG(std::string, loss) = "bce";
  /// "gaussian" N(0, I) or "mixture" of 10 Gaussians. Default: gaussian.
  TORCH_ARG(std::string, prior) = "gaussian";
  /// Classes of a conditional AAE (0: unconditional): the one-hot class enters the encoder and the
  /// decoder (Codec), so the code keeps what the class does not say (style), and the code
  /// discriminator still matches the codes of every class to the one prior. Default: 0.
  TORCH_ARG(int64_t, classes) = 0;
};

/// Draws n codes of size dim from the 10-component mixture: component k has its mean at radius 4 and
/// angle 2 pi k / 10 in the first two dimensions and standard deviation 0.5 there; the other
/// dimensions are N(0, 1). Uses the default generator.
torch::Tensor sample_mixture_prior(int64_t n, int64_t dim, const torch::TensorOptions& opts);

class AaeImpl : public ModelImpl {
 public:
  explicit AaeImpl(AaeOptions options);
  std::string kind() const override { return "aae"; }
  std::vector<Phase> phases() override;
  LossTerms losses(size_t phase, const Batch& batch) override;
  /// loss: the reconstruction loss; terms mse (per pixel), d (discriminator) and g (encoder) losses.
  LossTerms eval_losses(const Batch& batch) override;
  int64_t latent_dim() const override { return options.latent(); }
  torch::Tensor sample_prior(int64_t n, const torch::TensorOptions& opts) const override;
  int64_t classes() const override { return options.classes(); }
  torch::Tensor reconstruct(const Batch& x) override { return decode_classes(code(x), classes_of(x, "reconstruction")); }
  bool can_reconstruct() const override { return true; }
  torch::Tensor code(const Batch& x) override { return codec.encode(x.images, classes_of(x, "code")); }

  AaeOptions options;
  Codec codec;
  Mlp discriminator{nullptr};

 protected:
  torch::Tensor decode_classes(const torch::Tensor& z, const torch::Tensor& y) override {
    return torch::sigmoid(codec.decode_logits(z, y));
  }

 private:
  /// The reconstruction loss per image of the codes z of a batch.
  torch::Tensor recon_per_image(const Batch& b, const torch::Tensor& z);
};

}  // namespace latentlab
