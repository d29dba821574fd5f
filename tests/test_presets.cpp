// Presets reproduce the seeds' settings and build the seeds' networks.
#include "common.h"
#include "latentlab/losses.h"
#include "latentlab/models/vae.h"
#include "latentlab/models/ae.h"
#include "latentlab/presets.h"

namespace latentlab::test {

class Presets : public Seeded {};

TEST_F(Presets, TensorFlowSeedAutoencoder) {
  auto c = config_from_json(preset("ae-tf"));
  validate(c);
  EXPECT_EQ(c.batch_size, 128);
  EXPECT_EQ(c.activation, "leaky_relu");
  auto m = std::dynamic_pointer_cast<AutoencoderImpl>(ModelRegistry::create(c, ImageShape{1, 28, 28}));
  ASSERT_TRUE(m);
  const auto& enc = m->codec.mlp_encoder->layers;
  ASSERT_EQ(enc.size(), 3u);
  EXPECT_EQ(enc[0]->weight.sizes(), (std::vector<int64_t>{256, 784}));
  EXPECT_EQ(enc[1]->weight.sizes(), (std::vector<int64_t>{128, 256}));
  EXPECT_EQ(enc[2]->weight.sizes(), (std::vector<int64_t>{64, 128}));
  // leaky ReLU on the code, as tf.layers.dense(..., activation=tf.nn.leaky_relu)
  auto code = m->encode(torch::rand({64, 1, 28, 28}));
  EXPECT_LT(code.min().item<float>(), 0.0f);
}

TEST_F(Presets, EveryPresetIsValidAndUnknownNamesAreListed) {
  for (const auto& [name, summary] : presets()) {
    auto c = config_from_json(preset(name), {}, name);
    ImageShape shape{1, 28, 28};
    if (c.image_size) {  // an image-folder preset
      c.dataset = "folder:/some/images";
      shape = {c.channels, c.image_size, c.image_size};
    }
    EXPECT_NO_THROW(validate(c)) << name;
    EXPECT_NO_THROW(ModelRegistry::create(c, shape)) << name;
  }
  EXPECT_ERROR_WITH(preset("ae-keras"), "choose one of ae-seed, ae-tf, dcgan-seed, vae-seed, vae-sigma-seed");
}

TEST_F(Presets, FirstSeedsVaeSplitsAnActivatedCodeIntoMeanAndSigma) {
  auto c = config_from_json(preset("vae-sigma-seed"), {}, "vae-sigma-seed");
  auto m = std::dynamic_pointer_cast<VaeImpl>(ModelRegistry::create(c, ImageShape{1, 28, 28}));
  ASSERT_TRUE(m);
  EXPECT_EQ(m->latent_dim(), 10);
  auto x = torch::rand({16, 1, 28, 28});
  auto [mu, logvar] = m->encode(x);
  EXPECT_EQ(mu.sizes(), (std::vector<int64_t>{16, 10}));
  // ReLU on the encoder's output: mean and sigma are non-negative; log-variance is log(1e-8 + sigma^2)
  EXPECT_GE(mu.min().item<float>(), 0.0f);
  auto h = torch::relu(m->codec.encode(x)).chunk(2, 1)[1];
  EXPECT_TRUE(torch::allclose(logvar, (h * h + 1e-8).log()));
  // the seed's KL: 0.5 * sum(mu^2 + sigma^2 - log(1e-8 + sigma^2) - 1)
  auto kl_seed = 0.5 * (mu.pow(2) + h.pow(2) - (1e-8 + h.pow(2)).log() - 1).sum(1);
  EXPECT_TRUE(torch::allclose(kl_std_normal_per_image(mu, logvar), kl_seed, 1e-4, 1e-3));
}

}  // namespace latentlab::test
