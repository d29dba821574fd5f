#pragma once
// The plain MLP autoencoder of the seeds (784-256-64-20, ReLU, sigmoid output, MSE) with every
// regulariser: denoising (--noise), L1 and KL sparsity on the code, contractive, dropout.
#include "latentlab/model.h"
#include "latentlab/models/codec.h"
#include "latentlab/regularizers.h"

namespace latentlab {

class AutoencoderImpl : public ModelImpl {
 public:
  /// Reads arch, shape, hidden, latent, activation, loss, dropout and the regularisers from `c`.
  AutoencoderImpl(const TrainConfig& c, ImageShape shape);
  std::string kind() const override { return "ae"; }
  std::vector<Phase> phases() override { return {{"ae", parameters(), 1}}; }
  /// Terms: "mse" or "bce" (mean per pixel, as the seeds' nn.MSELoss), then the active penalties.
  LossTerms losses(size_t phase, const Batch& batch) override;
  /// The same losses with a hand-written backward when fused_step_applies(), else autograd's.
  LossTerms losses_and_gradients(size_t phase, const Batch& batch) override;
  /// Whether losses_and_gradients runs the hand-written step: MLP encoder and decoder without dropout,
  /// no penalty on the code (input noise is fine), training, gradients on.
  bool fused_step_applies() const;
  LossTerms eval_losses(const Batch& batch) override;
  int64_t latent_dim() const override { return latent_; }
  /// The terms are per pixel ("mean"); --loss-reduction sum or image scales the gradients.
  double loss_scale(int64_t n) const override { return reduction_scale(reduction_, "mean", n, shape_.pixels()); }
  torch::Tensor decode(const torch::Tensor& z) override;
  torch::Tensor reconstruct(const Batch& x) override { return decode(encode(x.images)); }
  bool can_reconstruct() const override { return true; }
  torch::Tensor code(const Batch& x) override { return encode(x.images); }
  bool has_encoder_jacobian() const override { return codec.has_jacobian(); }
  torch::Tensor code_jacobian_sq(const torch::Tensor& x) override {
    return codec.encode_with_jacobian(x, latent_, codec.activation()).second;
  }

  /// The code: the encoder's last layer through the hidden activation (ReLU in the seed).
  torch::Tensor encode(const torch::Tensor& x);
  /// The decoder's output before the sigmoid, [b, C, H, W].
  torch::Tensor decode_logits(const torch::Tensor& z) { return codec.decode_logits(z); }

  Codec codec;

 private:
  ImageShape shape_;
  int64_t latent_;
  bool bce_;
  std::string reduction_;
  Regularizers reg_;
};

/// Reconstruction error per image as the mean over pixels: MSE of sigmoid(logits), or BCE from logits.
torch::Tensor reconstruction_per_pixel(const torch::Tensor& logits, const torch::Tensor& x, bool bce);

}  // namespace latentlab
