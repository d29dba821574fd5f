// The VAE's importance-weighted objective (--iw-k) and binarised training (--binarize): K = 1 is
// today's ELBO exactly, the bound tightens with K, the training loss is the negative bound and trains
// through autograd, the settings it cannot combine with are refused, and binarised runs see binary
// images and resume exactly.
#include "common.h"
#include "latentlab/data.h"
#include "latentlab/models/vae.h"
#include "paths.h"

namespace latentlab::test {

class Iwae : public Seeded {
 protected:
  TrainConfig config(int64_t k) {
    TrainConfig c;
    c.model = "vae";
    c.hidden = {32};
    c.latent = 4;
    if (k > 0) c.set("iw_k", k);
    return c;
  }
  std::shared_ptr<VaeImpl> make(int64_t k, uint64_t seed = 1) {
    torch::manual_seed(seed);
    return std::dynamic_pointer_cast<VaeImpl>(ModelRegistry::create(config(k), ImageShape{1, 28, 28}));
  }
};

TEST_F(Iwae, KOfOneIsTodaysElboExactly) {
  EXPECT_EQ(TrainConfig().get<int64_t>("iw_k"), 1);
  auto today = make(0), one = make(1);
  auto x = torch::rand({8, 1, 28, 28});
  for (auto* m : {today.get(), one.get()}) m->train();
  torch::manual_seed(2);
  auto a = today->losses(0, x);
  torch::manual_seed(2);
  auto b = one->losses(0, x);
  EXPECT_TRUE(torch::equal(a.loss, b.loss));
  ASSERT_EQ(b.terms.size(), 2u);
  EXPECT_EQ(b.terms[0].first, "recon");
  EXPECT_TRUE(torch::equal(b.loss, b.terms[0].second + b.terms[1].second));  // recon + closed-form KL
}

TEST_F(Iwae, TheBoundTightensWithKOnAFixedModel) {
  auto m = make(1);
  m->eval();
  torch::NoGradGuard g;
  auto x = torch::bernoulli(torch::rand({32, 1, 28, 28}) * 0.3);
  auto mean_bound = [&](int64_t k) {
    double sum = 0;
    for (int r = 0; r < 40; ++r) sum += m->iwae_bound(x, k).mean().item<double>();
    return sum / 40;
  };
  double b1 = mean_bound(1), b5 = mean_bound(5), b50 = mean_bound(50);
  EXPECT_LT(b1, b5);
  EXPECT_LT(b5, b50);
  // the one-sample bound is the ELBO: its mean matches the closed-form KL's within the noise
  auto elbo = -m->eval_losses(x).loss.item<double>();
  EXPECT_NEAR(b1, elbo, 0.01 * std::fabs(elbo)) << b1 << " " << elbo;
}

TEST_F(Iwae, TrainingLossIsTheNegativeBoundAndTrainsThroughAutograd) {
  auto m = make(5);
  m->train();
  auto x = torch::bernoulli(torch::rand({8, 1, 28, 28}) * 0.3);
  torch::manual_seed(3);
  auto l = m->losses(0, x);
  torch::manual_seed(3);
  auto bound = m->iwae_bound(x, 5).mean();
  EXPECT_TRUE(torch::equal(l.loss, -bound));
  ASSERT_EQ(l.terms.size(), 1u);
  EXPECT_EQ(l.terms[0].first, "iwae");
  EXPECT_FALSE(m->fused_step_applies());
  for (auto& p : m->parameters()) p.mutable_grad() = torch::Tensor();
  m->losses_and_gradients(0, x);
  for (const auto& item : m->named_parameters()) {
    const torch::Tensor& p = item.value();
    ASSERT_TRUE(p.grad().defined()) << item.key();
    EXPECT_GT(p.grad().abs().sum().item<double>(), 0) << item.key();
  }
  // the test loss is the same objective, with the ELBO's terms beside it
  m->eval();
  auto e = m->eval_losses(x);
  bool has_elbo = false;
  for (auto& [name, t] : e.terms) has_elbo |= name == "elbo_loss";
  EXPECT_TRUE(has_elbo);
  EXPECT_LE(e.loss.item<double>(), e.terms.back().second.item<double>() + 5.0);  // the bound is near or above the ELBO
}

TEST_F(Iwae, SettingsTheBoundDoesNotHaveAreRefusedBeforeAnythingIsBuilt) {
  EXPECT_ERROR_WITH(validate(config(0).set("iw_k", 0)), "--iw-k must be in [1, 5000]");
  EXPECT_ERROR_WITH(validate(config(5).set("beta", 2.0)), "--iw-k 5 trains on the importance-weighted bound");
  EXPECT_ERROR_WITH(validate(config(5).set("noise", "gaussian:0.1")), "leave out --beta, --kl-warmup, --noise");
  EXPECT_ERROR_WITH(validate(config(5).set("kl_warmup", 3)), "--iw-k 5");
  EXPECT_NO_THROW(validate(config(1).set("beta", 2.0)));
  EXPECT_ERROR_WITH(check_settings_apply(TrainConfig().set("model", "ae").set("iw_k", 5)),
                    "--iw-k does not apply to --model ae; it applies to vae");
  EXPECT_ERROR_WITH(validate(TrainConfig().set("binarize", "grey")), "--binarize grey: choose dynamic or static");
}

TEST_F(Iwae, BinarisedImagesAreADrawOfTheGreyLevels) {
  auto grey = torch::randint(0, 256, {200, 1, 28, 28}, torch::kInt64).to(torch::kUInt8);
  auto a = binarize_images(grey, 5), b = binarize_images(grey, 5), c = binarize_images(grey, 6);
  EXPECT_TRUE(torch::equal(a, b));
  EXPECT_FALSE(torch::equal(a, c));
  EXPECT_TRUE(((a == 0) | (a == 255)).all().item<bool>());
  EXPECT_FALSE((grey.eq(0) & a.ne(0)).any().item<bool>());  // black stays black, white white
  EXPECT_FALSE((grey.eq(255) & a.ne(255)).any().item<bool>());
  EXPECT_TRUE(binarize_images(torch::zeros({3, 4}, torch::kUInt8), 1).eq(0).all().item<bool>());
  EXPECT_TRUE(binarize_images(torch::full({3, 4}, 255, torch::kUInt8), 1).eq(255).all().item<bool>());
  double p = grey.to(torch::kFloat64).mean().item<double>() / 255, q = a.to(torch::kFloat64).mean().item<double>() / 255;
  EXPECT_NEAR(p, q, 0.01);
}

namespace {
// Counts the pixels other than 0 and 1 that training and test batches hold.
struct BinaryWatchImpl : ModelImpl {
  explicit BinaryWatchImpl(int64_t pixels) { lin = register_module("lin", torch::nn::Linear(pixels, 1)); }
  std::string kind() const override { return "binary-watch-test"; }
  std::vector<Phase> phases() override { return {{"w", parameters(), 1}}; }
  LossTerms losses(size_t, const Batch& b) override {
    train_grey += (b.images.ne(0) & b.images.ne(1)).sum().item<int64_t>();
    return {lin(b.images.flatten(1)).square().mean(), {}};
  }
  LossTerms eval_losses(const Batch& b) override {
    test_grey += (b.images.ne(0) & b.images.ne(1)).sum().item<int64_t>();
    return {lin(b.images.flatten(1)).square().mean(), {}};
  }
  int64_t latent_dim() const override { return 1; }
  torch::Tensor decode(const torch::Tensor& z) override { return torch::zeros({z.size(0), 1, 28, 28}); }
  torch::nn::Linear lin{nullptr};
  static inline int64_t train_grey = 0, test_grey = 0;
};
}  // namespace

TEST_F(Iwae, BinarisedRunsSeeBinaryImagesAndResumeExactly) {
  write_tiny_mnist(dir / "data", 256, 64);
  ModelRegistry::add({"binary-watch-test", "test only", [](const TrainConfig&, const ImageShape& s) -> Model {
                        return std::make_shared<BinaryWatchImpl>(s.pixels());
                      }});
  TrainConfig c;
  c.data_dir = (dir / "data").string();
  c.threads = 1;
  c.grid_images = 4;
  c.batch_size = 64;
  c.epochs = 1;
  c.model = "binary-watch-test";
  for (const char* mode : {"", "dynamic", "static"}) {
    BinaryWatchImpl::train_grey = BinaryWatchImpl::test_grey = 0;
    c.binarize = mode;
    c.out = path(std::string("watch-") + (*mode ? mode : "off"));
    Trainer(c, quiet()).run();
    if (*mode) {
      EXPECT_EQ(BinaryWatchImpl::train_grey, 0) << mode;
      EXPECT_EQ(BinaryWatchImpl::test_grey, 0) << mode;
    } else {
      EXPECT_GT(BinaryWatchImpl::train_grey, 0);  // the tiny dataset has grey levels
    }
  }
  // a VAE on the bound with dynamic binarisation: a resumed run ends with the uninterrupted one's weights
  TrainConfig v = config(3);
  v.data_dir = c.data_dir;
  v.threads = 1;
  v.grid_images = 4;
  v.batch_size = 64;
  v.binarize = "dynamic";
  expect_resume_matches_uninterrupted(v, dir, "iwae", 2, 1, quiet());
}

}  // namespace latentlab::test
