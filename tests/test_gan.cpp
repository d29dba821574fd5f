// GANs: network shapes for every DCGAN size, the fast transposed convolution against
// nn::ConvTranspose2d, one D step lowering D's loss, discriminator-ranked generation, phases and
// resume equality of a GAN run.
#include "common.h"
#include "latentlab/eval.h"
#include "latentlab/models/gan.h"
#include "latentlab/nn.h"
#include "latentlab/optim.h"
#include "latentlab/train.h"

namespace latentlab::test {

class GanTest : public Seeded {
 protected:
  std::shared_ptr<GanImpl> make(ImageShape s, const std::string& model = "dcgan", const std::string& arch = "") {
    TrainConfig c;
    c.model = model;
    c.arch = arch;
    c.set("ngf", 8);
    c.set("ndf", 8);
    c.latent = 16;
    c.hidden = {32, 64};
    return std::dynamic_pointer_cast<GanImpl>(ModelRegistry::create(c, s));
  }
};

TEST_F(GanTest, DcganShapesForEverySize) {
  for (int64_t size : dcgan_sizes())
    for (int64_t ch : {1, 3}) {
      auto g = make(ImageShape{ch, size, size});
      auto z = g->sample_prior(3, torch::kFloat32);
      auto x = g->decode(z);
      EXPECT_EQ(x.sizes(), (std::vector<int64_t>{3, ch, size, size})) << size;
      EXPECT_GE(x.min().item<double>(), 0.0);
      EXPECT_LE(x.max().item<double>(), 1.0);
      EXPECT_EQ(g->critic_score(x).sizes(), (std::vector<int64_t>{3})) << size;
    }
  EXPECT_ERROR_WITH(make(ImageShape{3, 48, 48}), "28, 32, 64, 96");
  EXPECT_ERROR_WITH(make(ImageShape{3, 64, 32}), "square");
}

TEST_F(GanTest, TheSeedsNetGAndNetDAt96) {
  auto g = dcgan_generator(100, 3, 96, 64);
  auto d = dcgan_discriminator(3, 96, 64);
  // NetG: ConvTranspose 100->512 (4-1-0), 512->256, 256->128, 128->64 (4-2-1), 64->3 (5-3-1), no biases.
  std::vector<std::vector<int64_t>> g_shapes, d_shapes;
  for (auto& p : g->parameters())
    if (p.dim() == 4) g_shapes.push_back(p.sizes().vec());
  for (auto& p : d->parameters())
    if (p.dim() == 4) d_shapes.push_back(p.sizes().vec());
  EXPECT_EQ(g_shapes, (std::vector<std::vector<int64_t>>{
                          {100, 512, 4, 4}, {512, 256, 4, 4}, {256, 128, 4, 4}, {128, 64, 4, 4}, {64, 3, 5, 5}}));
  EXPECT_EQ(d_shapes, (std::vector<std::vector<int64_t>>{
                          {64, 3, 5, 5}, {128, 64, 4, 4}, {256, 128, 4, 4}, {512, 256, 4, 4}, {1, 512, 4, 4}}));
  EXPECT_EQ(d->forward(torch::randn({2, 3, 96, 96})).sizes(), (std::vector<int64_t>{2}));
}

TEST_F(GanTest, FastTransposedConvolutionMatchesTheNativeOne) {
  struct Case {
    int64_t in, out, k, s, p, hw;
  };
  for (Case c : {Case{5, 4, 4, 1, 0, 1}, Case{6, 3, 3, 2, 1, 4}, Case{4, 2, 4, 2, 1, 7}, Case{3, 2, 5, 3, 1, 5}})
    for (bool bias : {false, true}) {
    ConvTranspose2dFast fast(c.in, c.out, c.k, c.s, c.p, bias);
    torch::nn::ConvTranspose2d ref(torch::nn::ConvTranspose2dOptions(c.in, c.out, c.k).stride(c.s).padding(c.p).bias(bias));
    {
      torch::NoGradGuard g;
      ref->weight.copy_(fast->weight);
      if (bias) ref->bias.copy_(fast->bias);
    }
    auto x = torch::randn({2, c.in, c.hw, c.hw}, torch::requires_grad());
    auto x2 = x.detach().clone().requires_grad_();
    auto y = fast->forward(x), y2 = ref->forward(x2);
    ASSERT_EQ(y.sizes(), y2.sizes());
    EXPECT_TRUE(torch::allclose(y, y2, 1e-4, 1e-5));
    auto gy = torch::randn_like(y);
    y.backward(gy);
    y2.backward(gy);
    EXPECT_TRUE(torch::allclose(x.grad(), x2.grad(), 1e-4, 1e-5));
    EXPECT_TRUE(torch::allclose(fast->weight.grad(), ref->weight.grad(), 1e-4, 1e-4));
    if (bias) {
      EXPECT_TRUE(torch::allclose(fast->bias.grad(), ref->bias.grad(), 1e-4, 1e-4));
    }
    }
}

TEST_F(GanTest, MlpGanShapes) {
  auto g = make(ImageShape{1, 28, 28}, "gan", "mlp");
  EXPECT_EQ(g->decode(torch::randn({4, 16})).sizes(), (std::vector<int64_t>{4, 1, 28, 28}));
  EXPECT_EQ(g->critic_score(torch::rand({4, 1, 28, 28})).sizes(), (std::vector<int64_t>{4}));
  EXPECT_ERROR_WITH(make(ImageShape{1, 28, 28}, "dcgan", "mlp"), "--model gan");
}

TEST_F(GanTest, PhasesSplitTheNetworksAndFollowTheirPeriods) {
  TrainConfig c;
  c.model = "dcgan";
  c.set("d_every", 1);
  c.set("g_every", 5);
  auto m = ModelRegistry::create(c, ImageShape{1, 28, 28});
  auto g = std::dynamic_pointer_cast<GanImpl>(m);
  auto ph = m->phases();
  ASSERT_EQ(ph.size(), 2u);
  EXPECT_EQ(ph[0].name, "d");
  EXPECT_EQ(ph[1].name, "g");
  EXPECT_EQ(ph[0].every, 1);
  EXPECT_EQ(ph[1].every, 5);
  EXPECT_EQ(ph[0].parameters.size(), g->discriminator->parameters().size());
  EXPECT_EQ(ph[1].parameters.size(), g->generator->parameters().size());
}

TEST_F(GanTest, OneDiscriminatorStepLowersItsLossOnAFixedBatch) {
  auto g = make(ImageShape{1, 28, 28});
  auto x = torch::rand({16, 1, 28, 28});
  auto z = torch::randn({16, 16});
  auto d_loss = [&] {
    auto fake = g->generate(z).detach();
    return torch::softplus(-g->discriminate(x * 2 - 1)).mean() + torch::softplus(g->discriminate(fake)).mean();
  };
  FlatAdam opt(g->phases()[0].parameters, FlatAdamOptions(1e-3).beta1(0.5));
  auto before = d_loss();
  opt.zero_grad();
  before.backward();
  opt.step();
  EXPECT_LT(d_loss().item<double>(), before.item<double>());
  // the generator's weights did not move
  auto g_before = g->generator->parameters()[0].clone();
  EXPECT_TRUE(torch::equal(g_before, g->generator->parameters()[0]));
}

TEST_F(GanTest, GeneratorPhaseLeavesTheDiscriminatorsGradientsAlone) {
  auto g = make(ImageShape{1, 28, 28});
  auto x = torch::rand({8, 1, 28, 28});
  g->losses(0, x);  // draws the fakes the "g" phase reuses
  auto l = g->losses(1, x);
  l.loss.backward();
  for (auto& p : g->discriminator->parameters()) {
    EXPECT_FALSE(p.grad().defined() && p.grad().abs().sum().item<double>() > 0);
    EXPECT_TRUE(p.requires_grad());
  }
  double gsum = 0;
  for (auto& p : g->generator->parameters()) gsum += p.grad().abs().sum().item<double>();
  EXPECT_GT(gsum, 0);
}

TEST_F(GanTest, GenerateKeepsExactlyTheTopScoredSamples) {
  auto g = make(ImageShape{1, 28, 28});
  auto best = generate_images(*g, 5, 40, 0, 1, 9);
  ASSERT_EQ(best.images.size(0), 5);
  // recompute every score of the same 40 draws and compare with the kept ones
  auto all = generate_images(*g, 40, 0, 0, 1, 9);
  torch::NoGradGuard ng;
  auto scores = g->critic_score(all.images);
  auto sorted = std::get<0>(scores.sort(0, true));
  EXPECT_TRUE(torch::allclose(best.scores, sorted.slice(0, 0, 5), 1e-4, 1e-5));
  for (int64_t i = 0; i < 5; ++i)
    EXPECT_TRUE(torch::allclose(best.images[i], all.images[best.indices[i].item<int64_t>()]));
  EXPECT_ERROR_WITH(generate_images(*g, 5, 3, 0, 1, 0), "--search");
  TrainConfig v;
  auto vae = ModelRegistry::create(v, ImageShape{1, 28, 28});
  EXPECT_ERROR_WITH(generate_images(*vae, 5, 10, 0, 1, 0), "no discriminator");
  EXPECT_EQ(generate_images(*vae, 5, 0, 0, 1, 0).images.size(0), 5);
}

TEST_F(GanTest, ResumedGanRunEndsWithTheWeightsOfAnUninterruptedOne) {
  write_tiny_mnist(dir / "data", 192, 64);
  auto config = [&](const std::string& out, int64_t epochs) {
    TrainConfig c;
    c.model = "dcgan";
    c.data_dir = (dir / "data").string();
    c.epochs = epochs;
    c.batch_size = 32;
    c.set("ngf", 8);
    c.set("ndf", 8);
    c.latent = 16;
    c.set("g_every", 2);
    c.threads = 1;
    c.grid_images = 8;
    c.preview_every = 3;
    c.out = path(out);
    return c;
  };
  auto r = expect_resume_matches_uninterrupted(config("x", 2), dir, "dcgan", 2, 1, quiet()).result;
  for (const char* key : {"train_d", "train_g", "train_d_real", "train_d_fake", "test_loss", "test_d", "test_g", "test_d_real", "test_d_fake"})
    EXPECT_TRUE(r.metrics[1].contains(key)) << key;
  // like with like: test_loss sums the phases as train_loss does
  EXPECT_NEAR(r.metrics[1]["test_loss"].get<double>(),
              r.metrics[1]["test_d"].get<double>() + r.metrics[1]["test_g"].get<double>(), 1e-5);
  EXPECT_NEAR(r.metrics[1]["train_loss"].get<double>(),
              r.metrics[1]["train_d"].get<double>() + r.metrics[1]["train_g"].get<double>(), 1e-5);
  EXPECT_TRUE(fs::exists(dir / "dcgan-full" / "samples-latest.png"));
  EXPECT_TRUE(fs::exists(dir / "dcgan-full" / "samples-2.png"));
  EXPECT_FALSE(fs::exists(dir / "dcgan-full" / "reconstruction-1.png"));
}

TEST_F(GanTest, PhasesCarryTheirOwnLearningRates) {
  TrainConfig c;
  c.model = "dcgan";
  c.set("ngf", 8).set("ndf", 8);
  c.set("lr_g", 1e-3);
  c.set("lr_d", 4e-4);
  auto m = ModelRegistry::create(c, ImageShape{1, 28, 28});
  auto phases = m->phases();
  ASSERT_EQ(phases.size(), 2u);
  EXPECT_EQ(phases[0].name, "d");
  EXPECT_DOUBLE_EQ(phases[0].lr, 4e-4);
  EXPECT_DOUBLE_EQ(phases[1].lr, 1e-3);
  c.set("lr_g", 0).set("lr_d", 0);  // 0: the run's --lr
  auto plain = ModelRegistry::create(c, ImageShape{1, 28, 28})->phases();
  EXPECT_EQ(plain[0].lr, 0.0);
  EXPECT_EQ(plain[1].lr, 0.0);
}

TEST_F(GanTest, FreshNoiseDrawsNewCodesForTheGeneratorStep) {
  // the "g" phase after a "d" phase on the same batch: reused fakes draw nothing, fresh noise draws
  // a new batch of codes, so the generator's loss differs and the random stream moves on
  auto x = torch::rand({8, 1, 28, 28});
  auto g_loss = [&](bool fresh, torch::Tensor* next_draw) {
    TrainConfig c;
    c.model = "dcgan";
    c.set("ngf", 8).set("ndf", 8);
    c.latent = 16;
    c.set("g_fresh_noise", fresh);
    torch::manual_seed(5);
    auto m = ModelRegistry::create(c, ImageShape{1, 28, 28});
    torch::manual_seed(6);
    m->losses(0, x);
    double l = m->losses(1, x).loss.item<double>();
    *next_draw = torch::randn({1});
    return l;
  };
  torch::Tensor after_reuse, after_fresh;
  double reused = g_loss(false, &after_reuse), fresh = g_loss(true, &after_fresh);
  EXPECT_NE(reused, fresh);
  EXPECT_FALSE(torch::equal(after_reuse, after_fresh));
}

}  // namespace latentlab::test

