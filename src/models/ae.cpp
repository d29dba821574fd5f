#include "latentlab/models/ae.h"

#include "latentlab/losses.h"

namespace latentlab {

torch::Tensor reconstruction_per_pixel(const torch::Tensor& logits, const torch::Tensor& x, bool bce) {
  double pixels = static_cast<double>(x.numel() / x.size(0));
  auto per_image = bce ? bce_with_logits_per_image(logits, x) : sse_per_image(torch::sigmoid(logits), x);
  return per_image / pixels;
}

AutoencoderImpl::AutoencoderImpl(const TrainConfig& c, ImageShape shape)
    : shape_(shape), latent_(c.latent), bce_(c.loss == "bce"), reg_(c) {
  std::vector<int64_t> rev(c.hidden.rbegin(), c.hidden.rend());
  auto opts = [&](int64_t in, std::vector<int64_t> hidden, int64_t out) {
    return MlpOptions(in, std::move(hidden), out).activation(c.activation).dropout(c.dropout);
  };
  encoder = register_module("encoder", Mlp(opts(shape.pixels(), c.hidden, c.latent)));
  decoder = register_module("decoder", Mlp(opts(c.latent, rev, shape.pixels())));
}

torch::Tensor AutoencoderImpl::encode(const torch::Tensor& x) {
  return apply_activation(encoder->forward(x), encoder->activation());
}

torch::Tensor AutoencoderImpl::decode(const torch::Tensor& z) {
  return torch::sigmoid(decode_logits(z)).reshape({z.size(0), shape_.channels, shape_.height, shape_.width});
}

LossTerms AutoencoderImpl::losses(size_t, const torch::Tensor& x) {
  auto input = is_training() ? corrupt(x, reg_.noise) : x;
  torch::Tensor code, jf2;
  if (reg_.contractive > 0) {
    auto [out, j] = encoder->forward_with_jacobian(input, latent_, encoder->activation());
    code = apply_activation(out, encoder->activation());
    jf2 = j.mean();
  } else {
    code = encode(input);
  }
  auto recon = reconstruction_per_pixel(decode_logits(code), x, bce_).mean();
  LossTerms l{recon, {{bce_ ? "bce" : "mse", recon}}};
  reg_.add_code_penalties(l, code);
  if (jf2.defined()) {
    l.loss = l.loss + reg_.contractive * jf2;
    l.terms.emplace_back("contractive", jf2);
  }
  return l;
}

LossTerms AutoencoderImpl::eval_losses(const torch::Tensor& x) {
  auto recon = reconstruction_per_pixel(decode_logits(encode(x)), x, bce_).mean();
  return {recon, {{bce_ ? "bce" : "mse", recon}}};
}

void register_ae() {
  ModelRegistry::add("ae", "the seeds' MLP autoencoder (784-256-64-20, MSE); --noise/--l1/--sparsity/--contractive/--dropout",
                     {{"batch_size", 32}, {"hidden", {256, 64}}, {"loss", "mse"}},
                     [](const TrainConfig& c, const ImageShape& shape) -> Model {
                       return std::make_shared<AutoencoderImpl>(c, shape);
                     });
}

}  // namespace latentlab
