#include "latentlab/models/codec.h"

#include "latentlab/error.h"
#include "../kernels/kernels.h"

namespace latentlab {

Codec::Codec(torch::nn::Module& owner, CodecOptions opts) : options(std::move(opts)), act_(parse_activation(options.activation())) {
  const ImageShape& s = options.shape();
  if (options.arch() == "conv") {
    require(s.height == s.width && s.height >= 8 && s.height % 2 == 0,
            "--arch conv needs square images of an even size of at least 8 pixels (28, 32, 64, 96, ...); these are " +
                std::to_string(s.height) + "x" + std::to_string(s.width));
    auto o = [&](int64_t channels, int64_t features) {
      return ConvEncoderOptions(channels, s.height, features).activation(options.activation());
    };
    conv_encoder = owner.register_module("encoder", ConvEncoder(o(s.channels + options.classes(), options.encoder_out())));
    conv_decoder = owner.register_module("decoder", ConvDecoder(o(s.channels, options.latent() + options.classes())));
  } else {
    require(options.arch() == "mlp", "--arch " + options.arch() + ": choose mlp or conv");
    std::vector<int64_t> rev(options.hidden().rbegin(), options.hidden().rend());
    auto o = [&](int64_t in, std::vector<int64_t> hidden, int64_t out) {
      return MlpOptions(in, std::move(hidden), out).activation(options.activation()).dropout(options.dropout());
    };
    const int64_t k = options.classes();
    mlp_encoder = owner.register_module("encoder", Mlp(o(s.pixels() + k, options.hidden(), options.encoder_out())));
    mlp_decoder = owner.register_module("decoder", Mlp(o(options.latent() + k, rev, s.pixels())));
  }
}

namespace {
void check_classes(const torch::Tensor& y, int64_t classes) {
  TORCH_CHECK(y.defined() == (classes > 0), "codec: class vectors are needed exactly for a conditional model");
}
}  // namespace

torch::Tensor Codec::encode(const torch::Tensor& x, const torch::Tensor& y) {
  check_classes(y, options.classes());
  if (!y.defined()) return mlp_encoder ? mlp_encoder->forward(x) : conv_encoder->forward(x);
  if (mlp_encoder) return mlp_encoder->forward(torch::cat({x.flatten(1), y}, 1));
  auto maps = y.view({y.size(0), y.size(1), 1, 1}).expand({y.size(0), y.size(1), x.size(2), x.size(3)});
  return conv_encoder->forward(torch::cat({x, maps}, 1));
}

torch::Tensor Codec::decode_logits(const torch::Tensor& z, const torch::Tensor& y) {
  check_classes(y, options.classes());
  const ImageShape& s = options.shape();
  auto in = y.defined() ? torch::cat({z, y}, 1) : z;
  auto out = mlp_decoder ? mlp_decoder->forward(in) : conv_decoder->forward(in);
  return out.reshape({z.size(0), s.channels, s.height, s.width});
}

std::pair<torch::Tensor, torch::Tensor> Codec::encode_with_jacobian(const torch::Tensor& x, int64_t rows,
                                                                    Activation out_act) {
  require(static_cast<bool>(mlp_encoder), "the contractive penalty and the Jacobian norm need --arch mlp");
  require(options.classes() == 0, "the contractive penalty and the Jacobian norm are for models that are not --conditional");
  return mlp_encoder->forward_with_jacobian(x, rows, out_act);
}

bool Codec::taped_step_applies() const {
  return mlp_encoder && options.dropout() == 0 && options.classes() == 0 && mlp_encoder->is_training() &&
         torch::GradMode::is_enabled();
}

CodecTapes& Codec::tapes() {
  if (!tapes_) tapes_ = std::make_shared<CodecTapes>();
  return *tapes_;
}

}  // namespace latentlab
