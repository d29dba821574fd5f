// The MLP block and its closed-form Jacobian norm, against autograd.
#include "common.h"
#include "latentlab/nn.h"

namespace latentlab::test {

class MlpTest : public Seeded {};

// ||d out_act(f(x)[:rows]) / dx||_F^2 per sample by autograd, one output at a time.
torch::Tensor autograd_jacobian_sq(Mlp& mlp, const torch::Tensor& x, int64_t rows, Activation out_act) {
  std::vector<torch::Tensor> norms;
  for (int64_t b = 0; b < x.size(0); ++b) {
    auto xb = x.slice(0, b, b + 1).clone().requires_grad_();
    auto y = apply_activation(mlp->forward(xb), out_act);
    double total = 0;
    for (int64_t r = 0; r < rows; ++r) {
      auto g = torch::autograd::grad({y[0][r]}, {xb}, {}, /*retain_graph=*/true)[0];
      total += g.pow(2).sum().item<double>();
    }
    norms.push_back(torch::tensor(total, torch::kFloat64));
  }
  return torch::stack(norms);
}

TEST_F(MlpTest, ShapesAndLayerCount) {
  Mlp m(MlpOptions(12, {8, 6}, 3));
  EXPECT_EQ(m->layers.size(), 3u);
  EXPECT_EQ(m->forward(torch::randn({5, 3, 4})).sizes(), (std::vector<int64_t>{5, 3}));
  EXPECT_THROW(Mlp(MlpOptions(12, {0}, 3)), c10::Error);
  EXPECT_THROW(Mlp(MlpOptions(12, {4}, 3).activation("swish")), std::exception);
}

TEST_F(MlpTest, ClosedFormJacobianMatchesAutogradForEveryActivation) {
  for (const char* act : {"relu", "leaky_relu", "elu", "tanh", "sigmoid"}) {
    Mlp m(MlpOptions(7, {6, 5}, 8).activation(act));
    m->to(torch::kFloat64);
    auto x = torch::randn({4, 7}, torch::kFloat64);
    for (auto out_act : {Activation::identity, parse_activation(act)}) {
      auto [out, j] = m->forward_with_jacobian(x, 3, out_act);
      EXPECT_TRUE(torch::allclose(out, m->forward(x)));
      auto ref = autograd_jacobian_sq(m, x, 3, out_act);
      EXPECT_TRUE(torch::allclose(j, ref, 1e-9, 1e-12)) << act << "\n" << j << "\n" << ref;
    }
  }
}

TEST_F(MlpTest, JacobianPenaltyIsDifferentiable) {
  Mlp m(MlpOptions(5, {4}, 3).activation("tanh"));
  m->to(torch::kFloat64);
  auto x = torch::randn({3, 5}, torch::kFloat64);
  auto f = [&] { return m->forward_with_jacobian(x, 3, Activation::identity).second.sum(); };
  f().backward();
  // finite differences on a few weights of the first layer
  auto w = m->layers[0]->weight;
  for (int64_t k = 0; k < 4; ++k) {
    torch::NoGradGuard g;
    double old = w[k % 4][k].item<double>(), h = 1e-6;
    w[k % 4][k] = old + h;
    double up = f().item<double>();
    w[k % 4][k] = old - h;
    double down = f().item<double>();
    w[k % 4][k] = old;
    EXPECT_NEAR(w.grad()[k % 4][k].item<double>(), (up - down) / (2 * h), 1e-6);
  }
}

TEST_F(MlpTest, DropoutOnlyInTraining) {
  Mlp m(MlpOptions(10, {200}, 10).dropout(0.5));
  auto x = torch::randn({4, 10});
  m->train();
  EXPECT_FALSE(torch::equal(m->forward(x), m->forward(x)));
  m->eval();
  EXPECT_TRUE(torch::equal(m->forward(x), m->forward(x)));
}

}  // namespace latentlab::test
