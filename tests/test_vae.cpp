// The seeds' VAE: build, shapes, loss terms, a step changes the weights, save/load, sampling.
#include "common.h"
#include "latentlab/models/vae.h"
#include "latentlab/train.h"

namespace latentlab::test {

class Vae : public Seeded {
 protected:
  Model make(std::vector<int64_t> hidden = {32}, int64_t latent = 4) {
    TrainConfig c;
    c.model = "vae";
    c.hidden = hidden;
    c.latent = latent;
    return ModelRegistry::create(c, ImageShape{1, 28, 28});
  }
};

TEST_F(Vae, RegisteredAndBuiltWithTheSeedsArchitecture) {
  ASSERT_TRUE(ModelRegistry::has("vae"));
  auto m = std::dynamic_pointer_cast<VaeImpl>(make({400}, 20));
  ASSERT_TRUE(m);
  // 784-400-(20 mean, 20 log-variance) and 20-400-784
  int64_t n = 0;
  for (auto& p : m->parameters()) n += p.numel();
  EXPECT_EQ(n, (784 * 400 + 400) + (400 * 40 + 40) + (20 * 400 + 400) + (400 * 784 + 784));
  EXPECT_EQ(m->phases().size(), 1u);
  EXPECT_EQ(m->latent_dim(), 20);
}

TEST_F(Vae, ForwardShapesAndLossTerms) {
  auto m = std::dynamic_pointer_cast<VaeImpl>(make());
  auto x = torch::rand({5, 1, 28, 28});
  auto [mu, logvar] = m->encode(x);
  EXPECT_EQ(mu.sizes(), (std::vector<int64_t>{5, 4}));
  EXPECT_EQ(logvar.sizes(), (std::vector<int64_t>{5, 4}));
  EXPECT_EQ(m->reconstruct(x).sizes(), x.sizes());
  auto s = m->decode(torch::randn({3, 4}));
  EXPECT_EQ(s.sizes(), (std::vector<int64_t>{3, 1, 28, 28}));
  EXPECT_GE(s.min().item<float>(), 0.0f);
  EXPECT_LE(s.max().item<float>(), 1.0f);
  LossTerms l = m->losses(0, x);
  ASSERT_EQ(l.terms.size(), 2u);
  EXPECT_EQ(l.terms[0].first, "recon");
  EXPECT_EQ(l.terms[1].first, "kl");
  EXPECT_NEAR(l.loss.item<double>(), (l.terms[0].second + l.terms[1].second).item<double>(), 1e-3);
  // recon is per image: at least the BCE of the best constant guess is hundreds of nats for 784 pixels
  EXPECT_GT(l.terms[0].second.item<double>(), 100.0);
}

TEST_F(Vae, LossMatchesTheDefinitionGivenTheNoise) {
  auto m = std::dynamic_pointer_cast<VaeImpl>(make());
  auto x = torch::rand({4, 1, 28, 28});
  torch::manual_seed(9);
  LossTerms l = m->losses(0, x);
  torch::manual_seed(9);
  auto [mu, logvar] = m->encode(x);
  auto z = mu + torch::randn_like(mu) * (0.5 * logvar).exp();
  auto logits = m->decode_logits(z).reshape({4, -1});
  auto p = torch::sigmoid(logits).clamp(1e-7, 1 - 1e-7);
  auto xf = x.reshape({4, -1});
  double bce = -(xf * p.log() + (1 - xf) * (1 - p).log()).sum().item<double>() / 4;
  double kl = 0.5 * (mu.pow(2) + logvar.exp() - logvar - 1).sum().item<double>() / 4;
  EXPECT_NEAR(l.terms[0].second.item<double>(), bce, 1e-2);
  EXPECT_NEAR(l.terms[1].second.item<double>(), kl, 1e-4);
}

TEST_F(Vae, AStepChangesEveryWeightAndLowersTheLossOnAFixedBatch) {
  auto m = make();
  auto x = (torch::rand({16, 1, 28, 28}) > 0.7).to(torch::kFloat32);
  std::vector<torch::Tensor> before;
  for (auto& p : m->parameters()) before.push_back(p.detach().clone());
  torch::optim::Adam opt(m->phases()[0].parameters, torch::optim::AdamOptions(1e-2));
  double first = 0, last = 0;
  for (int i = 0; i < 30; ++i) {
    opt.zero_grad();
    torch::manual_seed(1);
    auto l = m->losses(0, x);
    l.loss.backward();
    for (auto& p : m->parameters()) ASSERT_TRUE(p.grad().defined());
    opt.step();
    (i == 0 ? first : last) = l.loss.item<double>();
  }
  auto params = m->parameters();
  for (size_t i = 0; i < params.size(); ++i) EXPECT_FALSE(torch::equal(params[i], before[i])) << "parameter " << i;
  EXPECT_LT(last, first * 0.9);
}

TEST_F(Vae, HandWrittenStepMatchesAutograd) {
  auto x = (torch::rand({6, 1, 28, 28}) > 0.6).to(torch::kFloat32);
  for (const char* variant : {"bce", "mse", "beta 0.3, elu, two layers", "noise"}) {
    TrainConfig c;
    c.hidden = {16};
    c.latent = 3;
    std::string v = variant;
    if (v == "mse") c.loss = "mse";
    if (v == "noise") c.noise = "gaussian:0.3";
    if (v.rfind("beta", 0) == 0) {
      c.set("beta", 0.3);
      c.activation = "elu";
      c.hidden = {12, 8};
    }
    auto m = std::dynamic_pointer_cast<VaeImpl>(ModelRegistry::create(c, ImageShape{1, 28, 28}));
    ASSERT_TRUE(m->fused_step_applies()) << variant;
    expect_fused_step_matches_autograd(m, x, variant);
    // back in float32, the buffers made for double are not reused
    auto l = m->losses_and_gradients(0, x);
    EXPECT_TRUE(std::isfinite(l.loss.item<double>())) << variant;
  }
}

TEST_F(Vae, HandWrittenStepOnlyWhereItApplies) {
  auto fused = [](TrainConfig c) {
    c.hidden = {8};
    c.latent = 2;
    return std::dynamic_pointer_cast<VaeImpl>(ModelRegistry::create(c, ImageShape{1, 28, 28}))->fused_step_applies();
  };
  TrainConfig c;
  EXPECT_TRUE(fused(c));
  c.set("posterior", "relu-sigma");
  EXPECT_FALSE(fused(c));
  c = {};
  c.dropout = 0.2;
  EXPECT_FALSE(fused(c));
  c = {};
  c.l1 = 0.1;
  EXPECT_FALSE(fused(c));
  c = {};
  c.arch = "conv";
  EXPECT_FALSE(fused(c));
  auto m = make();
  m->eval();
  EXPECT_FALSE(std::dynamic_pointer_cast<VaeImpl>(m)->fused_step_applies());
  // where it does not apply, losses_and_gradients is autograd's: gradients still arrive
  c = {};
  c.hidden = {8};
  c.latent = 2;
  c.set("posterior", "relu-sigma");
  auto r = ModelRegistry::create(c, ImageShape{1, 28, 28});
  r->losses_and_gradients(0, torch::rand({3, 1, 28, 28}));
  for (auto& p : r->parameters()) EXPECT_TRUE(p.grad().defined());
}

TEST_F(Vae, BetaWarmUpAndGaussianLikelihood) {
  TrainConfig c;
  c.hidden = {16};
  c.latent = 3;
  c.set("beta", 4);
  c.set("kl_warmup", 4);
  auto m = std::dynamic_pointer_cast<VaeImpl>(ModelRegistry::create(c, ImageShape{1, 28, 28}));
  m->set_epoch(1);
  EXPECT_DOUBLE_EQ(m->kl_weight(), 1.0);
  m->set_epoch(2);
  EXPECT_DOUBLE_EQ(m->kl_weight(), 2.0);
  m->set_epoch(9);
  EXPECT_DOUBLE_EQ(m->kl_weight(), 4.0);
  auto x = torch::rand({4, 1, 28, 28});
  auto l = m->losses(0, x);
  EXPECT_NEAR(l.loss.item<double>(), (l.terms[0].second + 4 * l.terms[1].second).item<double>(), 1e-3);
  // the test loss stays the negative ELBO, whatever beta is
  auto e = m->eval_losses(x);
  EXPECT_NEAR(e.loss.item<double>(), (e.terms[0].second + e.terms[1].second).item<double>(), 1e-3);
  EXPECT_EQ(e.terms[2].first, "mse");

  c.loss = "mse";
  c.set("beta", 1);
  c.set("kl_warmup", 0);
  auto g = std::dynamic_pointer_cast<VaeImpl>(ModelRegistry::create(c, ImageShape{1, 28, 28}));
  torch::manual_seed(5);
  auto lg = g->losses(0, x);
  torch::manual_seed(5);
  auto [mu, logvar] = g->encode(x);
  auto z = mu + torch::randn_like(mu) * (0.5 * logvar).exp();
  double sse = (torch::sigmoid(g->decode_logits(z)) - x).pow(2).sum().item<double>() / 4;
  EXPECT_NEAR(lg.terms[0].second.item<double>(), sse, 1e-3);
}

TEST_F(Vae, ModelFileRoundTrip) {
  TrainConfig c;
  c.hidden = {16};
  c.latent = 3;
  ImageShape shape{1, 28, 28};
  auto m = ModelRegistry::create(c, shape);
  auto bytes = save_model_bytes(c, shape, *m);
  write_bytes(path("model"), bytes);
  auto loaded = load_model_file(path("model"));
  EXPECT_EQ(loaded.config.latent, 3);
  EXPECT_EQ(loaded.config.hidden, std::vector<int64_t>{16});
  auto a = m->parameters(), b = loaded.model->parameters();
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(torch::equal(a[i], b[i]));
  auto z = torch::randn({2, 3});
  torch::NoGradGuard g;
  EXPECT_TRUE(torch::allclose(m->decode(z), loaded.model->decode(z)));
}

TEST_F(Vae, BadModelFilesAreRefused) {
  write_bytes(path("garbage"), "this is not a model");
  EXPECT_ERROR_WITH(load_model_file(path("garbage")), "cannot load");
  EXPECT_ERROR_WITH(load_model_file(path("absent")), "no such model file");
  TrainConfig c;
  c.model = "no-such-model";
  EXPECT_ERROR_WITH(ModelRegistry::create(c, ImageShape{}), "unknown model");
}

TEST_F(Vae, TanhOutputIsSeed002sVaeOnImagesScaledToPlusMinusOne) {
  TrainConfig c;
  c.model = "vae";
  c.hidden = {32};
  c.latent = 4;
  c.loss = "mse";
  c.set("output", "tanh");
  auto m = std::dynamic_pointer_cast<VaeImpl>(ModelRegistry::create(c, ImageShape{1, 28, 28}));
  ASSERT_TRUE(m);
  EXPECT_FALSE(m->fused_step_applies());
  auto x = torch::rand({6, 1, 28, 28});
  // the seed: Normalize([0.5], [0.5]) in, F.tanh(fc4(h3)) out, MSELoss(size_average=False) + KLD
  torch::manual_seed(3);
  auto l = m->losses(0, x);
  torch::manual_seed(3);
  auto xs = x * 2 - 1;
  auto h = m->codec.encode(xs).chunk(2, 1);
  auto z = h[0] + torch::randn_like(h[0]) * (0.5 * h[1]).exp();
  auto y = torch::tanh(m->decode_logits(z));
  auto sse = (y - xs).pow(2).sum() / 6.0;
  auto kld = -0.5 * (1 + h[1] - h[0].pow(2) - h[1].exp()).sum() / 6.0;
  EXPECT_NEAR(l.terms[0].second.item<double>(), sse.item<double>(), 1e-3);
  EXPECT_NEAR(l.loss.item<double>(), (sse + kld).item<double>(), 1e-3);
  // images leave the model in [0, 1]: the seed's to_img 0.5 * (x + 1)
  auto d = m->decode(torch::randn({5, 4}) * 3);
  EXPECT_GE(d.min().item<float>(), 0.0f);
  EXPECT_LE(d.max().item<float>(), 1.0f);
  EXPECT_TRUE(torch::allclose(m->decode(z), (y + 1) * 0.5));
  // the test "mse" is per pixel on the [0, 1] scale, comparable with a sigmoid VAE's
  auto e = m->eval_losses(x);
  for (auto& [name, t] : e.terms)
    if (name == "mse") EXPECT_LT(t.item<double>(), 1.0);
  c.loss = "bce";
  EXPECT_ERROR_WITH(ModelRegistry::create(c, ImageShape{1, 28, 28}), "--output tanh needs --loss mse");
}

TEST_F(Vae, LossReductionScalesTheGradientsNotTheReportedTerms) {
  EXPECT_DOUBLE_EQ(reduction_scale("image", "image", 128, 784), 1.0);
  EXPECT_DOUBLE_EQ(reduction_scale("sum", "image", 128, 784), 128.0);            // BCELoss(reduction='sum')
  EXPECT_DOUBLE_EQ(reduction_scale("mean", "image", 128, 784), 1.0 / 784.0);     // divided by batch x 784
  EXPECT_DOUBLE_EQ(reduction_scale("sum", "mean", 32, 784), 32.0 * 784.0);
  EXPECT_DOUBLE_EQ(reduction_scale("image", "mean", 32, 784), 784.0);
  TrainConfig c;
  c.model = "vae";
  c.loss_reduction = "sum";
  EXPECT_DOUBLE_EQ(ModelRegistry::create(c, ImageShape{1, 28, 28})->loss_scale(128), 128.0);
  c.model = "ae";
  c.loss_reduction = "";  // the ae's own: mean, as nn.MSELoss()
  EXPECT_DOUBLE_EQ(ModelRegistry::create(c, ImageShape{1, 28, 28})->loss_scale(32), 1.0);
  c.loss_reduction = "sum";
  EXPECT_DOUBLE_EQ(ModelRegistry::create(c, ImageShape{1, 28, 28})->loss_scale(32), 32.0 * 784.0);
}

}  // namespace latentlab::test
