#pragma once
// The seeds' VAE: MLP encoder to the mean and log-variance of a diagonal Gaussian, reparameterised
// sample, MLP decoder to Bernoulli logits; loss = BCE summed over pixels + analytic KL to N(0, I).
#include "latentlab/model.h"
#include "latentlab/models/codec.h"
#include "latentlab/regularizers.h"

namespace latentlab {

struct VaeOptions {
  VaeOptions(ImageShape shape) : shape_(shape) {}
  /// Shape of an input image.
  TORCH_ARG(ImageShape, shape);
  /// Hidden layer sizes of the encoder; the decoder mirrors them. Default: {400}.
  TORCH_ARG(std::vector<int64_t>, hidden) = std::vector<int64_t>{400};
  /// Code size. Default: 20.
  TORCH_ARG(int64_t, latent) = 20;
  /// "mlp" or "conv" encoder and decoder. Default: mlp.
  TORCH_ARG(std::string, arch) = "mlp";
  /// Hidden-layer activation. Default: relu.
  TORCH_ARG(std::string, activation) = "relu";
  /// Likelihood of the decoder: "bce" (Bernoulli, from logits) or "mse" (Gaussian: summed squared
  /// error of the sigmoid output). Default: bce.
  TORCH_ARG(std::string, likelihood) = "bce";
  /// Dropout on hidden layers. Default: 0.
  TORCH_ARG(double, dropout) = 0.0;
  /// Weight of the KL term (beta-VAE). Default: 1.
  TORCH_ARG(double, beta) = 1.0;
  /// Epochs over which the KL weight rises linearly to beta; 0: off. Default: 0.
  TORCH_ARG(int64_t, kl_warmup) = 0;
  /// "logvar": the encoder's 2 x latent outputs are mean and log-variance. "relu-sigma": the first
  /// seed's VAE, whose last encoder layer goes through the hidden activation and splits into mean and
  /// sigma (log-variance = log(1e-8 + sigma^2), as its KL). Default: logvar.
  TORCH_ARG(std::string, posterior) = "logvar";
  /// Decoder output: "sigmoid" (images in [0, 1]) or "tanh" (seed 002: the images are scaled to
  /// [-1, 1], as by Normalize(0.5, 0.5), before the encoder and as the targets of the squared error;
  /// needs likelihood "mse"). decode() and reconstruct() return images in [0, 1] either way. Default: sigmoid.
  TORCH_ARG(std::string, output) = "sigmoid";
  /// How the loss that the optimiser minimises adds up a batch: "image" (summed over each image,
  /// averaged over the batch), "sum" or "mean" (over every value): see reduction_scale. The reported
  /// terms are per image whatever this is. Default: image.
  TORCH_ARG(std::string, reduction) = "image";
  /// Input noise and penalties on the mean code. Default: none.
  TORCH_ARG(Regularizers, regularizers) = {};
  /// Importance samples of the training objective: 1 is the ELBO (with the closed-form KL); K > 1 the
  /// importance-weighted bound of Burda et al. (2015), log (1/K) sum_k p(x, z_k) / q(z_k | x), which
  /// tightens with K. Needs beta 1, no KL warm-up, no input noise and no penalty on the code. Default: 1.
  TORCH_ARG(int64_t, iw_k) = 1;
  /// Classes of a conditional VAE (0: none): the one-hot class enters the encoder and the decoder
  /// (CodecOptions::classes), so q(z | x, y) and p(x | z, y). Default: 0.
  TORCH_ARG(int64_t, classes) = 0;
};

/// Throws latentlab::Error (c10::Error for sizes) for options a VAE cannot be built with, naming the
/// flag: the model's constructor and its registry entry's check (before anything is created) call it.
void check_vae_options(const VaeOptions& o);

class VaeImpl : public ModelImpl {
 public:
  explicit VaeImpl(VaeOptions options);
  std::string kind() const override { return "vae"; }
  std::vector<Phase> phases() override;
  LossTerms losses(size_t phase, const Batch& batch) override;
  /// The same losses with a hand-written backward when fused_step_applies() (about 1.5x faster than
  /// autograd at batch 32; same eps draws, so the same numbers), else autograd's.
  LossTerms losses_and_gradients(size_t phase, const Batch& batch) override;
  /// Whether losses_and_gradients runs the hand-written step: MLP encoder and decoder without dropout,
  /// the log-variance posterior, no penalty on the code (input noise is fine), training, gradients on.
  bool fused_step_applies() const;
  /// Test terms: recon, kl (unweighted: loss is the negative ELBO) and mse per pixel.
  LossTerms eval_losses(const Batch& batch) override;
  void set_epoch(int64_t epoch) override;
  bool has_likelihood() const override { return true; }
  /// Bernoulli likelihood for bce; for mse the Gaussian N(x; decoder, 1/2) whose negative log-density
  /// is the summed squared error plus (D / 2) log(pi).
  torch::Tensor log_importance_weights(const Batch& x, int64_t k) override;
  /// Per image, the importance-weighted bound on log p(x) with k samples: logsumexp of
  /// log_importance_weights minus log k ([b]; differentiable; k = 1 is a one-sample ELBO).
  torch::Tensor iwae_bound(const Batch& x, int64_t k);
  /// The current weight of the KL term (beta, scaled during warm-up).
  double kl_weight() const { return kl_weight_; }
  int64_t latent_dim() const override { return options.latent(); }
  double loss_scale(int64_t n) const override { return reduction_scale(options.reduction(), "image", n, options.shape().pixels()); }
  int64_t classes() const override { return options.classes(); }
  torch::Tensor reconstruct(const Batch& x) override;
  bool can_reconstruct() const override { return true; }
  torch::Tensor code(const Batch& x) override { return encode(x.images, classes_of(x, "code")).first; }
  bool has_encoder_jacobian() const override { return codec.has_jacobian(); }
  torch::Tensor code_jacobian_sq(const torch::Tensor& x) override {
    return codec.encode_with_jacobian(model_input(x), options.latent(), Activation::identity).second;
  }

