#pragma once
// The networks the models are built from: activations, the MLP (with its closed-form Jacobian norm)
// used as encoder and decoder by every fully connected model, the convolutional encoder and decoder,
// the fast transposed convolution, the DCGAN generator and discriminator of each image size, and
// weight initialisation schemes. The hand-written training pass of the MLP is internal
// (src/kernels/kernels.h).
#include <torch/torch.h>

#include <string>
#include <vector>

namespace latentlab {

/// Activation functions selectable by name (--activation).
enum class Activation { relu, leaky_relu, elu, tanh, sigmoid, identity };
Activation parse_activation(const std::string& name);
torch::Tensor apply_activation(const torch::Tensor& x, Activation a);
/// The derivative of the activation at pre-activation x, elementwise.
torch::Tensor activation_derivative(const torch::Tensor& x, Activation a);

struct MlpOptions {
  MlpOptions(int64_t in_features, std::vector<int64_t> hidden, int64_t out_features)
      : in_features_(in_features), hidden_(std::move(hidden)), out_features_(out_features) {}
  /// Size of the input vector.
  TORCH_ARG(int64_t, in_features);
  /// Sizes of the hidden layers, in order (may be empty).
  TORCH_ARG(std::vector<int64_t>, hidden);
  /// Size of the output (the last linear layer has no activation).
  TORCH_ARG(int64_t, out_features);
  /// Activation after each hidden layer. Default: relu.
  TORCH_ARG(std::string, activation) = "relu";
  /// Dropout probability after each hidden activation, active in training only. Default: 0.
  TORCH_ARG(double, dropout) = 0.0;
};

/// in -> hidden[0] -> ... -> out: Linear + activation (+ dropout) per hidden layer, a plain Linear last.
/// Input of any shape [b, ...] is flattened to [b, in_features].
class MlpImpl : public torch::nn::Cloneable<MlpImpl> {
 public:
  explicit MlpImpl(MlpOptions options);
  void reset() override;
  torch::Tensor forward(const torch::Tensor& x);
  /// The forward pass (output before `out_act`) and, per sample, the squared Frobenius norm of the
  /// Jacobian of out_act(output[:, :rows]) with respect to the input: J = D_L W_L ... D_1 W_1 built
  /// from the output end in closed form (about `rows` times the cost of the forward pass), and
  /// differentiable, for the contractive penalty. Not with dropout.
  std::pair<torch::Tensor, torch::Tensor> forward_with_jacobian(const torch::Tensor& x, int64_t rows, Activation out_act);
  Activation activation() const { return act_; }
  MlpOptions options;
  std::vector<torch::nn::Linear> layers;

 private:
  Activation act_ = Activation::relu;
};
TORCH_MODULE(Mlp);

/// Spatial sizes of a conv stack for square images of `size`: halved by each stride-2 layer while
/// even and above 4 (28: 28, 14, 7; 32: 32, 16, 8, 4; 96: 96, 48, 24, 12, 6, 3).
std::vector<int64_t> conv_sizes(int64_t size);
/// Channels of conv layer i: base * 2^i, at most 256.
int64_t conv_channels(int64_t base, size_t i);

struct ConvEncoderOptions {
  ConvEncoderOptions(int64_t channels, int64_t size, int64_t out_features)
      : channels_(channels), size_(size), out_features_(out_features) {}
  /// Input channels (1 grayscale, 3 RGB).
  TORCH_ARG(int64_t, channels);
  /// Input height = width, even and at least 8.
  TORCH_ARG(int64_t, size);
  /// Size of the output vector.
  TORCH_ARG(int64_t, out_features);
  /// Channels of the first convolution, doubled per layer up to 256. Default: 32.
  TORCH_ARG(int64_t, base_channels) = 32;
  /// Activation after each convolution. Default: relu.
  TORCH_ARG(std::string, activation) = "relu";
};

/// Strided 4x4 convolutions (stride 2, padding 1) halving the image per con_sizes(), then a Linear.
class ConvEncoderImpl : public torch::nn::Cloneable<ConvEncoderImpl> {
 public:
  explicit ConvEncoderImpl(ConvEncoderOptions options);
  void reset() override;
  torch::Tensor forward(const torch::Tensor& x);
  ConvEncoderOptions options;
  std::vector<torch::nn::Conv2d> convs;
  torch::nn::Linear fc{nullptr};

