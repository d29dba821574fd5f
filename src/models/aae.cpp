#include "latentlab/models/aae.h"

#include <cmath>

#include "latentlab/error.h"
#include "latentlab/losses.h"

namespace latentlab {

torch::Tensor sample_mixture_prior(int64_t n, int64_t dim, const torch::TensorOptions& opts) {
  auto z = torch::randn({n, dim}, opts);
  if (dim < 2) return z;
  auto k = torch::randint(0, 10, {n}, opts.dtype(torch::kInt64));
  auto angle = k.to(opts.dtype()).mul_(2.0 * M_PI / 10.0);
  auto first = z.narrow(1, 0, 2).mul(0.5);
  first.select(1, 0).add_(angle.cos().mul_(4.0));
  first.select(1, 1).add_(angle.sin().mul_(4.0));
  return torch::cat({first, z.narrow(1, 2, dim - 2)}, 1);
}

AaeImpl::AaeImpl(AaeOptions opts)
    : options(std::move(opts)),
      codec(*this, CodecOptions(options.shape(), options.latent(), options.latent())
                       .arch(options.arch())
                       .hidden(options.hidden())
                       .activation(options.activation())
                       .classes(options.classes())) {
  TORCH_CHECK(options.latent() > 0, "AAE: the code size must be positive");
  TORCH_CHECK(options.classes() >= 0, "AAE: the number of classes must be non-negative");
  require(options.prior() == "gaussian" || options.prior() == "mixture", "--prior " + options.prior() + ": choose gaussian or mixture");
  require(options.loss() == "bce" || options.loss() == "mse", "--loss " + options.loss() + ": choose bce or mse");
  discriminator = register_module(
      "discriminator", Mlp(MlpOptions(options.latent(), options.hidden(), 1).activation("leaky_relu")));
}

torch::Tensor AaeImpl::sample_prior(int64_t n, const torch::TensorOptions& opts) const {
  return options.prior() == "mixture" ? sample_mixture_prior(n, options.latent(), opts)
                                      : torch::randn({n, options.latent()}, opts);
}

std::vector<Phase> AaeImpl::phases() {
  std::vector<torch::Tensor> codec_params, encoder_params;
  for (auto& item : named_parameters()) {
    const std::string& name = item.key();
    if (name.rfind("discriminator.", 0) == 0) continue;
    codec_params.push_back(item.value());
    if (name.rfind("encoder.", 0) == 0) encoder_params.push_back(item.value());
  }
  return {{"recon", codec_params, 1}, {"disc", discriminator->parameters(), 1}, {"gen", encoder_params, 1}};
}

namespace {
// The reconstruction loss per image of decoder logits against images x: "bce" or "mse" (summed squares).
torch::Tensor recon_loss(const std::string& loss, const torch::Tensor& logits, const torch::Tensor& x) {
  return loss == "bce" ? bce_with_logits_per_image(logits, x) : sse_per_image(torch::sigmoid(logits), x);
}
}  // namespace

torch::Tensor AaeImpl::recon_per_image(const Batch& b, const torch::Tensor& z) {
  return recon_loss(options.loss(), codec.decode_logits(z, classes_of(b, "training")), b.images);
}

LossTerms AaeImpl::losses(size_t phase, const Batch& batch) {
  const torch::Tensor& x = batch.images;
  if (phase == 0) return {recon_per_image(batch, code(batch)).mean(), {}};
  if (phase == 1) {
    auto real = discriminator->forward(sample_prior(x.size(0), x.options()));
    torch::Tensor codes;
    {
      torch::NoGradGuard g;
      codes = code(batch);
    }
    auto fake = discriminator->forward(codes);
    return {torch::softplus(-real).mean() + torch::softplus(fake).mean(), {}};
  }
  return {torch::softplus(-discriminator->forward(code(batch))).mean(), {}};
}

LossTerms AaeImpl::eval_losses(const Batch& batch) {
  const torch::Tensor& x = batch.images;
  auto z = code(batch);
  auto logits = codec.decode_logits(z, classes_of(batch, "evaluation"));  // decoded once for both terms
  auto r = recon_loss(options.loss(), logits, x);
  auto mse = sse_per_image(torch::sigmoid(logits), x).mean() / static_cast<double>(options.shape().pixels());
  auto real = discriminator->forward(sample_prior(x.size(0), x.options()));
  auto fake = discriminator->forward(z);
  auto disc = torch::softplus(-real).mean() + torch::softplus(fake).mean(), gen = torch::softplus(-fake).mean();
  // named as the training phases are (train_recon, train_disc, train_gen); test_loss is their sum, as train_loss
  return {r.mean() + disc + gen, {{"recon", r.mean()}, {"disc", disc}, {"gen", gen}, {"mse", mse}}};
}

void register_aae() {
  const AaeOptions d{ImageShape{}};
  ModelEntry e;
  e.name = "aae";
  e.summary = "adversarial autoencoder: MLP encoder/decoder 784-512-512-8, a code discriminator, --prior gaussian|mixture";
  e.defaults = {{"batch_size", 100}, {"hidden", d.hidden()}, {"latent", d.latent()}, {"loss", d.loss()}, {"lr", 1e-3}, {"beta1", 0.5}};
  e.reads = {"arch", "hidden", "activation", "loss"};
  e.settings = {{"prior", "the prior the codes are matched to: gaussian N(0, I) | mixture (10 Gaussians on a circle in the "
                          "first two dimensions)", {}, d.prior(), nullptr, {"gaussian", "mixture"}}};
  for (auto& s : conditional_settings()) e.settings.push_back(std::move(s));
  e.factory = [](const TrainConfig& c, const ImageShape& shape) -> Model {
    return std::make_shared<AaeImpl>(AaeOptions(shape)
                                         .latent(c.latent)
                                         .arch(c.arch)
                                         .hidden(c.hidden)
                                         .activation(c.activation)
                                         .loss(c.loss)
                                         .prior(c.get<std::string>("prior"))
                                         .classes(conditional_classes(c)));
  };
  ModelRegistry::add(std::move(e));
}

}  // namespace latentlab
