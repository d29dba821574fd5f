#include "latentlab/models/gan.h"

#include "latentlab/error.h"
#include "latentlab/nn.h"

namespace latentlab {
namespace {

// BCE with logits against a constant target, averaged: softplus(-l) for target 1, softplus(l) for 0.
torch::Tensor bce_real(const torch::Tensor& logit) { return torch::softplus(-logit).mean(); }
torch::Tensor bce_fake(const torch::Tensor& logit) { return torch::softplus(logit).mean(); }

struct UnflattenImpl : torch::nn::Module {
  UnflattenImpl(ImageShape s) : s(s) {}
  torch::Tensor forward(const torch::Tensor& x) { return x.view({x.size(0), s.channels, s.height, s.width}); }
  ImageShape s;
};
TORCH_MODULE(Unflatten);

}  // namespace

GanImpl::GanImpl(GanOptions opts, std::string kind) : options(std::move(opts)), kind_(std::move(kind)) {
  const ImageShape& s = options.shape();
  TORCH_CHECK(options.nz() > 0, "GAN: the code size must be positive");
  require(options.loss() == "bce" || options.loss() == "hinge" || options.loss() == "wgan-gp",
          "--gan-loss " + options.loss() + ": choose bce, hinge or wgan-gp");
  TORCH_CHECK(options.classes() >= 0, "GAN: the number of classes must be non-negative");
  const int64_t k = options.classes();
  if (options.arch() == "conv") {
    require(s.height == s.width, "--arch conv (DCGAN) needs square images; these are " + std::to_string(s.height) + "x" +
                                     std::to_string(s.width));
    generator = register_module("generator", dcgan_generator(options.nz() + k, s.channels, s.height, options.ngf()));
    discriminator = register_module("discriminator", dcgan_discriminator(s.channels, s.height, options.ndf(), options.d_norm()));
    if (k > 0) {  // the features the last convolution reads: the input channels of D's second-to-last module
      auto last = discriminator->ptr(discriminator->size() - 2)->as<torch::nn::Conv2d>();
      TORCH_CHECK(last, "GAN: the DCGAN discriminator's last layer is not a convolution");
      projection = register_module("projection", torch::nn::Linear(torch::nn::LinearOptions(k, last->options.in_channels()).bias(false)));
    }
  } else {
    require(options.arch() == "mlp", "--arch " + options.arch() + ": choose mlp or conv");
    require(options.d_norm() == "none", "--d-norm " + options.d_norm() + ": the MLP discriminator has no normalisation "
                                        "layers; --d-norm applies to the DCGAN networks (--arch conv)");
    std::vector<int64_t> rev(options.hidden().rbegin(), options.hidden().rend());
    auto mo = [](int64_t in, std::vector<int64_t> h, int64_t out) { return MlpOptions(in, std::move(h), out).activation("leaky_relu"); };
    generator = register_module("generator", torch::nn::Sequential(Mlp(mo(options.nz() + k, options.hidden(), s.pixels())), Unflatten(s)));
    discriminator = register_module("discriminator", torch::nn::Sequential(Mlp(mo(s.pixels() + k, rev, 1)), SqueezeLogit()));
  }
  // the projection stays as it is: SNGAN normalises it too, but it is one vector per class
  if (options.spectral_norm()) add_spectral_norm(*discriminator);
}

namespace {
// What the "d" phase trains: D's layers and, for a conditional DCGAN, its class embedding.
std::vector<torch::Tensor> d_parameters(const GanImpl& gan) {
  auto d = gan.discriminator->parameters();
  if (gan.projection) d.push_back(gan.projection->weight);
  return d;
}
}  // namespace

std::vector<Phase> GanImpl::phases() {
  return {{"d", d_parameters(*this), options.d_every(), options.lr_d()},
          {"g", generator->parameters(), options.g_every(), options.lr_g()}};
}

torch::Tensor GanImpl::generate(const torch::Tensor& z, const torch::Tensor& y) {
  TORCH_CHECK(y.defined() == (options.classes() > 0), "GAN: class vectors are needed exactly for a conditional GAN");
  return torch::tanh(generator->forward(y.defined() ? torch::cat({z.flatten(1), y}, 1) : z));
}

torch::Tensor GanImpl::discriminate(const torch::Tensor& x, const torch::Tensor& y) {
  TORCH_CHECK(y.defined() == (options.classes() > 0), "GAN: class vectors are needed exactly for a conditional GAN");
  if (options.spectral_norm()) apply_spectral_norm(*discriminator, is_training());
  if (!y.defined()) return discriminator->forward(x);
  if (!projection) return discriminator->forward(torch::cat({x.flatten(1), y}, 1));
  // the projection discriminator: D's layers up to its last convolution give features h; the logit is
  // that convolution's plus <embed(y), h summed over positions>
  torch::Tensor h = x;
  const size_t n = discriminator->size();
  auto layer = discriminator->begin();
  for (size_t i = 0; i + 2 < n; ++i, ++layer) h = layer->forward(h);
  auto logit = layer->forward(h).view({x.size(0)});
  return logit + (projection->forward(y) * h.sum({2, 3})).sum(1);
}

torch::Tensor GanImpl::decode_classes(const torch::Tensor& z, const torch::Tensor& y) {
  return generate(z, y).add(1.0).mul_(0.5);
}

torch::Tensor GanImpl::critic_score(const torch::Tensor& x) {
  require(options.classes() == 0, "the discriminator of a conditional GAN scores an image for a class; ranking by it "
                                  "(--search) is for unconditional GANs");
  return discriminate(x.mul(2.0).sub_(1.0));
}

torch::Tensor GanImpl::gradient_penalty(const torch::Tensor& real, const torch::Tensor& fake, const torch::Tensor& y) {
  auto e = torch::rand({real.size(0), 1, 1, 1}, real.options());
  auto mixed = (e * real.detach() + (1 - e) * fake.detach()).requires_grad_(true);
  auto grad = torch::autograd::grad({discriminate(mixed, y).sum()}, {mixed}, {}, /*retain_graph=*/true, /*create_graph=*/true)[0];
  return (grad.flatten(1).norm(2, 1) - 1).square().mean();
}

namespace {
// D's loss on real and fake scores, and the mean scores it reports (D's probabilities for bce, the
// raw scores otherwise).
torch::Tensor d_loss(const std::string& loss, const torch::Tensor& real, const torch::Tensor& fake) {
  if (loss == "hinge") return torch::relu(1 - real).mean() + torch::relu(1 + fake).mean();
  if (loss == "wgan-gp") return fake.mean() - real.mean();
  return bce_real(real) + bce_fake(fake);
}
torch::Tensor g_loss(const std::string& loss, const torch::Tensor& fake) {
  return loss == "bce" ? bce_real(fake) : -fake.mean();
}
torch::Tensor shown(const std::string& loss, const torch::Tensor& score) {
  return loss == "bce" ? torch::sigmoid(score.detach()).mean() : score.detach().mean();
}
}  // namespace

LossTerms GanImpl::losses(size_t phase, const Batch& batch) {
  const torch::Tensor& x = batch.images;
  int64_t b = x.size(0);
  const std::string& kind = options.loss();
  // a conditional GAN's fakes are of the batch's classes, so D sees each class as often real as fake
  const torch::Tensor y = uses_labels() ? batch_classes(batch, options.classes(), kind_ + " training") : torch::Tensor();
  if (phase == 0) {
    auto real_pm1 = x.mul(2.0).sub_(1.0);
    auto real_logit = discriminate(real_pm1, y);
    fake_ = generate(sample_prior(b, x.options()), y);
    auto fake_logit = discriminate(fake_.detach(), y);
    LossTerms l{d_loss(kind, real_logit, fake_logit), {{"real", shown(kind, real_logit)}, {"fake", shown(kind, fake_logit)}}};
    if (kind == "wgan-gp") {
      auto gp = gradient_penalty(real_pm1, fake_, y);
      l.loss = l.loss + options.gp_weight() * gp;
      l.terms.emplace_back("gp", gp.detach());
    }
    return l;
  }
  // Reuse the fakes of this batch's "d" phase (G has not changed since) unless fresh_noise; draw new
  // ones otherwise.
  const bool reuse = !options.fresh_noise() && fake_.defined() && fake_.size(0) == b;
  torch::Tensor fake = reuse ? fake_ : generate(sample_prior(b, x.options()), y);
  fake_ = torch::Tensor();
  // The generator's step needs gradients through D but not of D's weights: record D's forward with its
  // parameters frozen (the graph keeps that choice), then unfreeze them for the next "d" phase.
  auto d_params = d_parameters(*this);
  for (auto& p : d_params) p.requires_grad_(false);
  auto logit = discriminate(fake, y);
  for (auto& p : d_params) p.requires_grad_(true);
  return {g_loss(kind, logit), {}};
}

LossTerms GanImpl::eval_losses(const Batch& batch) {
  const torch::Tensor& x = batch.images;
  const torch::Tensor y = uses_labels() ? batch_classes(batch, options.classes(), kind_ + " evaluation") : torch::Tensor();
  auto real_logit = discriminate(x.mul(2.0).sub_(1.0), y);
  auto fake_logit = discriminate(generate(sample_prior(x.size(0), x.options()), y), y);
  const std::string& kind = options.loss();
  auto d = d_loss(kind, real_logit, fake_logit);  // WGAN-GP's without its penalty, which needs gradients
  auto g = g_loss(kind, fake_logit);
  // named as the training metrics are (train_d, train_g, train_d_real, ...); test_loss = d + g as train_loss
  return {d + g,
          {{"d", d},
           {"g", g},
           {"d_real", shown(kind, real_logit)},
           {"d_fake", shown(kind, fake_logit)}}};
}

namespace {
Model make_gan(const TrainConfig& c, const ImageShape& shape, const std::string& kind) {
  require(kind != "dcgan" || c.arch == "conv", "--model dcgan has convolutional networks; use --model gan for --arch mlp");
  return std::make_shared<GanImpl>(GanOptions(shape)
                                       .nz(c.latent)
                                       .arch(c.arch)
                                       .hidden(c.hidden)
                                       .ngf(c.get<int64_t>("ngf"))
                                       .ndf(c.get<int64_t>("ndf"))
                                       .d_every(c.get<int64_t>("d_every"))
                                       .g_every(c.get<int64_t>("g_every"))
                                       .lr_g(c.get<double>("lr_g"))
                                       .lr_d(c.get<double>("lr_d"))
                                       .fresh_noise(c.get<bool>("g_fresh_noise"))
                                       .loss(c.get<std::string>("gan_loss"))
                                       .gp_weight(c.get<double>("gp_weight"))
                                       .spectral_norm(c.get<bool>("spectral_norm"))
                                       .d_norm(c.get<std::string>("d_norm"))
                                       .classes(conditional_classes(c)),
                                   kind);
}

// The settings both GANs own; their defaults are GanOptions'.
std::vector<Setting> gan_settings() {
  const GanOptions d{ImageShape{}};
  auto in_range = [](const char* key, double lo, double hi, const char* what) {
    return [=](const TrainConfig& c) {
      double v = c.get<double>(key);
      require(v >= lo && v < hi, flag_for(key) + " must be " + what);
    };
  };
  return {
      {"ngf", "dcgan: feature maps of the generator's last hidden layer", {}, d.ngf(), nullptr, {},
       in_range("ngf", 1, 4097, "in [1, 4096]")},
      {"ndf", "dcgan: feature maps of the discriminator's first layer", {}, d.ndf(), nullptr, {},
       in_range("ndf", 1, 4097, "in [1, 4096]")},
      {"d_every", "train the discriminator on batches whose index is a multiple of N (the anime seed's d_every)", {},
       d.d_every(), nullptr, {}, in_range("d_every", 1, 1e18, "at least 1")},
      {"g_every", "train the generator on batches whose index is a multiple of N (the anime seed's g_every)", {},
       d.g_every(), nullptr, {}, in_range("g_every", 1, 1e18, "at least 1")},
      {"lr_g", "the generator's learning rate (0: --lr)", {}, d.lr_g(), nullptr, {},
       in_range("lr_g", 0, 10, "in (0, 10), or 0 for --lr")},
      {"lr_d", "the discriminator's learning rate (0: --lr)", {}, d.lr_d(), nullptr, {},
       in_range("lr_d", 0, 10, "in (0, 10), or 0 for --lr")},
      {"gan_loss", "the adversarial objective: bce (the original, non-saturating for G) | hinge | wgan-gp (Wasserstein "
                   "critic with a gradient penalty; the paper's n_critic = 5 is --g-every 5)",
       {}, d.loss(), nullptr, {"bce", "hinge", "wgan-gp"}},
      {"gp_weight", "weight of WGAN-GP's gradient penalty (--gan-loss wgan-gp)", {}, d.gp_weight(), nullptr, {},
       in_range("gp_weight", 0, 1e6, "a non-negative weight")},
      {"spectral_norm", "spectral normalisation of the discriminator's layers (Miyato et al. 2018): each weight divided by "
                        "its largest singular value, estimated by one power iteration per forward pass", {}, d.spectral_norm()},
      {"d_norm", "normalisation between the DCGAN discriminator's convolutions: auto (batch; layer with --gan-loss "
                 "wgan-gp, whose gradient penalty is per image; none for an MLP D) | batch | layer | none",
       {}, "auto", nullptr, {"auto", "batch", "layer", "none"}},
      {"g_fresh_noise", "the generator's step draws new codes (as the anime seed) instead of reusing the fakes of the "
                        "discriminator's step on the same batch", {}, d.fresh_noise()},
  };
}
}  // namespace

void register_gan() {
  const nlohmann::json gan_defaults = {{"batch_size", 64}, {"lr", 2e-4}, {"beta1", 0.5}, {"latent", 100}, {"log_every", 20}};
  ModelEntry gan;
  gan.name = "gan";
  gan.summary = "the simplest GAN: MLP G (100-256-512-1024-784, tanh) and D (mirror); --arch conv for DCGAN nets";
  gan.factory = [](const TrainConfig& c, const ImageShape& s) { return make_gan(c, s, "gan"); };
  gan.defaults = gan_defaults;
  gan.defaults["arch"] = "mlp";
  gan.defaults["hidden"] = GanOptions(ImageShape{}).hidden();
  gan.reads = {"arch", "hidden"};
  gan.settings = gan_settings();
  for (auto& s : conditional_settings()) gan.settings.push_back(std::move(s));
  gan.check = [](const TrainConfig& c) {
    require(c.get<std::string>("gan_loss") == "wgan-gp" || c.get<double>("gp_weight") == GanOptions(ImageShape{}).gp_weight(),
            "--gp-weight applies to --gan-loss wgan-gp (this run's objective is " + c.get<std::string>("gan_loss") + ")");
  };
  gan.resolve = [](TrainConfig& c) {
    if (c.get<std::string>("d_norm") != "auto") return;
    c.set("d_norm", std::string(c.arch == "mlp" ? "none" : c.get<std::string>("gan_loss") == "wgan-gp" ? "layer" : "batch"));
  };
  ModelEntry dcgan = gan;
  dcgan.name = "dcgan";
  dcgan.summary = "DCGAN NetG/NetD (nz 100, ngf = ndf = 64): the anime seed's NetG/NetD at 96 pixels; "
                  "at 28, 32 and 64 latentlab's own nets of the same pattern (the seeds have none)";
  dcgan.factory = [](const TrainConfig& c, const ImageShape& s) { return make_gan(c, s, "dcgan"); };
  dcgan.defaults = gan_defaults;
  dcgan.defaults["arch"] = "conv";
  dcgan.defaults["image_size"] = 96;
  dcgan.defaults["init"] = "dcgan";
  dcgan.reads = {"arch"};
  ModelRegistry::add(std::move(gan));
  ModelRegistry::add(std::move(dcgan));
}

}  // namespace latentlab