namespace latentlab::test {

// --gan-loss: the objectives as defined, WGAN-GP's penalty through a double backward checked against
// finite differences, the settings refused where they mean nothing, and a resumed WGAN-GP run.
class GanLossTest : public Seeded {
 protected:
  std::shared_ptr<GanImpl> make(const std::string& loss, ImageShape s = {1, 4, 4}) {
    TrainConfig c;
    c.model = "gan";
    c.latent = 3;
    c.hidden = {5};
    c.set("gan_loss", loss);
    return std::dynamic_pointer_cast<GanImpl>(ModelRegistry::create(c, s));
  }
};

TEST_F(GanLossTest, TheObjectivesAreTheirDefinitions) {
  auto x = torch::rand({6, 1, 4, 4});
  for (const char* loss : {"bce", "hinge", "wgan-gp"}) {
    auto m = make(loss);
    torch::manual_seed(5);
    auto d = m->losses(0, x);
    torch::manual_seed(5);  // the same fakes and penalty draws, by hand
    auto real = m->discriminate(x * 2 - 1);
    auto fake_images = m->generate(m->sample_prior(6, x.options()));
    auto fake = m->discriminate(fake_images);
    torch::Tensor want;
    if (std::string(loss) == "bce") want = torch::softplus(-real).mean() + torch::softplus(fake).mean();
    if (std::string(loss) == "hinge") want = torch::relu(1 - real).mean() + torch::relu(1 + fake).mean();
    if (std::string(loss) == "wgan-gp") want = fake.mean() - real.mean() + 10 * m->gradient_penalty(x * 2 - 1, fake_images);
    EXPECT_NEAR(d.loss.item<double>(), want.item<double>(), 1e-6) << loss;
    auto g = m->losses(1, x);  // reuses the d phase's fakes
    auto g_want = std::string(loss) == "bce" ? torch::softplus(-fake).mean() : -fake.mean();
    EXPECT_NEAR(g.loss.item<double>(), g_want.item<double>(), 1e-6) << loss;
    bool has_gp = false;
    for (auto& [name, t] : d.terms) has_gp |= name == "gp";
    EXPECT_EQ(has_gp, std::string(loss) == "wgan-gp") << loss;
  }
}

TEST_F(GanLossTest, GradientPenaltyReachesTheCriticsWeightsAsFiniteDifferencesSay) {
  auto m = make("wgan-gp");
  m->to(torch::kFloat64);
  auto real = torch::rand({4, 1, 4, 4}, torch::kFloat64) * 2 - 1;
  auto fake = torch::rand({4, 1, 4, 4}, torch::kFloat64) * 2 - 1;
  auto penalty = [&] {
    torch::AutoGradMode on(true);  // the penalty needs a gradient, also inside the finite-difference loop
    torch::manual_seed(9);         // the same mixing weights e every time
    return m->gradient_penalty(real, fake);
  };
  auto d_params = m->discriminator->parameters();
  for (auto& p : d_params) p.mutable_grad() = torch::Tensor();
  auto gp = penalty();
  EXPECT_GT(gp.item<double>(), 0);
  gp.backward();
  for (auto& p : d_params) {
    // the last bias moves D but not its input gradient: autograd leaves its gradient undefined, 0
    auto grad = p.grad().defined() ? p.grad().clone() : torch::zeros_like(p);
    expect_gradient_matches_finite_differences(p, grad, [&] { return penalty().item<double>(); }, 1e-6, 1e-6, 0, "gp");
  }
  // the penalty itself: (||d D / d x_hat|| - 1)^2, the input gradient by finite differences too
  torch::manual_seed(9);
  auto e = torch::rand({4, 1, 1, 1}, torch::kFloat64);
  auto mixed = (e * real + (1 - e) * fake).detach();
  torch::NoGradGuard g;
  double sum = 0;
  for (int64_t i = 0; i < 4; ++i) {
    auto xi = mixed[i].unsqueeze(0).clone();
    auto flat = xi.view(-1);
    double norm2 = 0;
    for (int64_t k = 0; k < flat.numel(); ++k) {
      double old = flat[k].item<double>();
      flat[k] = old + 1e-6;
      double up = m->discriminate(xi).item<double>();
      flat[k] = old - 1e-6;
      double down = m->discriminate(xi).item<double>();
      flat[k] = old;
      norm2 += std::pow((up - down) / 2e-6, 2);
    }
    sum += std::pow(std::sqrt(norm2) - 1, 2);
  }
  EXPECT_NEAR(gp.item<double>(), sum / 4, 1e-6);
}

TEST_F(GanLossTest, SettingsAreCheckedBeforeAnythingIsBuilt) {
  TrainConfig c;
  c.model = "gan";
  EXPECT_ERROR_WITH(validate(TrainConfig(c).set("gan_loss", "lsgan")), "--gan-loss lsgan: choose bce, hinge or wgan-gp");
  EXPECT_ERROR_WITH(validate(TrainConfig(c).set("gp_weight", 5.0)), "--gp-weight applies to --gan-loss wgan-gp");
  EXPECT_ERROR_WITH(validate(TrainConfig(c).set("gan_loss", "wgan-gp").set("gp_weight", -1.0)), "--gp-weight must be a non-negative weight");
  EXPECT_NO_THROW(validate(TrainConfig(c).set("gan_loss", "wgan-gp").set("gp_weight", 5.0)));
  EXPECT_ERROR_WITH(check_settings_apply(TrainConfig().set("gan_loss", "hinge")), "--gan-loss does not apply to --model vae");
}

// --d-norm auto resolves, before config.json is written, to the normalisation each objective wants; a
// critic without batch norm scores each image on its own, which WGAN-GP's per-image penalty assumes.
TEST_F(GanLossTest, TheDiscriminatorsNormalisationFollowsTheObjective) {
  auto resolved = [](const std::string& model, std::vector<std::pair<std::string, nlohmann::json>> set) {
    TrainConfig c;
    c.model = model;
    for (auto& [k, v] : set) c.set_json(k, v);
    apply_model_defaults(c);
    validate(c);
    return c;
  };
  EXPECT_EQ(resolved("dcgan", {}).get<std::string>("d_norm"), "batch");
  EXPECT_EQ(resolved("dcgan", {{"gan_loss", "hinge"}}).get<std::string>("d_norm"), "batch");
  EXPECT_EQ(resolved("dcgan", {{"gan_loss", "wgan-gp"}}).get<std::string>("d_norm"), "layer");
  EXPECT_EQ(resolved("dcgan", {{"spectral_norm", true}}).get<std::string>("d_norm"), "batch");
  EXPECT_EQ(resolved("dcgan", {{"spectral_norm", true}, {"d_norm", "none"}}).get<std::string>("d_norm"), "none");
  EXPECT_EQ(resolved("dcgan", {{"gan_loss", "wgan-gp"}, {"d_norm", "batch"}}).get<std::string>("d_norm"), "batch");
  EXPECT_EQ(resolved("gan", {}).get<std::string>("d_norm"), "none");
  EXPECT_EQ(to_json(resolved("dcgan", {{"gan_loss", "wgan-gp"}}))["d_norm"], "layer") << "config.json records what ran";
  // an MLP D has nothing to normalise; other models have no D
  auto mlp = resolved("gan", {{"d_norm", "layer"}});
  EXPECT_ERROR_WITH(ModelRegistry::create(mlp, {1, 28, 28}), "--d-norm layer: the MLP discriminator has no normalisation layers");
  TrainConfig group;
  group.model = "dcgan";
  EXPECT_ERROR_WITH(validate(group.set("d_norm", "group")), "--d-norm group: choose auto, batch, layer or none");
  EXPECT_ERROR_WITH(check_settings_apply(TrainConfig().set("d_norm", "none")), "--d-norm does not apply to --model vae");

  auto x = torch::rand({4, 1, 28, 28}) * 2 - 1;
  for (std::string norm : {"batch", "layer", "none"}) {
    SCOPED_TRACE(norm);
    auto d = dcgan_discriminator(1, 28, 8, norm);
    int64_t batch_norms = 0, layer_norms = 0;
    for (auto& m : d->modules(false)) {
      batch_norms += m->as<torch::nn::BatchNorm2d>() != nullptr;
      layer_norms += m->as<torch::nn::GroupNorm>() != nullptr;
    }
    EXPECT_EQ(batch_norms, norm == "batch" ? 2 : 0);
    EXPECT_EQ(layer_norms, norm == "layer" ? 2 : 0);
    d->train();
    const double coupling = (d->forward(x).slice(0, 0, 1) - d->forward(x.slice(0, 0, 1))).abs().max().item<double>();
    if (norm == "batch")
      EXPECT_GT(coupling, 1e-4) << "in training, batch norm makes an image's score depend on the others";
    else
      EXPECT_LT(coupling, 1e-5) << "an image's score is its own";
  }
  // the layer-normalised critic trains: every weight of the d phase moves
  TrainConfig c = resolved("dcgan", {{"gan_loss", "wgan-gp"}, {"ngf", 8}, {"ndf", 8}});
  Model m = ModelRegistry::create(c, {1, 28, 28});
  auto params = m->phases()[0].parameters;
  std::vector<torch::Tensor> before;
  for (auto& t : params) before.push_back(t.detach().clone());
  torch::optim::Adam opt(params, torch::optim::AdamOptions(1e-2));
  m->losses_and_gradients(0, Batch(torch::rand({8, 1, 28, 28})));
  opt.step();
  for (size_t i = 0; i < params.size(); ++i) EXPECT_FALSE(torch::equal(before[i], params[i].detach())) << i;
}

TEST_F(GanLossTest, AResumedWganGpRunEndsWithTheUninterruptedOnesWeights) {
  write_tiny_mnist(dir / "data", 128, 32);
  TrainConfig c = tiny_dcgan(dir / "data");
  c.set("gan_loss", "wgan-gp").set("g_every", 2);
  auto r = expect_resume_matches_uninterrupted(c, dir, "wgan", 2, 1, quiet()).result;
  EXPECT_TRUE(r.metrics[1].contains("train_d_gp"));
  EXPECT_TRUE(std::isfinite(r.metrics[1]["train_d"].get<double>()));
}

}  // namespace latentlab::test

