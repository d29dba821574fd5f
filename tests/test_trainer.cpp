// The trainer on a tiny synthetic dataset: the loss falls, the run folder is complete, checkpoints
// round-trip, and a resumed run ends with the same weights as an uninterrupted one.
#include "common.h"
#include "latentlab/io.h"
#include "latentlab/train.h"

namespace latentlab::test {

class TrainerTest : public Seeded {
 protected:
  void SetUp() override {
    Seeded::SetUp();
    write_tiny_mnist(dir / "data", 512, 128);
  }
  TrainConfig config(const std::string& out, int64_t epochs) {
    TrainConfig c;
    c.data_dir = (dir / "data").string();
    c.epochs = epochs;
    c.batch_size = 64;
    c.hidden = {64};
    c.latent = 8;
    c.threads = 1;
    c.grid_images = 16;
    c.out = path(out);
    return c;
  }
  static std::vector<torch::Tensor> weights(const Model& m) {
    std::vector<torch::Tensor> w;
    for (auto& p : m->parameters()) w.push_back(p.detach().clone());
    return w;
  }
  std::FILE* quiet() { return log_ = std::fopen("/dev/null", "w"); }
  void TearDown() override {
    if (log_) std::fclose(log_);
    Seeded::TearDown();
  }
  std::FILE* log_ = nullptr;
};

TEST_F(TrainerTest, LossFallsAndTheRunFolderIsComplete) {
  Trainer t(config("run", 4), quiet());
  auto r = t.run();
  ASSERT_EQ(r.metrics.size(), 4u);
  for (const char* key : {"epoch", "train_loss", "test_loss", "train_recon", "train_kl", "test_recon", "test_kl",
                          "seconds", "images_per_s"})
    EXPECT_TRUE(r.metrics[0].contains(key)) << key;
  EXPECT_LT(r.metrics[3]["test_loss"].get<double>(), r.metrics[0]["test_loss"].get<double>() - 5);
  for (const char* f : {"config.json", "metrics.jsonl", "checkpoint", "model", "reconstruction-1.png", "samples-4.png"})
    EXPECT_TRUE(fs::exists(dir / "run" / f)) << f;
  // metrics.jsonl has one parseable object per epoch
  std::ifstream in(path("run/metrics.jsonl"));
  int lines = 0;
  for (std::string line; std::getline(in, line); ++lines)
    EXPECT_EQ(nlohmann::json::parse(line)["epoch"].get<int64_t>(), lines + 1);
  EXPECT_EQ(lines, 4);
  // the saved config reloads to the same settings
  auto c = load_config(path("run/config.json"));
  EXPECT_EQ(to_json(c), to_json(t.config()));
  // the model file holds the trained weights
  auto loaded = load_run(path("run"));
  auto a = weights(t.model()), b = weights(loaded.model);
  for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(torch::equal(a[i], b[i]));
}

TEST_F(TrainerTest, SameSeedSameWeightsOtherSeedOtherWeights) {
  Trainer a(config("a", 1), quiet()), b(config("b", 1), quiet());
  auto c_cfg = config("c", 1);
  c_cfg.seed = 1;
  Trainer c(c_cfg, quiet());
  a.run();
  b.run();
  c.run();
  auto wa = weights(a.model()), wb = weights(b.model()), wc = weights(c.model());
  for (size_t i = 0; i < wa.size(); ++i) EXPECT_TRUE(torch::equal(wa[i], wb[i]));
  EXPECT_FALSE(torch::equal(wa[0], wc[0]));
}

TEST_F(TrainerTest, ResumeEndsWithTheWeightsOfAnUninterruptedRun) {
  Trainer full(config("full", 3), quiet());
  full.run();
  Trainer first(config("part", 1), quiet());
  first.run();
  // continue the same folder to 3 epochs, as `latentlab train --resume part --epochs 3` does
  auto c = load_config(path("part/config.json"));
  c.epochs = 3;
  Trainer rest(c, quiet());
  auto r = rest.run(true);
  ASSERT_EQ(r.metrics.size(), 3u);
  auto a = weights(full.model()), b = weights(rest.model());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(torch::equal(a[i], b[i])) << "parameter " << i;
  EXPECT_DOUBLE_EQ(r.metrics[2]["test_loss"].get<double>(),
                   nlohmann::json::parse(read_file(path("full/metrics.jsonl")).substr(
                       read_file(path("full/metrics.jsonl")).rfind("{")))["test_loss"].get<double>());
}

TEST_F(TrainerTest, CheckpointRoundTripRestoresModelAndOptimizer) {
  Trainer t(config("ck", 1), quiet());
  t.run();
  auto loaded = load_model_file(path("ck/checkpoint"));
  auto a = weights(t.model()), b = weights(loaded.model);
  for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(torch::equal(a[i], b[i]));
  // no temporary files are left behind
  for (auto& e : fs::directory_iterator(dir / "ck")) EXPECT_NE(e.path().extension(), ".part") << e.path();
}

TEST_F(TrainerTest, RefusesToOverwriteARunAndToResumeNothing) {
  Trainer(config("x", 1), quiet()).run();
  EXPECT_ERROR_WITH(Trainer(config("x", 1), quiet()).run(), "already holds a run");
  EXPECT_ERROR_WITH(Trainer(config("empty", 1), quiet()).run(true), "no checkpoint");
}

TEST_F(TrainerTest, NoCudaGivesAClearError) {
  auto c = config("gpu", 1);
  c.device = "cuda";
  if (torch::cuda::is_available()) GTEST_SKIP() << "CUDA is available here (see CudaTrainsEndToEnd)";
  EXPECT_ERROR_WITH(Trainer(c, quiet()).run(), "no CUDA device");
  EXPECT_FALSE(fs::exists(dir / "gpu")) << "refused before any work";
}

TEST_F(TrainerTest, CudaTrainsEndToEnd) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  auto c = config("gpu", 3);
  c.device = "cuda";
  auto r = Trainer(c, quiet()).run();
  EXPECT_LT(r.metrics[2]["test_loss"].get<double>(), r.metrics[0]["test_loss"].get<double>());
  auto loaded = load_run(path("gpu"));
  EXPECT_EQ(loaded.model->decode(torch::randn({2, c.latent})).sizes(), (std::vector<int64_t>{2, 1, 28, 28}));
}

