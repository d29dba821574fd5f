// Weight initialisation schemes (--init): PyTorch's default, the DCGAN paper's and Glorot's, checked
// by the statistics each one fixes.
#include <cmath>

#include "common.h"
#include "latentlab/nn.h"

namespace latentlab::test {

class InitTest : public Seeded {
 protected:
  Model dcgan(const std::string& init) {
    TrainConfig c;
    c.model = "dcgan";
    c.set("ngf", 16).set("ndf", 16);
    c.init = init;
    return ModelRegistry::create(c, ImageShape{3, 96, 96});  // the anime seed's NetG/NetD
  }
  static double fan_in(const torch::Tensor& w) { return static_cast<double>(w.size(1) * (w.dim() > 2 ? w[0][0].numel() : 1)); }
  static double fan_out(const torch::Tensor& w) { return static_cast<double>(w.size(0) * (w.dim() > 2 ? w[0][0].numel() : 1)); }
};

TEST_F(InitTest, DefaultIsPyTorchsKaimingUniformWithItsFanIn) {
  // nn.Conv2d / nn.ConvTranspose2d reset_parameters(): kaiming_uniform_(a=sqrt(5)), i.e. U(-b, b) with
  // b = 1 / sqrt(fan_in), fan_in = weight.size(1) x kernel area (out channels for a transposed conv)
  auto m = dcgan("default");
  int checked = 0;
  for (auto& item : m->named_parameters()) {
    const std::string& name = item.key();
    const torch::Tensor& w = item.value();
    if (w.dim() == 4) {
      const double b = 1.0 / std::sqrt(fan_in(w));
      EXPECT_LE(w.abs().max().item<double>(), b) << name;
      EXPECT_NEAR(w.std().item<double>(), b / std::sqrt(3.0), 0.1 * b / std::sqrt(3.0)) << name;
      ++checked;
    } else if (w.dim() == 1 && name.find("weight") != std::string::npos) {
      EXPECT_TRUE(torch::equal(w, torch::ones_like(w))) << name << ": batch-norm scale 1";
    }
  }
  EXPECT_EQ(checked, 10);  // 5 transposed convolutions in NetG, 5 convolutions in NetD
}

TEST_F(InitTest, DcganIsNormalWithStd002AndGlorotIsUniformWithZeroBiases) {
  for (auto& item : dcgan("dcgan")->named_parameters()) {
    const std::string& name = item.key();
    const torch::Tensor& w = item.value();
    if (w.dim() == 4) {
      EXPECT_NEAR(w.std().item<double>(), 0.02, 0.002) << name;
    } else if (name.find("bias") != std::string::npos) {
      EXPECT_EQ(w.abs().max().item<double>(), 0.0) << name;
    } else if (w.dim() == 1) {
      EXPECT_NEAR(w.mean().item<double>(), 1.0, 0.01) << name;
    }
  }
  TrainConfig c;
  c.model = "ae";
  c.init = "glorot";  // tf.layers.dense: glorot_uniform kernel, zeros bias
  auto ae = ModelRegistry::create(c, ImageShape{1, 28, 28});
  int checked = 0;
  for (auto& item : ae->named_parameters()) {
    const std::string& name = item.key();
    const torch::Tensor& w = item.value();
    if (w.dim() == 2) {
      const double b = std::sqrt(6.0 / (fan_in(w) + fan_out(w)));
      EXPECT_LE(w.abs().max().item<double>(), b) << name;
      EXPECT_GT(w.abs().max().item<double>(), 0.95 * b) << name;
      ++checked;
    } else {
      EXPECT_EQ(w.abs().max().item<double>(), 0.0) << name;
    }
  }
  EXPECT_EQ(checked, 6);
}

TEST_F(InitTest, TheSameSeedGivesTheSameWeightsAndAnUnknownSchemeIsRefused) {
  torch::manual_seed(9);
  auto a = dcgan("dcgan")->parameters();
  torch::manual_seed(9);
  auto b = dcgan("dcgan")->parameters();
  for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(torch::equal(a[i], b[i]));
  TrainConfig c;
  c.init = "he";
  EXPECT_ERROR_WITH(validate(c), "--init he: choose default, dcgan or glorot");
}

}  // namespace latentlab::test
