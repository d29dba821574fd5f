// Presets reproduce the seeds' settings and build the seeds' networks.
#include "common.h"
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
    EXPECT_NO_THROW(validate(c)) << name;
    EXPECT_NO_THROW(ModelRegistry::create(c, ImageShape{1, 28, 28})) << name;
  }
  EXPECT_ERROR_WITH(preset("ae-keras"), "choose one of ae-seed, ae-tf, vae-seed");
}

}  // namespace latentlab::test