// A model registered by the test (the registry is open): a linear autoencoder whose loss turns NaN
// from epoch `nan_from` on, to check that a diverging run stops and keeps its last good checkpoint.
class DivergingImpl : public ModelImpl {
 public:
  DivergingImpl(int64_t pixels, int64_t nan_from) : nan_from_(nan_from) {
    lin = register_module("lin", torch::nn::Linear(pixels, pixels));
  }
  std::string kind() const override { return "diverging-test"; }
  std::vector<Phase> phases() override { return {{"all", parameters(), 1}}; }
  LossTerms losses(size_t, const torch::Tensor& x) override {
    auto l = (lin->forward(x.flatten(1)) - x.flatten(1)).pow(2).mean();
    return {epoch_ >= nan_from_ ? l * std::numeric_limits<double>::quiet_NaN() : l, {}};
  }
  LossTerms eval_losses(const torch::Tensor& x) override { return losses(0, x); }
  int64_t latent_dim() const override { return 2; }
  torch::Tensor decode(const torch::Tensor& z) override { return torch::zeros({z.size(0), 1, 28, 28}); }
  void set_epoch(int64_t e) override { epoch_ = e; }
  torch::nn::Linear lin{nullptr};

 private:
  int64_t nan_from_, epoch_ = 1;
};

TEST_F(TrainerTest, DivergingRunStopsWithAClearMessageAndKeepsItsLastGoodCheckpoint) {
  ModelRegistry::add("diverging-test", "test only", nlohmann::json::object(),
                     [](const TrainConfig&, const ImageShape& s) -> Model { return std::make_shared<DivergingImpl>(s.pixels(), 2); });
  auto c = config("div", 3);
  c.model = "diverging-test";
  EXPECT_ERROR_WITH(Trainer(c, quiet()).run(), "epoch 2: the training loss is not finite");
  // the checkpoint is epoch 1's, with finite weights, and metrics hold only epoch 1
  auto ck = load_model_file(path("div/checkpoint"));
  for (auto& p : ck.model->parameters()) EXPECT_TRUE(torch::isfinite(p).all().item<bool>());
  std::ifstream in(path("div/metrics.jsonl"));
  int lines = 0;
  for (std::string line; std::getline(in, line);) ++lines;
  EXPECT_EQ(lines, 1);
  EXPECT_FALSE(fs::exists(dir / "div" / "model")) << "no final model is presented as complete";
}

TEST_F(TrainerTest, InvalidSettingsAreRejectedBeforeAnyWork) {
  auto c = config("bad", 1);
  c.epochs = 0;
  EXPECT_ERROR_WITH(Trainer(c, quiet()), "--epochs");
  c = config("bad", 1);
  c.lr = -1;
  EXPECT_ERROR_WITH(Trainer(c, quiet()), "--lr");
  c = config("bad", 1);
  c.device = "tpu";
  EXPECT_ERROR_WITH(Trainer(c, quiet()), "--device tpu");
  c = config("bad", 1);
  c.model = "nope";
  EXPECT_ERROR_WITH(Trainer(c, quiet()), "unknown model");
  EXPECT_FALSE(fs::exists(dir / "bad"));
  EXPECT_ERROR_WITH(config_from_json(nlohmann::json{{"epochz", 3}}), "unknown setting 'epochz'");
  EXPECT_ERROR_WITH(config_from_json(nlohmann::json{{"epochs", "three"}}), "wrong type");
}

}  // namespace latentlab::test
