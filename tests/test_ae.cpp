// The MLP autoencoder with each regulariser: build, shapes, loss terms, a train step, save/load,
// sample/reconstruct, and invalid combinations.
#include "common.h"
#include "latentlab/models/ae.h"
#include "latentlab/train.h"

namespace latentlab::test {

class Ae : public Seeded {
 protected:
  TrainConfig cfg() {
    TrainConfig c;
    c.model = "ae";
    return c;
  }
  std::shared_ptr<AutoencoderImpl> make(const TrainConfig& c) {
    return std::dynamic_pointer_cast<AutoencoderImpl>(ModelRegistry::create(c, ImageShape{1, 28, 28}));
  }
  static std::vector<std::string> names(const LossTerms& l) {
    std::vector<std::string> n;
    for (auto& t : l.terms) n.push_back(t.first);
    return n;
  }
};

TEST_F(Ae, DefaultsAreTheSeedsSettings) {
  auto c = cfg();
  apply_model_defaults(c);
  EXPECT_EQ(c.batch_size, 32);
  EXPECT_EQ(c.hidden, (std::vector<int64_t>{256, 64}));
  EXPECT_EQ(c.loss, "mse");
  auto m = make(cfg());
  ASSERT_TRUE(m);
  ASSERT_EQ(m->codec.mlp_encoder->layers.size(), 3u);
  EXPECT_EQ(m->codec.mlp_encoder->layers[0]->weight.sizes(), (std::vector<int64_t>{256, 784}));
  EXPECT_EQ(m->codec.mlp_encoder->layers[2]->weight.sizes(), (std::vector<int64_t>{20, 64}));
  EXPECT_EQ(m->codec.mlp_decoder->layers[2]->weight.sizes(), (std::vector<int64_t>{784, 256}));
  // the VAE keeps its own defaults
  TrainConfig v;
  apply_model_defaults(v);
  EXPECT_EQ(v.batch_size, 128);
  EXPECT_EQ(v.hidden, std::vector<int64_t>{400});
}

TEST_F(Ae, ShapesCodeAndMseLikeTheSeed) {
  auto m = make(cfg());
  auto x = torch::rand({6, 1, 28, 28});
  auto code = m->encode(x);
  EXPECT_EQ(code.sizes(), (std::vector<int64_t>{6, 20}));
  EXPECT_GE(code.min().item<float>(), 0.0f) << "ReLU on the code, as in the seed";
  auto r = m->reconstruct(x);
  EXPECT_EQ(r.sizes(), x.sizes());
  EXPECT_EQ(m->decode(torch::rand({3, 20})).sizes(), (std::vector<int64_t>{3, 1, 28, 28}));
  auto l = m->losses(0, x);
  EXPECT_EQ(names(l), std::vector<std::string>{"mse"});
  EXPECT_NEAR(l.loss.item<double>(), torch::mse_loss(r, x).item<double>(), 1e-6);
}

TEST_F(Ae, EachRegulariserAddsItsTerm) {
  auto x = torch::rand({4, 1, 28, 28});
  auto c = cfg();
  c.l1 = 0.1;
  c.sparsity = "0.05:0.2";
  c.contractive = 0.01;
  auto m = make(c);
  auto l = m->losses(0, x);
  EXPECT_EQ(names(l), (std::vector<std::string>{"mse", "l1", "sparsity", "contractive"}));
  double expect = l.terms[0].second.item<double>() + 0.1 * l.terms[1].second.item<double>() +
                  0.2 * l.terms[2].second.item<double>() + 0.01 * l.terms[3].second.item<double>();
  EXPECT_NEAR(l.loss.item<double>(), expect, 1e-5);
  // the contractive term is the mean squared Jacobian norm of the code
  auto [out, j] = m->codec.mlp_encoder->forward_with_jacobian(x, 20, Activation::relu);
  EXPECT_NEAR(l.terms[3].second.item<double>(), j.mean().item<double>(), 1e-4);
  // evaluation measures what training does (the same terms on clean inputs), so test_loss and
  // train_loss compare like with like
  m->eval();
  auto e = m->eval_losses(x);
  EXPECT_EQ(names(e), (std::vector<std::string>{"mse", "l1", "sparsity", "contractive"}));
  double weighted = e.terms[0].second.item<double>() + 0.1 * e.terms[1].second.item<double>() +
                    0.2 * e.terms[2].second.item<double>() + 0.01 * e.terms[3].second.item<double>();
  EXPECT_NEAR(e.loss.item<double>(), weighted, 1e-5) << "the penalties are weighted terms of the loss";
}

TEST_F(Ae, DenoisingCorruptsTheInputButNotTheTarget) {
  auto x = (torch::rand({8, 1, 28, 28}) > 0.5).to(torch::kFloat32);
  auto c = cfg();
  c.noise = "masking:0.5";
  auto m = make(c);
  m->train();
  torch::manual_seed(3);
  double noisy = m->losses(0, x).loss.item<double>();
  torch::manual_seed(3);
  auto masked = x * (torch::rand_like(x) >= 0.5);
  double by_hand = torch::mse_loss(torch::sigmoid(m->decode_logits(m->encode(masked))).reshape_as(x), x).item<double>();
  EXPECT_NEAR(noisy, by_hand, 1e-6);
  m->eval();
  EXPECT_NEAR(m->losses(0, x).loss.item<double>(), torch::mse_loss(m->reconstruct(x), x).item<double>(), 1e-6);
}

TEST_F(Ae, HandWrittenStepMatchesAutograd) {
  auto x = (torch::rand({5, 1, 28, 28}) > 0.6).to(torch::kFloat32);
  for (const char* variant : {"mse", "bce", "tanh", "masking noise"}) {
    auto c = cfg();
    c.hidden = {12, 6};
    c.latent = 3;
    std::string v = variant;
    if (v == "bce") c.loss = "bce";
    if (v == "tanh") c.activation = "tanh";
    if (v == "masking noise") c.noise = "masking:0.3";
    auto m = make(c);
    ASSERT_TRUE(m->fused_step_applies()) << variant;
    expect_fused_step_matches_autograd(m, x, variant);
  }
  for (const char* off : {"l1", "dropout", "contractive"}) {
    auto c = cfg();
    if (std::string(off) == "l1") c.l1 = 0.1;
    if (std::string(off) == "dropout") c.dropout = 0.2;
    if (std::string(off) == "contractive") c.contractive = 0.1;
    EXPECT_FALSE(make(c)->fused_step_applies()) << off;
  }
}

TEST_F(Ae, TrainStepChangesEveryWeightAndLowersTheLoss) {
  for (const char* variant : {"plain", "bce", "regularised"}) {
    auto c = cfg();
    if (std::string(variant) == "bce") c.loss = "bce";
    if (std::string(variant) == "regularised") {
      c.l1 = 1e-3;
      c.contractive = 1e-3;
      c.noise = "gaussian:0.2";
    }
    auto m = make(c);
    auto x = (torch::rand({16, 1, 28, 28}) > 0.7).to(torch::kFloat32);
    std::vector<torch::Tensor> before;
    for (auto& p : m->parameters()) before.push_back(p.detach().clone());
    torch::optim::Adam opt(m->parameters(), torch::optim::AdamOptions(1e-2));
    double first = 0, last = 0;
    for (int i = 0; i < 40; ++i) {
      opt.zero_grad();
      torch::manual_seed(1);
      auto l = m->losses(0, x);
      l.loss.backward();
      opt.step();
      (i == 0 ? first : last) = m->eval_losses(x).loss.item<double>();
    }
    auto params = m->parameters();
    for (size_t i = 0; i < params.size(); ++i) EXPECT_FALSE(torch::equal(params[i], before[i])) << variant << " " << i;
    EXPECT_LT(last, first) << variant;
  }
}

TEST_F(Ae, ModelFileRoundTrip) {
  auto c = cfg();
  c.dropout = 0.2;
  apply_model_defaults(c);
  ImageShape shape{1, 28, 28};
  auto m = ModelRegistry::create(c, shape);
  write_bytes(path("model"), save_model_bytes(c, shape, *m));
  auto loaded = load_model_file(path("model"));
  EXPECT_EQ(loaded.model->kind(), "ae");
  EXPECT_DOUBLE_EQ(loaded.config.dropout, 0.2);
  auto x = torch::rand({2, 1, 28, 28});
  m->eval();
  loaded.model->eval();
  torch::NoGradGuard g;
  EXPECT_TRUE(torch::allclose(m->reconstruct(x), loaded.model->reconstruct(x)));
}

TEST_F(Ae, InvalidSettingsAreRejected) {
  auto c = cfg();
  c.contractive = 0.1;
  c.dropout = 0.2;
  EXPECT_ERROR_WITH(validate(c), "cannot be combined");
  c = cfg();
  c.l1 = -1;
  EXPECT_ERROR_WITH(validate(c), "--l1");
  c = cfg();
  c.loss = "hinge";
  EXPECT_ERROR_WITH(validate(c), "--loss hinge");
  c = cfg();
  c.activation = "swish";
  EXPECT_ERROR_WITH(validate(c), "--activation swish: unknown activation");
  c = cfg();
  c.dropout = 1;
  EXPECT_ERROR_WITH(validate(c), "--dropout");
  c = cfg();
  c.noise = "gaussian:x";
  EXPECT_ERROR_WITH(ModelRegistry::create(c, ImageShape{}), "--noise");
}

}  // namespace latentlab::test
