// The MLP block and its closed-form Jacobian norm, against autograd.
#include "common.h"
#include "kernels/kernels.h"
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
  expect_gradient_matches_finite_differences(w.detach(), w.grad(), [&] { return f().item<double>(); }, 1e-6, 1e-6, 4);
}

// Parameters' gradients, cloned, and then cleared.
std::vector<torch::Tensor> take_grads(Mlp& m) {
  std::vector<torch::Tensor> g;
  for (auto& p : m->parameters()) {
    g.push_back(p.grad().clone());
    p.mutable_grad() = torch::Tensor();
  }
  return g;
}

// On two threads each layer's two products run side by side (backward_taped), here through ATen's
// matrix products in double, in the worker thread too.
TEST_F(MlpTest, TapedPassMatchesAutogradForEveryActivation) {
  for (int threads : {1, 2})
  for (const char* act : {"relu", "leaky_relu", "elu", "tanh", "sigmoid", "identity"}) {
    torch::set_num_threads(threads);
    Mlp m(MlpOptions(7, {6, 5}, 4).activation(act));
    m->to(torch::kFloat64);
    auto x = torch::randn({3, 7}, torch::kFloat64);
    auto dout = torch::randn({3, 4}, torch::kFloat64);
    for (auto out_act : {Activation::identity, parse_activation(act)}) {
      auto xr = x.clone().requires_grad_();
      (apply_activation(m->forward(xr), out_act) * dout).sum().backward();
      auto ref = take_grads(m);
      MlpTape tape;
      torch::Tensor out, dx;
      {
        torch::NoGradGuard no_grad;
        out = forward_taped(*m, x, tape, out_act).clone();
        dx = backward_taped(*m, dout, tape, true);
      }
      EXPECT_TRUE(torch::allclose(out, apply_activation(m->forward(x), out_act))) << act;
      EXPECT_TRUE(torch::allclose(dx, xr.grad(), 1e-10, 1e-12)) << act;
      auto got = take_grads(m);
      for (size_t i = 0; i < got.size(); ++i) EXPECT_TRUE(torch::allclose(got[i], ref[i], 1e-10, 1e-12)) << act << " " << i;
    }
  }
}

// Float32 takes the fast paths: the matrix products (oneDNN's sgemm where built with it, all three of
// them, with and without accumulation) and the raw loops of src/nn/mlp_kernels.cpp (bias and
// activation, activation backward, bias gradient), against autograd.
TEST_F(MlpTest, TapedPassInFloat32MatchesAutograd) {
  for (int threads : {1, 2})
  for (const char* act : {"relu", "leaky_relu", "identity", "tanh"}) {
    torch::set_num_threads(threads);
    Mlp m(MlpOptions(50, {40, 30}, 20).activation(act));
    auto x = torch::randn({17, 50});
    auto dout = torch::randn({17, 20});
    auto out_act = parse_activation(act);
    auto xr = x.clone().requires_grad_();
    (apply_activation(m->forward(xr), out_act) * dout).sum().backward();
    auto ref = take_grads(m);
    for (auto& p : m->parameters()) p.mutable_grad() = torch::ones_like(p);  // backward_taped adds to these
    torch::NoGradGuard no_grad;
    MlpTape tape;
    EXPECT_TRUE(torch::allclose(forward_taped(*m, x, tape, out_act), apply_activation(m->forward(x), out_act), 1e-5, 1e-5)) << act;
    auto dx = backward_taped(*m, dout, tape, true);
    EXPECT_TRUE(torch::allclose(dx, xr.grad(), 1e-4, 1e-5)) << act << ", " << threads << " threads";
    auto got = take_grads(m);
    for (size_t i = 0; i < got.size(); ++i)
      EXPECT_TRUE(torch::allclose(got[i] - 1, ref[i], 1e-4, 1e-4)) << act << " " << i << ", " << threads << " threads";
  }
}

// mlpack-style CheckGradient: the taped backward against central differences of
// sum(dout * out_act(mlp(x))), for every parameter element.
TEST_F(MlpTest, TapedGradientsMatchFiniteDifferences) {
  Mlp m(MlpOptions(4, {5}, 3).activation("tanh"));
  m->to(torch::kFloat64);
  auto x = torch::randn({2, 4}, torch::kFloat64);
  auto dout = torch::randn({2, 3}, torch::kFloat64);
  torch::NoGradGuard no_grad;
  MlpTape tape;
  auto f = [&] { return (forward_taped(*m, x, tape, Activation::sigmoid) * dout).sum().item<double>(); };
  f();
  backward_taped(*m, dout, tape, false);
  int64_t checked = 0;
  for (auto& p : m->parameters()) {
    expect_gradient_matches_finite_differences(p, p.grad(), f, 1e-6, 1e-8);
    checked += p.numel();
  }
  EXPECT_EQ(checked, 4 * 5 + 5 + 5 * 3 + 3);
}

TEST_F(MlpTest, TapedBackwardAddsToExistingGradientsAndReusesBuffers) {
  Mlp m(MlpOptions(6, {5}, 2));
  auto x = torch::randn({3, 6});
  auto dout = torch::randn({3, 2});
  torch::NoGradGuard no_grad;
  MlpTape tape;
  const void* first = forward_taped(*m, x, tape).data_ptr();
  EXPECT_FALSE(backward_taped(*m, dout, tape, false).defined());  // no input gradient asked for
  auto once = m->layers[0]->weight.grad().clone();
  EXPECT_EQ(forward_taped(*m, x, tape).data_ptr(), first);  // same batch size: same buffer
  backward_taped(*m, dout, tape, false);
  EXPECT_TRUE(torch::allclose(m->layers[0]->weight.grad(), 2 * once));
  EXPECT_EQ(forward_taped(*m, torch::randn({4, 6}), tape).size(0), 4);  // a new batch size reallocates
}

TEST_F(MlpTest, TapedPassRefusesDropoutWrongShapesAndAMissingForward) {
  Mlp m(MlpOptions(6, {5}, 2).dropout(0.5));
  MlpTape tape;
  torch::NoGradGuard no_grad;
  EXPECT_FALSE(can_tape(*m));
  EXPECT_THROW(forward_taped(*m, torch::randn({3, 6}), tape), c10::Error);
  m->eval();
  EXPECT_TRUE(can_tape(*m));
  EXPECT_THROW(forward_taped(*m, torch::randn({3, 7}), tape), c10::Error);
  MlpTape fresh;
  EXPECT_THROW(backward_taped(*m, torch::randn({3, 2}), fresh, false), c10::Error);
  forward_taped(*m, torch::randn({3, 6}), tape);
  EXPECT_THROW(backward_taped(*m, torch::randn({4, 2}), tape, false), c10::Error);
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
