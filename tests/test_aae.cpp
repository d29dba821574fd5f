// The adversarial autoencoder: shapes, its three phases (the encoder shared by two of them), the
// mixture prior, a training run whose optimisers share parameters, and save/load.
#include "common.h"
#include "latentlab/models/aae.h"
#include "latentlab/optim.h"
#include "latentlab/train.h"

namespace latentlab::test {

class AaeTest : public Seeded {
 protected:
  std::shared_ptr<AaeImpl> make(const std::string& prior = "gaussian") {
    TrainConfig c;
    c.model = "aae";
    c.hidden = {32};
    c.latent = 4;
    c.set("prior", prior);
    return std::dynamic_pointer_cast<AaeImpl>(ModelRegistry::create(c, ImageShape{1, 28, 28}));
  }
};

TEST_F(AaeTest, ShapesAndPhases) {
  auto m = make();
  auto x = torch::rand({6, 1, 28, 28});
  EXPECT_EQ(m->code(x).sizes(), (std::vector<int64_t>{6, 4}));
  EXPECT_EQ(m->reconstruct(x).sizes(), x.sizes());
  EXPECT_EQ(m->decode(m->sample_prior(3, torch::kFloat32)).sizes(), (std::vector<int64_t>{3, 1, 28, 28}));
  auto ph = m->phases();
  ASSERT_EQ(ph.size(), 3u);
  EXPECT_EQ(ph[0].name, "recon");
  EXPECT_EQ(ph[1].name, "disc");
  EXPECT_EQ(ph[2].name, "gen");
  // recon: encoder + decoder; disc: discriminator; gen: the encoder alone
  EXPECT_EQ(ph[1].parameters.size(), m->discriminator->parameters().size());
  EXPECT_EQ(ph[0].parameters.size() + ph[1].parameters.size(), m->parameters().size());
  EXPECT_EQ(ph[2].parameters.size(), ph[0].parameters.size() / 2);
  for (size_t p = 0; p < 3; ++p) EXPECT_TRUE(std::isfinite(m->losses(p, x).loss.item<double>()));
}

TEST_F(AaeTest, MixturePriorHasTenModesOnACircle) {
  torch::manual_seed(3);
  auto z = sample_mixture_prior(20000, 4, torch::kFloat32);
  auto r = z.narrow(1, 0, 2).norm(2, 1);
  EXPECT_NEAR(r.mean().item<double>(), 4.0, 0.1);
  EXPECT_NEAR(z.narrow(1, 2, 2).std().item<double>(), 1.0, 0.05);
  auto angle = torch::atan2(z.select(1, 1), z.select(1, 0));
  auto sector = ((angle / (2 * M_PI / 10)).round().remainder(10)).to(torch::kInt64);
  auto counts = torch::bincount(sector, {}, 10).to(torch::kFloat64) / 20000.0;
  EXPECT_LT((counts - 0.1).abs().max().item<double>(), 0.02);
  EXPECT_GT(make("mixture")->sample_prior(5, torch::kFloat32).narrow(1, 0, 2).norm(2, 1).min().item<double>(), 1.0);
}

TEST_F(AaeTest, SharedEncoderOptimisersBothMoveTheWeights) {
  auto m = make();
  auto ph = m->phases();
  FlatAdam recon(ph[0].parameters, FlatAdamOptions(1e-2));
  FlatAdam gen(ph[2].parameters, FlatAdamOptions(1e-2).alias(false));
  auto x = torch::rand({8, 1, 28, 28});
  auto enc0 = ph[2].parameters[0].detach().clone();
  recon.zero_grad();
  m->losses(0, x).loss.backward();
  recon.step();
  auto enc1 = ph[2].parameters[0].detach().clone();
  EXPECT_FALSE(torch::equal(enc0, enc1)) << "the reconstruction step moves the encoder";
  gen.zero_grad();
  m->losses(2, x).loss.backward();
  gen.step();
  EXPECT_FALSE(torch::equal(enc1, ph[2].parameters[0].detach())) << "the generator step moves it again";
  // and the first optimiser still sees the current weights (its buffer is the parameters' storage)
  EXPECT_TRUE(torch::equal(recon.flat_params().slice(0, 0, enc0.numel()).view(enc0.sizes()), ph[2].parameters[0].detach()));
}

TEST_F(AaeTest, TrainsResumesAndReloads) {
  write_tiny_mnist(dir / "data", 256, 64);
  auto config = [&](const std::string& out, int64_t epochs) {
    TrainConfig c;
    c.model = "aae";
    c.data_dir = (dir / "data").string();
    c.epochs = epochs;
    c.batch_size = 32;
    c.hidden = {32};
    c.latent = 4;
    c.threads = 1;
    c.grid_images = 8;
    c.out = path(out);
    return c;
  };
  auto [r, model] = expect_resume_matches_uninterrupted(config("x", 2), dir, "aae", 2, 1, quiet());
  for (const char* key : {"train_recon", "train_disc", "train_gen", "test_loss", "test_mse", "test_recon", "test_disc", "test_gen"})
    EXPECT_TRUE(r.metrics[1].contains(key)) << key;
  EXPECT_LT(r.metrics[1]["train_recon"].get<double>(), r.metrics[0]["train_recon"].get<double>());
  // the model file reconstructs as the model that wrote it
  auto loaded = load_run(path("aae-full"));
  auto x = torch::rand({2, 1, 28, 28});
  torch::NoGradGuard g;
  model->eval();
  EXPECT_TRUE(torch::allclose(loaded.model->reconstruct(x), model->reconstruct(x)));
}

}  // namespace latentlab::test