namespace latentlab::test {

class SpectralNormTest : public Seeded {};

TEST_F(SpectralNormTest, PowerIterationsFindEachLayersLargestSingularValue) {
  for (std::string model : {"gan", "dcgan"}) {
    TrainConfig c;
    c.model = model;
    c.latent = 8;
    if (model == "gan") c.hidden = {16, 32};
    c.set("ngf", 8).set("ndf", 8);
    c.set("spectral_norm", true);
    auto m = ModelRegistry::create(c, {1, 28, 28});
    auto& gan = dynamic_cast<GanImpl&>(*m);
    m->train();
    auto x = torch::rand({4, 1, 28, 28}) * 2 - 1;
    for (int i = 0; i < 300; ++i) gan.discriminate(x);
    int64_t layers = 0;
    for (const auto& mod : gan.discriminator->modules()) {
      torch::Tensor used;
      if (auto conv = mod->as<torch::nn::Conv2d>()) used = conv->weight;
      else if (auto lin = mod->as<torch::nn::Linear>()) used = lin->weight;
      else continue;
      ++layers;
      const torch::Tensor orig = *mod->named_parameters(false).find("weight");
      auto sv = std::get<1>(torch::linalg_svd(orig.detach().reshape({orig.size(0), -1}), false, c10::nullopt));
      // the weight the layer reads is the parameter divided by its largest singular value
      // (the power iteration's estimate approaches the largest singular value from below)
      EXPECT_NEAR(torch::linalg_matrix_norm(used.detach().reshape({used.size(0), -1}), 2).item<double>(), 1.0, 5e-3) << model;
      EXPECT_TRUE(torch::allclose(used.detach() * sv[0], orig.detach(), 5e-3, 1e-4)) << model;
      EXPECT_TRUE(mod->named_buffers(false).find("weight_u") != nullptr);
    }
    EXPECT_EQ(layers, model == "gan" ? 3 : 4);
    // the gradient reaches the unnormalised weights, and eval mode leaves the vectors alone
    auto params = m->phases()[0].parameters;
    gan.discriminate(x).sum().backward();
    for (auto& p : params) EXPECT_TRUE(p.grad().defined() && p.grad().abs().sum().item<double>() > 0) << model;
    m->eval();
    auto first_u = [&] {
      for (const auto& item : gan.discriminator->named_buffers())
        if (item.key().size() > 8 && item.key().substr(item.key().size() - 8) == "weight_u") return item.value();
      return torch::Tensor();
    };
    auto u = first_u().clone();
    torch::NoGradGuard g;
    auto a = gan.discriminate(x), b = gan.discriminate(x);
    EXPECT_TRUE(torch::equal(a, b));
    EXPECT_TRUE(torch::equal(u, first_u()));
  }
}

TEST_F(SpectralNormTest, ItsVectorsAreSavedAndAResumedRunMatchesAnUninterruptedOne) {
  write_tiny_mnist(dir / "data", 128, 32);
  TrainConfig c = tiny_dcgan(dir / "data");
  c.set("spectral_norm", true).set("gan_loss", "hinge");
  auto r = expect_resume_matches_uninterrupted(c, dir, "sn", 2, 1, quiet());
  auto loaded = load_run((dir / "sn-full").string());
  auto bufs = loaded.model->named_buffers();
  ASSERT_TRUE(bufs.find("discriminator.0.weight_u") != nullptr);
  EXPECT_TRUE(torch::equal(*bufs.find("discriminator.0.weight_u"), *r.model->named_buffers().find("discriminator.0.weight_u")));
  EXPECT_ERROR_WITH(check_settings_apply(TrainConfig().set("spectral_norm", true)), "--spectral-norm does not apply to --model vae");
}

}  // namespace latentlab::test
