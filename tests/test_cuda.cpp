// Every model family on a CUDA device (MLP VAE, AE, conv VAE, MLP GAN, DCGAN, AAE): a few steps each,
// weights finite and changed, the run's files loaded back onto the GPU, and a resume that continues
// where the run stopped. Skipped where LibTorch sees no CUDA device (scripts/gpu-check.sh runs them).
#include "common.h"
#include "latentlab/eval.h"
#include "latentlab/train.h"

namespace latentlab::test {

struct CudaCase {
  const char* name;
  const char* model;
  const char* arch;
};

inline void PrintTo(const CudaCase& c, std::ostream* os) { *os << c.name; }

class CudaModels : public Seeded, public ::testing::WithParamInterface<CudaCase> {
 protected:
  void SetUp() override {
    Seeded::SetUp();
    if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
    write_tiny_mnist(dir / "data", 256, 64);
  }
  TrainConfig config(const std::string& out, int64_t epochs) {
    TrainConfig c;
    c.model = GetParam().model;
    c.arch = GetParam().arch;
    c.data_dir = (dir / "data").string();
    c.epochs = epochs;
    c.batch_size = 64;
    c.device = "cuda";
    c.threads = 1;
    c.grid_images = 16;
    c.preview_every = 0;
    c.keep_checkpoints = -1;
    c.out = path(out);
    return c;
  }
};

TEST_P(CudaModels, TrainsSavesLoadsAndResumesOnTheGpu) {
  Trainer full(config("full", 2), quiet());
  auto r = full.run();
  ASSERT_EQ(r.metrics.size(), 2u);
  EXPECT_TRUE(model_device(*full.model()).is_cuda()) << "the model trained on the GPU";
  // weights finite and changed by the second epoch
  auto e1 = load_run(path("full"), 1), e2 = load_run(path("full"), 2);
  auto w1 = weights(e1.model), w2 = weights(e2.model);
  bool changed = false;
  for (size_t i = 0; i < w1.size(); ++i) {
    EXPECT_TRUE(torch::isfinite(w2[i]).all().item<bool>()) << "parameter " << i;
    changed |= !torch::equal(w1[i], w2[i]);
  }
  EXPECT_TRUE(changed) << "the second epoch changed no weight";
  // the final model, loaded and moved to the GPU, decodes as the CPU copy does
  auto loaded = load_run(path("full"));
  torch::NoGradGuard no_grad;
  loaded.model->eval();
  auto z = loaded.model->sample_prior(4, torch::kFloat32);
  auto cpu = loaded.model->decode(z);
  loaded.model->to(torch::kCUDA);
  auto gpu = loaded.model->decode(z.to(torch::kCUDA)).to(torch::kCPU);
  EXPECT_EQ(gpu.sizes(), cpu.sizes());
  EXPECT_TRUE(torch::allclose(gpu, cpu, 1e-4, 1e-4)) << "max difference " << (gpu - cpu).abs().max().item<double>();
  // one epoch, then resumed to two: the weights of the uninterrupted run (to cuDNN's nondeterminism)
  expect_resume_matches_uninterrupted(config("resume", 2), dir, "resume", 2, 1, quiet(), 1e-3);
}

INSTANTIATE_TEST_SUITE_P(EveryFamily, CudaModels,
                         ::testing::Values(CudaCase{"MlpVae", "vae", "mlp"}, CudaCase{"Ae", "ae", "mlp"}, CudaCase{"ConvVae", "vae", "conv"},
                                           CudaCase{"MlpGan", "gan", "mlp"}, CudaCase{"Dcgan", "dcgan", "conv"},
                                           CudaCase{"Aae", "aae", "mlp"}),
                         [](const ::testing::TestParamInfo<CudaCase>& i) { return std::string(i.param.name); });

}  // namespace latentlab::test
