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
