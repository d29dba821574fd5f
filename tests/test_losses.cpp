// Loss terms against hand-computed values and finite differences.
#include "common.h"
#include "latentlab/losses.h"

namespace latentlab::test {

class Losses : public Seeded {};

TEST_F(Losses, KlMatchesHandComputedValues) {
  // KL(N(mu, s^2) || N(0, 1)) = 0.5 * (mu^2 + s^2 - log s^2 - 1) per dimension
  auto mu = torch::tensor({{0.0, 1.0}, {2.0, -0.5}}, torch::kFloat64);
  auto logvar = torch::tensor({{0.0, 0.0}, {std::log(4.0), std::log(0.25)}}, torch::kFloat64);
  auto kl = kl_std_normal_per_image(mu, logvar);
  ASSERT_EQ(kl.sizes(), (std::vector<int64_t>{2}));
  EXPECT_NEAR(kl[0].item<double>(), 0.5, 1e-12);  // 0 + 0.5 * (1)
  double row2 = 0.5 * (4 + 4 - std::log(4.0) - 1) + 0.5 * (0.25 + 0.25 - std::log(0.25) - 1);
  EXPECT_NEAR(kl[1].item<double>(), row2, 1e-12);
}

TEST_F(Losses, KlIsZeroOnlyAtThePrior) {
  auto zero = kl_std_normal_per_image(torch::zeros({3, 5}), torch::zeros({3, 5}));
  EXPECT_EQ(zero.abs().max().item<float>(), 0.0f);
  auto other = kl_std_normal_per_image(torch::randn({3, 5}), torch::randn({3, 5}));
  EXPECT_GT(other.min().item<float>(), 0.0f);
}

TEST_F(Losses, BceWithLogitsMatchesTheDefinitionAndStaysFinite) {
  auto logits = torch::tensor({{-3.0, 0.0, 2.0}, {100.0, -100.0, 0.5}}, torch::kFloat64);
  auto t = torch::tensor({{0.0, 0.5, 1.0}, {0.0, 1.0, 0.25}}, torch::kFloat64);
  auto got = bce_with_logits_per_image(logits, t);
  auto p = torch::sigmoid(logits);
  // row 0 by the textbook formula (probabilities are not saturated there)
  double expect0 = -(t[0] * p[0].log() + (1 - t[0]) * (1 - p[0]).log()).sum().item<double>();
  EXPECT_NEAR(got[0].item<double>(), expect0, 1e-10);
  // row 1: saturated logits; stable form max(l,0) - l*t + log1p(exp(-|l|))
  double expect1 = 0;
  for (int k = 0; k < 3; ++k) {
    double l = logits[1][k].item<double>(), tt = t[1][k].item<double>();
    expect1 += std::max(l, 0.0) - l * tt + std::log1p(std::exp(-std::abs(l)));
  }
  EXPECT_NEAR(got[1].item<double>(), expect1, 1e-9);
  EXPECT_TRUE(std::isfinite(got[1].item<double>()));
}

TEST_F(Losses, GradientsMatchFiniteDifferences) {
  auto mu = torch::randn({2, 3}, torch::kFloat64).requires_grad_();
  auto logvar = torch::randn({2, 3}, torch::kFloat64).requires_grad_();
  auto logits = torch::randn({2, 4}, torch::kFloat64).requires_grad_();
  auto target = torch::rand({2, 4}, torch::kFloat64);
  auto f = [&] { return kl_std_normal_per_image(mu, logvar).sum() + bce_with_logits_per_image(logits, target).sum(); };
  f().backward();
  const double h = 1e-6;
  for (auto* v : {&mu, &logvar, &logits}) {
    auto flat = v->detach().view(-1);
    auto grad = v->grad().view(-1);
    for (int64_t i = 0; i < flat.numel(); ++i) {
      torch::NoGradGuard g;
      double old = flat[i].item<double>();
      flat[i] = old + h;
      double up = f().item<double>();
      flat[i] = old - h;
      double down = f().item<double>();
      flat[i] = old;
      EXPECT_NEAR(grad[i].item<double>(), (up - down) / (2 * h), 1e-6);
    }
  }
}

TEST_F(Losses, ReconSumWithGradMatchesTheTermsAndFiniteDifferences) {
  auto logits = torch::randn({2, 1, 2, 3}, torch::kFloat64);
  auto target = torch::rand({2, 1, 2, 3}, torch::kFloat64);
  const double scale = 0.25, h = 1e-6;
  for (bool bce : {true, false}) {
    torch::Tensor d;
    auto value = recon_sum_with_grad(logits, target, bce, scale, d).item<double>();
    auto per_image = bce ? bce_with_logits_per_image(logits, target) : sse_per_image(torch::sigmoid(logits), target);
    EXPECT_NEAR(value, scale * per_image.sum().item<double>(), 1e-12) << bce;
    ASSERT_EQ(d.sizes(), (std::vector<int64_t>{2, 6}));
    auto flat = logits.view(-1);
    for (int64_t i = 0; i < flat.numel(); ++i) {
      double old = flat[i].item<double>();
      torch::Tensor scratch;
      flat[i] = old + h;
      double up = recon_sum_with_grad(logits, target, bce, scale, scratch).item<double>();
      flat[i] = old - h;
      double down = recon_sum_with_grad(logits, target, bce, scale, scratch).item<double>();
      flat[i] = old;
      EXPECT_NEAR(d.view(-1)[i].item<double>(), (up - down) / (2 * h), 1e-8) << bce << " " << i;
    }
  }
  torch::Tensor d;
  EXPECT_THROW(recon_sum_with_grad(torch::randn({2, 5}), torch::rand({2, 6}), true, 1.0, d), c10::Error);
}

TEST_F(Losses, SumOfSquaredErrors) {
  auto a = torch::tensor({{1.0, 2.0}, {0.0, 0.0}});
  auto b = torch::tensor({{0.0, 0.0}, {0.0, 3.0}});
  auto s = sse_per_image(a, b);
  EXPECT_FLOAT_EQ(s[0].item<float>(), 5.0f);
  EXPECT_FLOAT_EQ(s[1].item<float>(), 9.0f);
}

}  // namespace latentlab::test
