// Noise, sparsity and L1 regularisers: parsing, effects and values.
#include "common.h"
#include "latentlab/regularizers.h"

namespace latentlab::test {

class Regs : public Seeded {};

TEST_F(Regs, ParsesEveryNoiseKindAndRejectsNonsense) {
  EXPECT_EQ(parse_noise("").kind, Noise::Kind::none);
  auto g = parse_noise("gaussian:0.3");
  EXPECT_EQ(g.kind, Noise::Kind::gaussian);
  EXPECT_DOUBLE_EQ(g.amount, 0.3);
  EXPECT_EQ(parse_noise("masking:0.25").kind, Noise::Kind::masking);
  EXPECT_EQ(parse_noise("salt-pepper:0.1").kind, Noise::Kind::salt_pepper);
  EXPECT_ERROR_WITH(parse_noise("pink:0.1"), "unknown noise");
  EXPECT_ERROR_WITH(parse_noise("gaussian"), "expected <kind>:<value>");
  EXPECT_ERROR_WITH(parse_noise("gaussian:abc"), "not a number");
  EXPECT_ERROR_WITH(parse_noise("gaussian:0.3x"), "not a number");
  EXPECT_ERROR_WITH(parse_noise("gaussian:-1"), "sigma must be positive");
  EXPECT_ERROR_WITH(parse_noise("masking:1.5"), "probability must be in (0, 1)");
}

TEST_F(Regs, CorruptionDoesWhatItSays) {
  auto x = torch::full({200, 1, 28, 28}, 0.5);
  auto m = corrupt(x, parse_noise("masking:0.3"));
  double zeros = (m == 0).to(torch::kFloat64).mean().item<double>();
  EXPECT_NEAR(zeros, 0.3, 0.01);
  EXPECT_TRUE(torch::equal(m.masked_select(m != 0), x.masked_select(m != 0)));
  auto sp = corrupt(x, parse_noise("salt-pepper:0.2"));
  EXPECT_NEAR(((sp == 0) | (sp == 1)).to(torch::kFloat64).mean().item<double>(), 0.2, 0.01);
  auto g = corrupt(x, parse_noise("gaussian:0.1"));
  EXPECT_NEAR((g - x).std().item<double>(), 0.1, 0.005);
  EXPECT_GE(g.min().item<float>(), 0.0f);
  EXPECT_TRUE(torch::equal(corrupt(x, Noise{}), x));
}

TEST_F(Regs, KlSparsityMatchesTheFormulaAndVanishesAtTheTarget) {
  // codes whose mean activation 1 - exp(-|c|) is exactly rho give zero
  double rho = 0.2;
  auto at_target = torch::full({8, 3}, -std::log(1 - rho), torch::kFloat64);
  EXPECT_NEAR(kl_sparsity(at_target, rho).item<double>(), 0.0, 1e-12);
  // a ReLU code reaches a small target: one image in ten active with 1 - exp(-c) = 0.5 gives rho 0.05
  auto relu_code = torch::zeros({10, 2}, torch::kFloat64);
  relu_code[0] = std::log(2.0);
  EXPECT_NEAR(kl_sparsity(relu_code, 0.05).item<double>(), 0.0, 1e-12);
  auto code = torch::tensor({{0.0, 2.0}, {1.0, -2.0}}, torch::kFloat64);
  double h0 = (1 - std::exp(-1.0)) / 2, h1 = 1 - std::exp(-2.0);
  auto kl = [&](double h) { return rho * std::log(rho / h) + (1 - rho) * std::log((1 - rho) / (1 - h)); };
  EXPECT_NEAR(kl_sparsity(code, rho).item<double>(), kl(h0) + kl(h1), 1e-12);
  EXPECT_ERROR_WITH(parse_sparsity("1.5:0.1"), "rho must be in (0, 1)");
  EXPECT_ERROR_WITH(parse_sparsity("0.05"), "expected <rho>:<weight>");
  auto s = parse_sparsity("0.05:0.3");
  EXPECT_DOUBLE_EQ(s.rho, 0.05);
  EXPECT_DOUBLE_EQ(s.weight, 0.3);
}

TEST_F(Regs, CodePenaltiesAreWeightedIntoTheLoss) {
  TrainConfig c;
  c.l1 = 0.5;
  c.sparsity = "0.1:2";
  Regularizers r(c);
  auto code = torch::tensor({{1.0, -2.0}, {0.0, 3.0}});
  LossTerms l{torch::tensor(1.0), {}};
  r.add_penalties(l, code);
  ASSERT_EQ(l.terms.size(), 2u);
  EXPECT_EQ(l.terms[0].first, "l1");
  EXPECT_FLOAT_EQ(l.terms[0].second.item<float>(), 3.0f);  // mean of |1|+|-2| and |0|+|3|
  EXPECT_EQ(l.terms[1].first, "sparsity");
  EXPECT_NEAR(l.loss.item<double>(), 1.0 + 0.5 * 3.0 + 2 * l.terms[1].second.item<double>(), 1e-5);
}

}  // namespace latentlab::test

namespace latentlab::test {

TEST_F(Regs, ContractiveTermIsAddedOnlyWhenAJacobianIsGiven) {
  TrainConfig c;
  c.contractive = 0.25;
  Regularizers r(c);
  LossTerms none{torch::tensor(1.0), {}};
  r.add_penalties(none, torch::ones({2, 3}));
  EXPECT_TRUE(none.terms.empty());
  LossTerms l{torch::tensor(1.0), {}};
  r.add_penalties(l, torch::ones({2, 3}), torch::tensor(4.0));
  ASSERT_EQ(l.terms.size(), 1u);
  EXPECT_EQ(l.terms[0].first, "contractive");
  EXPECT_FLOAT_EQ(l.loss.item<float>(), 2.0f);
}

}  // namespace latentlab::test
