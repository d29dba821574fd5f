// Loss terms against hand-computed values and finite differences.
#include "common.h"
#include "kernels/kernels.h"
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
  for (auto* v : {&mu, &logvar, &logits})
    expect_gradient_matches_finite_differences(v->detach(), v->grad(), [&] { return f().item<double>(); }, 1e-6, 1e-6);
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
    torch::Tensor scratch;
    expect_gradient_matches_finite_differences(
        logits, d, [&] { return recon_sum_with_grad(logits, target, bce, scale, scratch).item<double>(); }, h, 1e-8,
        0, bce ? "bce" : "mse");
  }
  torch::Tensor d;
  EXPECT_THROW(recon_sum_with_grad(torch::randn({2, 5}), torch::rand({2, 6}), true, 1.0, d), c10::Error);
}

TEST_F(Losses, ReconSumWithGradInFloat32MatchesDouble) {
  // float32 CPU values take the one-pass kernel (src/losses/recon_kernels.cpp), split across threads
  // when large; the double result of the ATen path is the reference. Logits include the extremes.
  auto logits = torch::randn({3, 70000}) * 6;
  logits.view(-1).slice(0, 0, 8).copy_(torch::tensor({0.0f, -0.0f, 30.0f, -30.0f, 88.0f, -88.0f, 1e-7f, -1e-7f}));
  auto target = torch::rand({3, 70000});
  target.view(-1).slice(0, 0, 4).copy_(torch::tensor({0.0f, 1.0f, 0.0f, 1.0f}));
  for (int threads : {1, 2})
    for (bool bce : {true, false}) {
      torch::set_num_threads(threads);
      torch::Tensor d, dref;
      double value = recon_sum_with_grad(logits, target, bce, 0.5, d).item<double>();
      double ref = recon_sum_with_grad(logits.to(torch::kFloat64), target.to(torch::kFloat64), bce, 0.5, dref).item<double>();
      EXPECT_NEAR(value, ref, 1e-5 * std::abs(ref)) << threads << " threads, bce " << bce;
      ASSERT_EQ(d.scalar_type(), torch::kFloat32);
      EXPECT_LT((d.to(torch::kFloat64) - dref).abs().max().item<double>(), 1e-6) << threads << " threads, bce " << bce;
      // a non-contiguous view takes the ATen path and agrees
      torch::Tensor dv;
      double viewed = recon_sum_with_grad(logits.t().contiguous().t(), target, bce, 0.5, dv).item<double>();
      EXPECT_NEAR(viewed, ref, 1e-5 * std::abs(ref));
    }
  // non-finite logits make the term and its gradient non-finite, so the trainer's check sees them
  for (float bad : {NAN, INFINITY, -INFINITY})
    for (bool bce : {true, false}) {
      auto l = torch::zeros({2, 5});
      l[1][3] = bad;
      torch::Tensor d;
      auto t = torch::full({2, 5}, 0.5f);
      bool finite_value = std::isfinite(recon_sum_with_grad(l, t, bce, 1.0, d).item<double>());
      bool finite_grad = d.isfinite().all().item<bool>();
      if (std::isnan(bad)) {
        EXPECT_FALSE(finite_value) << bce;
        EXPECT_FALSE(finite_grad) << bce;
      } else {
        EXPECT_EQ(finite_value, !bce) << bce << " " << bad;  // BCE of an infinite logit against 0.5 is infinite
      }
    }
}

TEST_F(Losses, SumOfSquaredErrors) {
  auto a = torch::tensor({{1.0, 2.0}, {0.0, 0.0}});
  auto b = torch::tensor({{0.0, 0.0}, {0.0, 3.0}});
  auto s = sse_per_image(a, b);
  EXPECT_FLOAT_EQ(s[0].item<float>(), 5.0f);
  EXPECT_FLOAT_EQ(s[1].item<float>(), 9.0f);
}

}  // namespace latentlab::test
