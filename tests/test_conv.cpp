// Convolutional encoder/decoder blocks and the conv variants of the AE and VAE.
#include "common.h"
#include "latentlab/models/ae.h"
#include "latentlab/models/vae.h"
#include "latentlab/train.h"

namespace latentlab::test {

class Conv : public Seeded {};

TEST_F(Conv, SizesHalveWhileEven) {
  EXPECT_EQ(conv_sizes(28), (std::vector<int64_t>{28, 14, 7}));
  EXPECT_EQ(conv_sizes(32), (std::vector<int64_t>{32, 16, 8, 4}));
  EXPECT_EQ(conv_sizes(96), (std::vector<int64_t>{96, 48, 24, 12, 6, 3}));
  EXPECT_EQ(conv_channels(32, 0), 32);
  EXPECT_EQ(conv_channels(32, 5), 256);
  EXPECT_THROW(conv_sizes(7), c10::Error);
}

TEST_F(Conv, EncoderAndDecoderShapesForEverySize) {
  for (auto [c, s] : std::vector<std::pair<int64_t, int64_t>>{{1, 28}, {3, 32}, {3, 64}, {3, 96}}) {
    ConvEncoder enc(ConvEncoderOptions(c, s, 10));
    ConvDecoder dec(ConvEncoderOptions(c, s, 10));
    auto x = torch::rand({2, c, s, s});
    auto h = enc->forward(x);
    EXPECT_EQ(h.sizes(), (std::vector<int64_t>{2, 10})) << s;
    EXPECT_EQ(dec->forward(h).sizes(), x.sizes()) << s;
    EXPECT_EQ(enc->convs.size(), conv_sizes(s).size() - 1);
  }
}

TEST_F(Conv, ConvAeAndVaeTrainAndRoundTrip) {
  for (const char* model : {"ae", "vae"}) {
    TrainConfig c;
    c.model = model;
    c.arch = "conv";
    c.latent = 8;
    ImageShape shape{1, 28, 28};
    auto m = ModelRegistry::create(c, shape);
    auto x = (torch::rand({8, 1, 28, 28}) > 0.7).to(torch::kFloat32);
    EXPECT_EQ(m->reconstruct(x).sizes(), x.sizes());
    EXPECT_EQ(m->code(x).sizes(), (std::vector<int64_t>{8, 8}));
    EXPECT_EQ(m->decode(torch::randn({3, 8})).sizes(), (std::vector<int64_t>{3, 1, 28, 28}));
    torch::optim::Adam opt(m->parameters(), torch::optim::AdamOptions(3e-3));
    double first = 0, last = 0;
    for (int i = 0; i < 25; ++i) {
      opt.zero_grad();
      torch::manual_seed(2);
      auto l = m->losses(0, x);
      l.loss.backward();
      opt.step();
      (i == 0 ? first : last) = l.loss.item<double>();
    }
    EXPECT_LT(last, first) << model;
    apply_model_defaults(c);
    write_bytes(path(model), save_model_bytes(c, shape, *m));
    auto loaded = load_model_file(path(model));
    m->eval();
    loaded.model->eval();
    torch::NoGradGuard g;
    EXPECT_TRUE(torch::allclose(m->reconstruct(x), loaded.model->reconstruct(x))) << model;
    EXPECT_ERROR_WITH(m->code_jacobian_sq(x), "--arch mlp");
  }
}

TEST_F(Conv, MismatchedSizesAndCombinationsAreRefused) {
  TrainConfig c;
  c.model = "ae";
  c.arch = "conv";
  EXPECT_ERROR_WITH(ModelRegistry::create(c, ImageShape{1, 28, 30}), "square images");
  EXPECT_ERROR_WITH(ModelRegistry::create(c, ImageShape{1, 5, 5}), "--arch conv needs");
  c.contractive = 0.1;
  EXPECT_ERROR_WITH(validate(c), "--contractive needs --arch mlp");
  c.contractive = 0;
  c.arch = "resnet";
  EXPECT_ERROR_WITH(validate(c), "--arch resnet");
}

}  // namespace latentlab::test