 private:
  Activation act_ = Activation::relu;
};
TORCH_MODULE(ConvEncoder);

/// A transposed convolution (square kernel, no output padding) with the semantics, weight layout
/// [in, out, k, k], parameter names and initialisation of nn::ConvTranspose2d, computed through the
/// convolution's input gradient, which ATen runs with oneDNN on the CPU (nn::ConvTranspose2d takes a
/// slow im2col path there in 1.13; this is about 3x faster for the DCGAN's layers).
/// [b, 1, ...] logits to [b]: the last layer of the discriminators.
struct SqueezeLogitImpl : torch::nn::Module {
  torch::Tensor forward(const torch::Tensor& x);
};
TORCH_MODULE(SqueezeLogit);

class ConvTranspose2dFastImpl : public torch::nn::Module {
 public:
  ConvTranspose2dFastImpl(int64_t in, int64_t out, int64_t kernel, int64_t stride, int64_t padding, bool bias = false);
  torch::Tensor forward(const torch::Tensor& x);
  torch::Tensor weight, bias;  ///< bias undefined without one
  int64_t stride, padding;
};
TORCH_MODULE(ConvTranspose2dFast);

/// The mirror image: a Linear to the smallest feature map, then 4x4 transposed convolutions
/// (stride 2, padding 1) doubling it back; the last one outputs `channels` maps without activation.
class ConvDecoderImpl : public torch::nn::Cloneable<ConvDecoderImpl> {
 public:
  /// `options.out_features` is the size of the input code here.
  explicit ConvDecoderImpl(ConvEncoderOptions options);
  void reset() override;
  torch::Tensor forward(const torch::Tensor& z);  ///< [b, channels, size, size]
  ConvEncoderOptions options;
  torch::nn::Linear fc{nullptr};
  std::vector<ConvTranspose2dFast> deconvs;

 private:
  Activation act_ = Activation::relu;
};
TORCH_MODULE(ConvDecoder);

}  // namespace latentlab

namespace latentlab {


/// The DCGAN networks of the seeds. Generator: z [b, nz] (or [b, nz, 1, 1]) -> transposed
/// convolutions with batch norm and ReLU -> `channels` maps of size x size, before the tanh.
/// Discriminator: convolutions with LeakyReLU 0.2 (`norm` after each but the first: "batch" norm, as
/// the seeds; "layer" norm over each image's C, H, W, GroupNorm(1, C); or "none") -> one logit per
/// image, [b]. Sizes: 96 (the seed's NetG/NetD: 4-1-0, three 4-2-1, then 5-3-1), 64, 32 and 28
/// (the LibTorch cpp/dcgan example). Other sizes throw latentlab::Error.
torch::nn::Sequential dcgan_generator(int64_t nz, int64_t channels, int64_t size, int64_t ngf);
torch::nn::Sequential dcgan_discriminator(int64_t channels, int64_t size, int64_t ndf, const std::string& norm = "batch");
/// Re-initialises every layer of `m` (in the order of m.named_modules()) by `scheme`:
/// "default": PyTorch's own (weights kaiming-uniform with a = sqrt(5), i.e. U(-1/sqrt(fan_in),
/// 1/sqrt(fan_in)), biases U of the same bound; batch-norm scale 1, shift 0);
/// "dcgan": the DCGAN paper's (weights N(0, 0.02), batch-norm scale N(1, 0.02), biases 0);
/// "glorot": TensorFlow's (Glorot-uniform weights, zero biases; batch-norm scale 1, shift 0).
/// fan_in is PyTorch's: weight.size(1) x kernel area (for a transposed convolution, its out channels).
void init_parameters(torch::nn::Module& m, const std::string& scheme);
/// Spectral normalisation (Miyato et al. 2018) of every Conv2d and Linear layer of `m`: registers on
/// each the buffers weight_u [out] and weight_v [in x kernel area] (PyTorch's names; random unit vectors
/// from the global generator), which checkpoints then save. The layer's parameter `weight` stays the
/// unnormalised weight (PyTorch's weight_orig). Returns the number of layers.
int64_t add_spectral_norm(torch::nn::Module& m);
/// Before a forward pass of such a network: with `update`, one power iteration per layer (v = W^T u /
/// |.|, u = W v / |.|, without gradient); then each layer's forward reads weight / sigma with sigma =
/// u^T W v, differentiable in the weight (as torch.nn.utils.spectral_norm in training; `update` false,
/// as in its eval mode, reuses the stored vectors).
void apply_spectral_norm(torch::nn::Module& m, bool update);
/// The image sizes dcgan_generator accepts, for messages.
const std::vector<int64_t>& dcgan_sizes();

}  // namespace latentlab
