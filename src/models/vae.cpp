#include "latentlab/models/vae.h"

#include "latentlab/error.h"
#include "latentlab/losses.h"

namespace latentlab {

VaeImpl::VaeImpl(VaeOptions opts) : options(std::move(opts)) {
  TORCH_CHECK(options.latent() > 0, "VAE: latent size must be positive");
  std::vector<int64_t> rev(options.hidden().rbegin(), options.hidden().rend());
  encoder = register_module("encoder", Mlp(MlpOptions(options.shape().pixels(), options.hidden(), 2 * options.latent())));
  decoder = register_module("decoder", Mlp(MlpOptions(options.latent(), rev, options.shape().pixels())));
}

std::vector<Phase> VaeImpl::phases() { return {{"vae", parameters(), 1}}; }

std::pair<torch::Tensor, torch::Tensor> VaeImpl::encode(const torch::Tensor& x) {
  auto h = encoder->forward(x);
  auto parts = h.chunk(2, 1);
  return {parts[0], parts[1]};
}

torch::Tensor VaeImpl::decode_logits(const torch::Tensor& z) { return decoder->forward(z); }

torch::Tensor VaeImpl::decode(const torch::Tensor& z) {
  const auto& s = options.shape();
  return torch::sigmoid(decode_logits(z)).reshape({z.size(0), s.channels, s.height, s.width});
}

torch::Tensor VaeImpl::reconstruct(const torch::Tensor& x) { return decode(encode(x).first); }

LossTerms VaeImpl::losses(size_t, const torch::Tensor& x) {
  auto [mu, logvar] = encode(x);
  auto z = mu + torch::randn_like(mu) * (0.5 * logvar).exp();
  auto recon = bce_with_logits_per_image(decode_logits(z), x).mean();
  auto kl = kl_std_normal_per_image(mu, logvar).mean();
  return {recon + kl, {{"recon", recon}, {"kl", kl}}};
}

LossTerms VaeImpl::eval_losses(const torch::Tensor& x) { return losses(0, x); }

void register_vae() {
  ModelRegistry::add("vae", "the seeds' VAE: MLP encoder to mean/log-variance, BCE + KL to N(0, I)",
                     [](const TrainConfig& c, const ImageShape& shape) -> Model {
                       return std::make_shared<VaeImpl>(VaeOptions(shape).hidden(c.hidden).latent(c.latent));
                     });
}

}  // namespace latentlab
