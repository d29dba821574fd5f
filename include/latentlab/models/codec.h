#pragma once
// The encoder and decoder every autoencoder-type model shares: MLP or convolutional (--arch),
// registered into the owning model as "encoder" and "decoder".
#include "latentlab/model.h"
#include "latentlab/nn.h"

namespace latentlab {

struct CodecTapes;  // src/kernels/kernels.h

struct CodecOptions {
  CodecOptions(ImageShape shape, int64_t encoder_out, int64_t latent)
      : shape_(shape), encoder_out_(encoder_out), latent_(latent) {}
  /// Input image shape.
  TORCH_ARG(ImageShape, shape);
  /// Size of the encoder's output (latent for an AE, 2 * latent for a VAE).
  TORCH_ARG(int64_t, encoder_out);
  /// Size of the decoder's input.
  TORCH_ARG(int64_t, latent);
  /// "mlp" or "conv". Default: mlp.
  TORCH_ARG(std::string, arch) = "mlp";
  /// MLP hidden sizes (the decoder mirrors them). Default: {400}.
  TORCH_ARG(std::vector<int64_t>, hidden) = std::vector<int64_t>{400};
  /// Hidden activation. Default: relu.
  TORCH_ARG(std::string, activation) = "relu";
  /// Dropout on MLP hidden layers. Default: 0.
  TORCH_ARG(double, dropout) = 0.0;
  /// Classes of a conditional model (0: none). The class vector (one-hot) is concatenated to the
  /// MLP encoder's input and to the code before the decoder (MLP or conv: its first layer is a Linear);
  /// the conv encoder reads it as `classes` extra input channels, constant over the image (a one-hot
  /// embedding broadcast over positions; a learned embedding would add nothing, as the first
  /// convolution is linear in its input channels). Default: 0.
  TORCH_ARG(int64_t, classes) = 0;
};

class Codec {
 public:
  Codec(torch::nn::Module& owner, CodecOptions options);
  /// [b, encoder_out]; y: the class vectors [b, classes] of a conditional codec, undefined otherwise.
  torch::Tensor encode(const torch::Tensor& x, const torch::Tensor& y = {});
  /// Decoder logits, [b, C, H, W] (for classes y, as encode).
  torch::Tensor decode_logits(const torch::Tensor& z, const torch::Tensor& y = {});
  /// The encoder output and the per-image squared Jacobian norm of out_act(output[:, :rows]);
  /// MLP encoders only (latentlab::Error otherwise).
  std::pair<torch::Tensor, torch::Tensor> encode_with_jacobian(const torch::Tensor& x, int64_t rows, Activation out_act);
  Activation activation() const { return act_; }
  /// Whether encode_with_jacobian() is available (an MLP encoder, not conditional).
  bool has_jacobian() const { return static_cast<bool>(mlp_encoder) && options.classes() == 0; }
  /// Whether the hand-written training step (taped_codec_step, src/kernels/) can run now: MLP networks
  /// without dropout, not conditional, training, with autograd on. A model adds the conditions of its own terms.
  bool taped_step_applies() const;
  /// The tapes and scratch buffers of that step, made on first use and reused.
  CodecTapes& tapes();

  CodecOptions options;
  Mlp mlp_encoder{nullptr}, mlp_decoder{nullptr};        ///< set for --arch mlp
  ConvEncoder conv_encoder{nullptr};                     ///< set for --arch conv
  ConvDecoder conv_decoder{nullptr};

 private:
  Activation act_;
  std::shared_ptr<CodecTapes> tapes_;
};

}  // namespace latentlab
