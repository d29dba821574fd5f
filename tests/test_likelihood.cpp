// The importance-weighted log-likelihood: the bound is tighter than the ELBO, equals it at k = 1,
// and converges to log p(x) computed by quadrature for a VAE with a one-dimensional code.
#include "common.h"
#include "latentlab/eval.h"
#include "latentlab/models/vae.h"

namespace latentlab::test {

class LikelihoodTest : public Seeded {
 protected:
  std::shared_ptr<VaeImpl> make(int64_t latent, const std::string& loss = "bce") {
    TrainConfig c;
    c.hidden = {16};
    c.latent = latent;
    c.loss = loss;
    return std::dynamic_pointer_cast<VaeImpl>(ModelRegistry::create(c, ImageShape{1, 28, 28}));
  }
  Dataset tiny(int64_t n) {
    Dataset d;
    d.name = "tiny";
    d.images = torch::randint(0, 256, {n, 1, 28, 28}, torch::kInt64).to(torch::kUInt8);
    d.labels = torch::zeros({n}, torch::kInt64);
    return d;
  }
};

TEST_F(LikelihoodTest, MatchesQuadratureForAOneDimensionalCode) {
  auto m = make(1);
  m->eval();
  auto d = tiny(3);
  LikelihoodOptions o;
  o.samples = 20000;
  o.chunk = 5000;
  auto j = evaluate_likelihood(*m, d, o);
  // log p(x) = log integral p(x | z) N(z; 0, 1) dz on a fine grid
  torch::NoGradGuard g;
  auto z = torch::linspace(-10, 10, 8001).unsqueeze(1);
  double dz = 20.0 / 8000, total = 0;
  auto x = to_float(d.images);
  for (int64_t i = 0; i < 3; ++i) {
    auto logits = m->decode_logits(z);
    auto xi = x[i].unsqueeze(0).expand({z.size(0), 1, 28, 28});
    auto log_px_z = -torch::binary_cross_entropy_with_logits(logits, xi, {}, {}, at::Reduction::None).flatten(1).sum(1);
    auto log_joint = log_px_z - 0.5 * z.squeeze(1).pow(2) - 0.5 * std::log(2 * M_PI);
    total += (torch::logsumexp(log_joint.to(torch::kFloat64), 0) + std::log(dz)).item<double>();
  }
  EXPECT_NEAR(j["log_likelihood"].get<double>(), total / 3, 0.05);
  EXPECT_LE(j["elbo"].get<double>(), j["log_likelihood"].get<double>());
}

TEST_F(LikelihoodTest, TighterThanTheElboAndEqualAtOneSample) {
  auto m = make(4);
  auto d = tiny(20);
  LikelihoodOptions o;
  o.samples = 1;
  auto one = evaluate_likelihood(*m, d, o);
  EXPECT_DOUBLE_EQ(one["elbo"].get<double>(), one["log_likelihood"].get<double>());
  o.samples = 200;
  o.chunk = 1000;  // forces several images per pass and checks batching
  auto many = evaluate_likelihood(*m, d, o);
  EXPECT_GT(many["log_likelihood"].get<double>(), many["elbo"].get<double>());
  o.chunk = 50;  // sample chunks smaller than k
  auto chunked = evaluate_likelihood(*m, d, o);
  EXPECT_NEAR(chunked["log_likelihood"].get<double>(), many["log_likelihood"].get<double>(), 1.0);
  EXPECT_NEAR(many["nll_bits_per_dim"].get<double>(), -many["log_likelihood"].get<double>() / (784 * std::log(2.0)), 1e-9);
  // the Gaussian likelihood works too
  auto g = make(4, "mse");
  auto jg = evaluate_likelihood(*g, d, o);
  EXPECT_TRUE(std::isfinite(jg["log_likelihood"].get<double>()));
}

TEST_F(LikelihoodTest, BinarizeDrawsZerosAndOnesWithThePixelAsProbability) {
  auto x = torch::full({200, 1, 28, 28}, 0.3);
  auto b = binarize(x, 5);
  EXPECT_TRUE(((b == 0) | (b == 1)).all().item<bool>());
  EXPECT_NEAR(b.mean().item<double>(), 0.3, 0.01);
  EXPECT_TRUE(torch::equal(b, binarize(x, 5)));
}

TEST_F(LikelihoodTest, ModelsWithoutALikelihoodAreRefused) {
  TrainConfig c;
  c.model = "ae";
  auto ae = ModelRegistry::create(c, ImageShape{1, 28, 28});
  EXPECT_ERROR_WITH(evaluate_likelihood(*ae, tiny(2)), "no likelihood");
}

}  // namespace latentlab::test
