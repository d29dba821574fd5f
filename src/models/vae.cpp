#include "latentlab/models/vae.h"

#include "latentlab/error.h"
#include "latentlab/losses.h"
#include "../kernels/kernels.h"

#include <cmath>

namespace latentlab {

void check_vae_options(const VaeOptions& o) {
  TORCH_CHECK(o.latent() > 0, "VAE: latent size must be positive");
  TORCH_CHECK(o.likelihood() == "bce" || o.likelihood() == "mse", "VAE: likelihood must be bce or mse");
  require(o.output() == "sigmoid" || o.output() == "tanh", "--output " + o.output() + ": choose sigmoid or tanh");
  require(o.output() == "sigmoid" || o.likelihood() == "mse",
          "--output tanh needs --loss mse: BCE needs targets in [0, 1], and tanh scales the images to [-1, 1]");
  TORCH_CHECK(o.beta() >= 0 && o.kl_warmup() >= 0, "VAE: beta and kl_warmup must be non-negative");
  require(o.posterior() == "logvar" || o.posterior() == "relu-sigma",
          "--posterior " + o.posterior() + ": choose logvar or relu-sigma");
  require(!(o.posterior() == "relu-sigma" && o.regularizers().contractive > 0),
          "--contractive needs --posterior logvar");
  require(o.classes() == 0 || o.regularizers().contractive == 0, "--contractive is for models that are not --conditional");
  require(o.iw_k() >= 1 && o.iw_k() <= 5000, "--iw-k must be in [1, 5000]");
  require(o.iw_k() == 1 || (o.beta() == 1 && o.kl_warmup() == 0 && o.regularizers().noise.kind == Noise::Kind::none &&
                                  !o.regularizers().penalise_code()),
          "--iw-k " + std::to_string(o.iw_k()) +
              " trains on the importance-weighted bound of log p(x), which has no KL weight, warm-up, input noise or code "
              "penalty; leave out --beta, --kl-warmup, --noise, --l1, --sparsity and --contractive, or use --iw-k 1");
}

VaeImpl::VaeImpl(VaeOptions opts)
    : options(std::move(opts)),
      codec(*this, CodecOptions(options.shape(), 2 * options.latent(), options.latent())
                       .arch(options.arch())
                       .hidden(options.hidden())
                       .activation(options.activation())
                       .dropout(options.dropout())
                       .classes(options.classes())) {
  check_vae_options(options);
  set_epoch(1);
}

void VaeImpl::set_epoch(int64_t epoch) {
  double ramp = options.kl_warmup() > 0 ? std::min(1.0, double(epoch) / double(options.kl_warmup())) : 1.0;
  kl_weight_ = options.beta() * ramp;
}

torch::Tensor VaeImpl::recon_per_image(const torch::Tensor& logits, const torch::Tensor& x) const {
  if (tanh_output()) return sse_per_image(torch::tanh(logits), model_input(x));
  return options.likelihood() == "bce" ? bce_with_logits_per_image(logits, x) : sse_per_image(torch::sigmoid(logits), x);
}

std::vector<Phase> VaeImpl::phases() { return {{"vae", parameters(), 1}}; }

std::pair<torch::Tensor, torch::Tensor> VaeImpl::split(const torch::Tensor& h) const {
  if (options.posterior() == "relu-sigma") {
    auto parts = apply_activation(h, codec.activation()).chunk(2, 1);
    return {parts[0], parts[1].square().add(1e-8).log()};
  }
  auto parts = h.chunk(2, 1);
  return {parts[0], parts[1]};
}

std::pair<torch::Tensor, torch::Tensor> VaeImpl::encode(const torch::Tensor& x, const torch::Tensor& y) {
  return split(codec.encode(model_input(x), y));
}

torch::Tensor VaeImpl::decode_classes(const torch::Tensor& z, const torch::Tensor& y) {
  return images_from_logits(decode_logits(z, y));
}

torch::Tensor VaeImpl::reconstruct(const Batch& b) {
  auto y = classes_of(b, "reconstruction");
  return images_from_logits(decode_logits(encode(b.images, y).first, y));
}

LossTerms VaeImpl::losses(size_t, const Batch& batch) {
  const torch::Tensor& x = batch.images;
  if (options.iw_k() > 1) {  // the importance-weighted bound (no noise, penalty or KL weight: check_vae_options)
    auto loss = -iwae_bound(batch, options.iw_k()).mean();
    return {loss, {{"iwae", loss}}};
  }
  const Regularizers& reg = options.regularizers();
  const auto y = classes_of(batch, "training");
  auto input = is_training() ? corrupt(x, reg.noise) : x;
  torch::Tensor mu, logvar, jf2;
  if (reg.contractive > 0) {
    auto [h, j] = codec.encode_with_jacobian(model_input(input), options.latent(), Activation::identity);
    std::tie(mu, logvar) = split(h);
    jf2 = j.mean();
  } else {
    std::tie(mu, logvar) = encode(input, y);
  }
  auto z = mu + torch::randn_like(mu) * (0.5 * logvar).exp();
  auto recon = recon_per_image(decode_logits(z, y), x).mean();
  auto kl = kl_std_normal_per_image(mu, logvar).mean();
  LossTerms l{kl_weight_ == 1.0 ? recon + kl : recon + kl_weight_ * kl, {{"recon", recon}, {"kl", kl}}};
  reg.add_penalties(l, mu, jf2);
  return l;
}

bool VaeImpl::fused_step_applies() const {
  return codec.taped_step_applies() && options.posterior() == "logvar" && !tanh_output() && options.iw_k() == 1 &&
         !options.regularizers().penalise_code();
}

LossTerms VaeImpl::losses_and_gradients(size_t phase, const Batch& batch) {
  const torch::Tensor& x = batch.images;
  if (!fused_step_applies()) return ModelImpl::losses_and_gradients(phase, batch);
  torch::NoGradGuard no_grad;
  FusedBuffers& f = fused_;
  const int64_t b = x.size(0), L = options.latent();
  const double s = 1.0 / static_cast<double>(b), w = kl_weight_;
  for (auto* t : {&f.eps, &f.std, &f.z}) reuse_buffer(*t, b, L, x);
  reuse_buffer(f.dcode, b, 2 * L, x);
  torch::Tensor mu, logvar, var, kl;
  auto sample = [&](const torch::Tensor& h) {  // the draws match losses()' randn_like(mu)
    mu = h.narrow(1, 0, L), logvar = h.narrow(1, L, L);
    f.eps.normal_();
    at::exp_out(f.std, logvar.mul(0.5));
    at::addcmul_out(f.z, mu, f.eps, f.std);
    var = f.std.square();
    kl = (mu.flatten().dot(mu.flatten()) + var.sum() - logvar.sum()).sub_(static_cast<double>(b * L)).mul_(0.5 * s);
    return f.z;
  };
  auto add_kl_gradient = [&](const torch::Tensor& dz) {  // d/d mu = dz + w mu / b; d/d logvar = dz eps std / 2 + w (var - 1) / (2 b)
    auto dmu = f.dcode.narrow(1, 0, L), dlogvar = f.dcode.narrow(1, L, L);
    at::add_out(dmu, dz, mu, w * s);
    at::mul_out(dlogvar, dz, f.eps).mul_(f.std).mul_(0.5);
    dlogvar.add_(var.sub_(1), 0.5 * w * s);
    return f.dcode;
  };
  auto recon = taped_codec_step(codec, corrupt(x, options.regularizers().noise), x, options.likelihood() == "bce", s,
                                Activation::identity, sample, add_kl_gradient);
  return {w == 1.0 ? recon + kl : recon + w * kl, {{"recon", recon}, {"kl", kl}}};
}

torch::Tensor VaeImpl::log_importance_weights(const Batch& batch, int64_t k) {
  const torch::Tensor& x = batch.images;
  const auto y = classes_of(batch, "likelihood");
  auto [mu, logvar] = encode(x, y);
  const int64_t b = x.size(0), L = mu.size(1);
  const double log2pi = std::log(2 * M_PI);
  auto eps = torch::randn({k, b, L}, mu.options());
  auto z = mu.unsqueeze(0) + (0.5 * logvar).exp().unsqueeze(0) * eps;  // [k, b, L]
  auto logits = decode_logits(z.reshape({k * b, L}), y.defined() ? y.repeat({k, 1}) : y);
  std::vector<int64_t> shape = x.sizes().vec();
  shape.insert(shape.begin(), k);
  auto xr = x.unsqueeze(0).expand(shape).reshape(logits.sizes());
  torch::Tensor log_px;
  if (options.likelihood() == "bce") {
    log_px = -bce_with_logits_per_image(logits, xr);
  } else {
    double d = static_cast<double>(options.shape().pixels());
    // a tanh output's density is on the [-1, 1] scale: x = (x' + 1) / 2 adds d log 2
    log_px = -(recon_per_image(logits, xr) + 0.5 * d * std::log(M_PI)) + (tanh_output() ? d * std::log(2.0) : 0.0);
  }
  auto log_pz = -0.5 * (z.pow(2) + log2pi).sum(-1);
  auto log_qz = -0.5 * (eps.pow(2) + log2pi + logvar.unsqueeze(0)).sum(-1);
  return (log_px.view({k, b}) + log_pz - log_qz).t();
}

torch::Tensor VaeImpl::iwae_bound(const Batch& x, int64_t k) {
  return torch::logsumexp(log_importance_weights(x, k), 1) - std::log(static_cast<double>(k));
}

LossTerms VaeImpl::eval_losses(const Batch& batch) {
  const torch::Tensor& x = batch.images;
  if (options.iw_k() > 1) {  // the training objective, and the ELBO's terms beside it
    LossTerms elbo = eval_losses_elbo(x, classes_of(batch, "evaluation"));
    auto iwae = -iwae_bound(batch, options.iw_k()).mean();
    elbo.terms.emplace_back("elbo_loss", elbo.loss);
    return {iwae, elbo.terms};
  }
  return eval_losses_elbo(x, classes_of(batch, "evaluation"));
}

LossTerms VaeImpl::eval_losses_elbo(const torch::Tensor& x, const torch::Tensor& y) {
  auto [mu, logvar] = encode(x, y);
  auto z = mu + torch::randn_like(mu) * (0.5 * logvar).exp();
  auto logits = decode_logits(z, y);
  auto recon = recon_per_image(logits, x).mean();
  auto kl = kl_std_normal_per_image(mu, logvar).mean();
  auto mse = sse_per_image(images_from_logits(logits), x).mean() / static_cast<double>(options.shape().pixels());
  return {recon + kl, {{"recon", recon}, {"kl", kl}, {"mse", mse}}};
}

namespace {
VaeOptions vae_options(const TrainConfig& c, const ImageShape& shape) {
  return VaeOptions(shape)
      .arch(c.arch)
      .hidden(c.hidden)
      .latent(c.latent)
      .activation(c.activation)
      .likelihood(c.loss)
      .dropout(c.dropout)
      .beta(c.get<double>("beta"))
      .kl_warmup(c.get<int64_t>("kl_warmup"))
      .posterior(c.get<std::string>("posterior"))
      .output(c.get<std::string>("output"))
      .reduction(c.loss_reduction)
      .iw_k(c.get<int64_t>("iw_k"))
      .classes(is_conditional(c) ? c.get<int64_t>("classes") : 0)
      .regularizers(Regularizers(c));
}
}  // namespace

void register_vae() {
  const VaeOptions d{ImageShape{}};  // the options' defaults are the settings' defaults
  ModelEntry e;
  e.name = "vae";
  e.summary = "the seeds' VAE: MLP encoder to mean/log-variance, BCE + KL to N(0, I); --beta, --kl-warmup";
  e.defaults = {{"batch_size", 128}, {"hidden", d.hidden()}, {"loss", d.likelihood()}, {"loss_reduction", d.reduction()}};
  e.reads = {"arch", "hidden", "activation", "loss", "loss_reduction", "dropout", "noise", "l1", "sparsity", "contractive"};
  e.settings = {
      {"beta", "weight of the KL term (beta-VAE)", {}, d.beta(), nullptr, {},
       [](const TrainConfig& c) {
         require(c.get<double>("beta") >= 0 && std::isfinite(c.get<double>("beta")), "--beta must be a non-negative weight");
       }},
      {"kl_warmup", "epochs over which the KL weight rises linearly to --beta (0: off)", {}, d.kl_warmup(), nullptr, {},
       [](const TrainConfig& c) { require(c.get<int64_t>("kl_warmup") >= 0, "--kl-warmup must be 0 (off) or a number of epochs"); }},
      {"posterior", "logvar: the encoder outputs mean and log-variance; relu-sigma: the first seed's encoder, whose activated "
                    "output splits into mean and sigma", {}, d.posterior(), nullptr, {"logvar", "relu-sigma"}},
      {"iw_k", "importance samples of the training objective: 1 the ELBO; K > 1 the importance-weighted bound of "
               "log p(x) (IWAE, Burda et al. 2015), tighter with K and K times the decoder's work",
       {}, d.iw_k()},  // its range and what it cannot combine with: check_vae_options, through e.check
      conditional_settings()[0],
      conditional_settings()[1],
      {"output", "decoder output: sigmoid (images in [0, 1]) | tanh (images scaled to [-1, 1] as by Normalize(0.5, 0.5), "
                 "MSE on that scale; needs --loss mse)", {}, d.output(), nullptr, {"sigmoid", "tanh"}},
  };
  // the model's own checks, on the options the factory would build (before anything is created)
  e.check = [](const TrainConfig& c) {
    TrainConfig filled = c;
    apply_model_defaults(filled);
    check_vae_options(vae_options(filled, ImageShape{}));
  };
  e.factory = [](const TrainConfig& c, const ImageShape& shape) -> Model {
    return std::make_shared<VaeImpl>(vae_options(c, shape).classes(conditional_classes(c)));
  };
  ModelRegistry::add(std::move(e));
}

}  // namespace latentlab
