// FlatAdam: the same update as torch::optim::Adam, on parameters that stay ordinary module parameters.
#include <cmath>

#include "common.h"
#include "latentlab/optim.h"

namespace latentlab::test {

class FlatAdamTest : public Seeded {
 protected:
  // Saves `from`'s state and loads it into `to`, through bytes.
  static void copy_state(const FlatAdam& from, FlatAdam& to) {
    WeightsWriter w("checkpoint");
    from.save(w, "optimizer.x.");
    to.load(WeightsFile::read(w.bytes(), "state"), "optimizer.x.");
  }
};

TEST_F(FlatAdamTest, MatchesTorchAdamStepForStep) {
  torch::nn::Sequential a(torch::nn::Linear(7, 5), torch::nn::Functional(torch::relu), torch::nn::Linear(5, 3));
  auto b = std::dynamic_pointer_cast<torch::nn::SequentialImpl>(a->clone());
  torch::optim::Adam ref(a->parameters(), torch::optim::AdamOptions(1e-2));
  FlatAdam flat(b->parameters(), FlatAdamOptions(1e-2));
  for (int step = 0; step < 20; ++step) {
    auto x = torch::randn({4, 7});
    ref.zero_grad();
    a->forward(x).pow(2).sum().backward();
    ref.step();
    flat.zero_grad();
    b->forward(x).pow(2).sum().backward();
    flat.step();
  }
  auto pa = a->parameters(), pb = b->parameters();
  for (size_t i = 0; i < pa.size(); ++i) EXPECT_TRUE(torch::allclose(pa[i], pb[i], 1e-5, 1e-6)) << "parameter " << i;
  EXPECT_EQ(flat.steps(), 20);
}

TEST_F(FlatAdamTest, ParametersAndGradientsAliasTheFlatBuffers) {
  torch::nn::Linear lin(3, 2);
  FlatAdam opt(lin->parameters(), FlatAdamOptions());
  ASSERT_EQ(opt.flat_params().numel(), 3 * 2 + 2);
  opt.flat_params().fill_(0.5);
  EXPECT_EQ(lin->weight.sum().item<float>(), 3.0f);
  lin->forward(torch::ones({1, 3})).sum().backward();
  EXPECT_EQ(opt.flat_grads().sum().item<float>(), 3.0f * 2 + 2) << "autograd must accumulate into the flat buffer";
  opt.zero_grad();
  EXPECT_EQ(lin->weight.grad().abs().sum().item<float>(), 0.0f);
}

TEST_F(FlatAdamTest, StateRoundTripContinuesIdentically) {
  torch::nn::Linear a(4, 4);
  auto b = std::dynamic_pointer_cast<torch::nn::LinearImpl>(a->clone());
  FlatAdam oa(a->parameters(), FlatAdamOptions(1e-2)), ob(b->parameters(), FlatAdamOptions(1e-2));
  auto step = [](torch::nn::Linear& m, FlatAdam& o, const torch::Tensor& x) {
    o.zero_grad();
    m->forward(x).pow(2).sum().backward();
    o.step();
  };
  torch::nn::Linear bl(b);
  auto x1 = torch::randn({2, 4}), x2 = torch::randn({2, 4});
  step(a, oa, x1);
  step(bl, ob, x1);
  copy_state(oa, ob);
  step(a, oa, x2);
  step(bl, ob, x2);
  EXPECT_TRUE(torch::equal(a->weight, b->weight));
  EXPECT_EQ(ob.steps(), 2);
}

TEST_F(FlatAdamTest, StepReportsWhetherEveryGradientWasFinite) {
  // large enough for several parallel chunks (65536 values each), with the bad value in the last one,
  // which the second thread updates when there are two
  for (int threads : {1, 2})
    for (bool alias : {true, false})
      for (float bad : {0.0f, NAN, INFINITY, -INFINITY, 1e30f}) {
        torch::set_num_threads(threads);
        torch::nn::Linear lin(1000, 200);
        FlatAdam opt(lin->parameters(), FlatAdamOptions().alias(alias));
        opt.zero_grad();
        lin->forward(torch::ones({2, 1000})).sum().backward();
        torch::NoGradGuard no_grad;
        lin->bias.mutable_grad()[199] = bad;
        EXPECT_EQ(opt.step(), std::isfinite(bad)) << threads << " threads, alias " << alias << ", value " << bad;
      }
}

TEST_F(FlatAdamTest, StepRunsOnEveryThreadWithTheSameResult) {
#ifndef _OPENMP
  // at::parallel_for is serial in code compiled without -fopenmp (ATen/ParallelOpenMP.h), and the
  // library shares these flags: CMakeLists.txt must link OpenMP::OpenMP_CXX.
  FAIL() << "built without OpenMP: the Adam step would run on one thread";
#endif
  torch::nn::Linear first(1000, 300);  // 300,300 values: five chunks of 65536
  auto one = first.ptr();
  auto two = std::dynamic_pointer_cast<torch::nn::LinearImpl>(one->clone());
  auto before = one->weight.detach().clone();
  for (auto [m, threads] : {std::pair{one, 1}, std::pair{two, 2}}) {
    torch::set_num_threads(threads);
    torch::manual_seed(99);  // the same gradients for both, from elementwise terms that do not depend on threads
    FlatAdam opt(m->parameters(), FlatAdamOptions(1e-2));
    for (int step = 0; step < 3; ++step) {
      opt.zero_grad();
      ((m->weight * torch::randn_like(m->weight)).sum() + m->bias.square().sum()).backward();
      EXPECT_TRUE(opt.step());
    }
  }
  EXPECT_FALSE(torch::equal(one->weight, before));
  EXPECT_TRUE(torch::equal(one->weight, two->weight));
  EXPECT_TRUE(torch::equal(one->bias, two->bias));
}

TEST_F(FlatAdamTest, RejectsStateOfAnotherModel) {
  torch::nn::Linear a(4, 4), b(3, 3);
  FlatAdam oa(a->parameters(), FlatAdamOptions()), ob(b->parameters(), FlatAdamOptions());
  EXPECT_ERROR_WITH(copy_state(oa, ob), "different model");
}

}  // namespace latentlab::test
