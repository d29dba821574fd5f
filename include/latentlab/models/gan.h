#pragma once
// GANs: a generator G (code -> image logits before tanh) and a discriminator D (image -> one logit),
// trained in two phases with BCE from logits, as in the seeds: "d" steps D on real images (target 1)
// and detached fakes (target 0), "g" steps G so that D calls its fakes real. --arch mlp is the
// simplest GAN for 28x28 digits; --arch conv (model dcgan) the seeds' NetG/NetD.
// Images enter in [0, 1] and are scaled to [-1, 1] (the seeds' Normalize(0.5, 0.5)); decode() maps
// G's tanh output back to [0, 1].
#include "latentlab/model.h"

namespace latentlab {

struct GanOptions {
  GanOptions(ImageShape shape) : shape_(shape) {}
  /// Shape of an image.
  TORCH_ARG(ImageShape, shape);
  /// Size of the code (nz). Default: 100.
  TORCH_ARG(int64_t, nz) = 100;
  /// "mlp" or "conv" (DCGAN) networks. Default: conv.
  TORCH_ARG(std::string, arch) = "conv";
  /// MLP generator hidden sizes; the discriminator mirrors them. Default: {256, 512, 1024}.
  TORCH_ARG(std::vector<int64_t>, hidden) = std::vector<int64_t>{256, 512, 1024};
  /// DCGAN feature maps of G and D. Default: 64 each.
  TORCH_ARG(int64_t, ngf) = 64;
  TORCH_ARG(int64_t, ndf) = 64;
  /// Phase periods in batches. Default: 1 each.
  TORCH_ARG(int64_t, d_every) = 1;
  TORCH_ARG(int64_t, g_every) = 1;
  /// Learning rates of the "g" and "d" phases; 0: the run's --lr. Default: 0 each.
  TORCH_ARG(double, lr_g) = 0.0;
  TORCH_ARG(double, lr_d) = 0.0;
  /// The "g" phase draws new codes (the anime seed) instead of reusing the "d" phase's fakes of the
  /// same batch. Default: false.
  TORCH_ARG(bool, fresh_noise) = false;
  /// The adversarial objective: "bce" (the original GAN's, non-saturating for G), "hinge" (D:
  /// relu(1 - D(x)) + relu(1 + D(G(z))); G: -D(G(z))) or "wgan-gp" (the Wasserstein critic:
  /// D(G(z)) - D(x) + gp_weight * gradient penalty; G: -D(G(z))). Default: bce.
  TORCH_ARG(std::string, loss) = "bce";
  /// Weight of WGAN-GP's gradient penalty. Default: 10.
  TORCH_ARG(double, gp_weight) = 10.0;
  /// Spectral normalisation of every layer of D (add_spectral_norm, nn.h): one power iteration per
  /// forward pass in training, the vectors kept in the checkpoints. Default: false.
  TORCH_ARG(bool, spectral_norm) = false;
  /// Normalisation between the DCGAN discriminator's hidden convolutions: "batch" (the DCGAN paper's
  /// and the seeds'), "layer" (per image: the WGAN-GP paper's advice, since its gradient penalty is
  /// per image and batch norm makes each image's score depend on the others) or "none" (SN-GAN's).
  /// The MLP D has none and accepts only "none". Default: batch.
  TORCH_ARG(std::string, d_norm) = "batch";
  /// Classes of a conditional GAN (0: unconditional). G reads the one-hot class beside the code (as
  /// extra input channels of its first transposed convolution for the DCGAN); the MLP D reads it
  /// concatenated to the image, the DCGAN's D through a projection (Miyato & Koyama 2018): its logit
  /// gains <embed(y), sum over positions of its last features>. Default: 0.
  TORCH_ARG(int64_t, classes) = 0;
};

class GanImpl : public ModelImpl {
 public:
  GanImpl(GanOptions options, std::string kind);
  std::string kind() const override { return kind_; }
  /// "d" (discriminator parameters, every d_every batches) then "g" (generator, every g_every).
  std::vector<Phase> phases() override;
  /// Phase 0: loss of D, terms real (mean D(x)) and fake (mean D(G(z))). Phase 1: loss of G.
  LossTerms losses(size_t phase, const Batch& batch) override;
  /// loss: D's loss on test images against fresh fakes; terms d, g, real, fake.
  LossTerms eval_losses(const Batch& batch) override;
  int64_t latent_dim() const override { return options.nz(); }
  int64_t classes() const override { return options.classes(); }
  bool has_critic() const override { return true; }
  torch::Tensor critic_score(const torch::Tensor& x) override;

  /// G's output in [-1, 1], [b, C, H, W]; `y`: the class vectors [b, classes] of a conditional GAN
  /// (class_vector), undefined otherwise.
  torch::Tensor generate(const torch::Tensor& z, const torch::Tensor& y = {});
  /// D's logit per image for images in [-1, 1] (of classes y, for a conditional GAN).
  torch::Tensor discriminate(const torch::Tensor& x_pm1, const torch::Tensor& y = {});
  /// WGAN-GP's penalty (Gulrajani et al. 2017) for images in [-1, 1]: the mean over the batch of
  /// (||d D(x_hat) / d x_hat||_2 - 1)^2 at x_hat = e real + (1 - e) fake, e ~ U(0, 1) per image. Built
  /// with a double backward (create_graph), so that its gradient reaches D's weights.
  torch::Tensor gradient_penalty(const torch::Tensor& real, const torch::Tensor& fake, const torch::Tensor& y = {});

  GanOptions options;
  torch::nn::Sequential generator{nullptr}, discriminator{nullptr};
  /// A conditional DCGAN's class embedding of D's projection ([features, classes], no bias).
  torch::nn::Linear projection{nullptr};

 protected:
  torch::Tensor decode_classes(const torch::Tensor& z, const torch::Tensor& y) override;

 private:
  std::string kind_;
  torch::Tensor fake_;  // G(z) of the last "d" phase, with its graph, reused by a "g" phase on the same batch
};

}  // namespace latentlab