  /// Mean and log-variance of q(z | x) (q(z | x, y) for a conditional VAE: y its class vectors).
  std::pair<torch::Tensor, torch::Tensor> encode(const torch::Tensor& x, const torch::Tensor& y = {});
  /// Decoder logits, [b, C, H, W].
  torch::Tensor decode_logits(const torch::Tensor& z, const torch::Tensor& y = {}) { return codec.decode_logits(z, y); }

  VaeOptions options;
  Codec codec;

 protected:
  torch::Tensor decode_classes(const torch::Tensor& z, const torch::Tensor& y) override;

 private:
  bool tanh_output() const { return options.output() == "tanh"; }
  /// Images in [0, 1] on the scale the networks see ([-1, 1] with a tanh output).
  torch::Tensor model_input(const torch::Tensor& x) const { return tanh_output() ? x.mul(2.0).sub_(1.0) : x; }
  /// The decoder's images in [0, 1] from its logits.
  torch::Tensor images_from_logits(const torch::Tensor& logits) const {
    return tanh_output() ? torch::tanh(logits).add_(1.0).mul_(0.5) : torch::sigmoid(logits);
  }
  /// Reconstruction term per image (in nats for bce; on the [-1, 1] scale with a tanh output) from decoder logits.
  torch::Tensor recon_per_image(const torch::Tensor& logits, const torch::Tensor& x) const;
  /// Mean and log-variance from the encoder's raw output.
  std::pair<torch::Tensor, torch::Tensor> split(const torch::Tensor& h) const;
  /// The ELBO's test terms (recon, kl, mse) and loss, whatever iw_k is.
  LossTerms eval_losses_elbo(const torch::Tensor& x, const torch::Tensor& y);
  double kl_weight_ = 1.0;
  struct FusedBuffers {
    torch::Tensor eps, std, z, dcode;
  } fused_;  // reused by losses_and_gradients
};

}  // namespace latentlab
