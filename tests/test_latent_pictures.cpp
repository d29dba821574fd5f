// Pictures of the code space: slerp, interpolation between two images' codes, the 2-D manifold.
#include "common.h"
#include "latentlab/eval.h"
#include "latentlab/models/vae.h"

namespace latentlab::test {

class LatentPictures : public Seeded {
 protected:
  std::shared_ptr<VaeImpl> vae(int64_t latent = 4) {
    TrainConfig c;
    c.hidden = {16};
    c.latent = latent;
    return std::dynamic_pointer_cast<VaeImpl>(ModelRegistry::create(c, ImageShape{1, 28, 28}));
  }
};

TEST_F(LatentPictures, SlerpKeepsTheEndsAndTheNormOfEqualNormCodes) {
  auto a = torch::tensor({3.0, 0.0}), b = torch::tensor({0.0, 3.0});
  EXPECT_TRUE(torch::allclose(slerp(a, b, 0), a));
  EXPECT_TRUE(torch::allclose(slerp(a, b, 1), b));
  auto mid = slerp(a, b, 0.5);
  EXPECT_NEAR(mid.norm().item<double>(), 3.0, 1e-5);  // a straight line would give 2.12
  EXPECT_NEAR(mid[0].item<double>(), mid[1].item<double>(), 1e-6);
  auto c = torch::tensor({1.0, 1.0});
  EXPECT_TRUE(torch::allclose(slerp(c, 2 * c, 0.5), 1.5 * c));  // parallel: linear
}

TEST_F(LatentPictures, InterpolationRunsFromOneReconstructionToTheOther) {
  auto m = vae();
  auto x = torch::rand({2, 1, 28, 28});
  auto path = interpolate_images(*m, x[0], x[1], 5, true);
  ASSERT_EQ(path.sizes(), (std::vector<int64_t>{5, 1, 28, 28}));
  torch::NoGradGuard g;
  auto r = m->reconstruct(x);
  EXPECT_TRUE(torch::allclose(path[0], r[0], 1e-5, 1e-5));
  EXPECT_TRUE(torch::allclose(path[4], r[1], 1e-5, 1e-5));
  EXPECT_ERROR_WITH(interpolate_images(*m, x[0], x[1], 1, true), "--steps");
}

TEST_F(LatentPictures, ManifoldVariesTwoDimensionsOverNormalQuantiles) {
  auto m = vae(3);
  auto grid = latent_manifold(*m, 4, 0, 2);
  ASSERT_EQ(grid.sizes(), (std::vector<int64_t>{16, 1, 28, 28}));
  // the image at row r, column c decodes z = (q[c], 0, q[3 - r]) with q the normal quantiles of 1/8, 3/8, 5/8, 7/8
  double q0 = -1.1503493803760079, q3 = 1.1503493803760079;
  torch::NoGradGuard g;
  auto z = torch::tensor({{(float)q0, 0.0f, (float)q3}});
  EXPECT_TRUE(torch::allclose(grid[0], m->decode(z)[0], 1e-5, 1e-5));
  EXPECT_ERROR_WITH(latent_manifold(*m, 4, 0, 0), "--dims");
  EXPECT_ERROR_WITH(latent_manifold(*m, 4, 0, 3), "--dims");
}

}  // namespace latentlab::test
