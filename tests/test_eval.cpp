// PCA baseline and autoencoder evaluation.
#include "common.h"
#include "latentlab/eval.h"
#include "latentlab/models/ae.h"

namespace latentlab::test {

class Eval : public Seeded {
 protected:
  Dataset tiny(int64_t n) {
    write_tiny_mnist(dir / "data", static_cast<uint32_t>(n), static_cast<uint32_t>(n));
    return load_idx_dataset("mnist", (dir / "data").string(), Split::test);
  }
};

TEST_F(Eval, PcaRecoversALowDimensionalSubspaceExactly) {
  auto basis = std::get<0>(torch::linalg_qr(torch::randn({10, 3}))).t();  // 3 orthonormal rows in R^10
  auto codes = torch::randn({500, 3}) * torch::tensor({5.0, 2.0, 0.5});
  auto x = torch::matmul(codes, basis) + 1.0;
  Pca p = Pca::fit(x, 3);
  EXPECT_EQ(p.components.sizes(), (std::vector<int64_t>{3, 10}));
  EXPECT_TRUE(torch::allclose(torch::matmul(p.components, p.components.t()), torch::eye(3), 1e-4, 1e-4));
  EXPECT_GT(p.explained_variance[0].item<float>(), p.explained_variance[1].item<float>());
  EXPECT_NEAR(p.explained_variance[0].item<double>(), 25.0, 3.0);
  EXPECT_LT((p.reconstruct(x) - x).abs().max().item<float>(), 1e-3);
  // one component keeps only the largest direction: error = the other variances
  Pca p1 = Pca::fit(x, 1);
  double mse = (p1.reconstruct(x) - x).pow(2).sum(1).mean().item<double>();
  EXPECT_NEAR(mse, p.explained_variance.slice(0, 1).sum().item<double>() * 499 / 500, 0.05 * mse);
  EXPECT_ERROR_WITH(Pca::fit(x, 11), "--dim must be in [1, 10]");
}

// Beyond 4096 pixels PCA never builds the D x D covariance: with fewer images than pixels it takes
// the Gram matrix (exact), with many of both a randomized SVD; both agree with the covariance path.
TEST_F(Eval, PcaOfWideDataAgreesWithTheCovariancePath) {
  const int64_t d = 5000;
  auto basis = std::get<0>(torch::linalg_qr(torch::randn({d, 4}))).t();  // 4 orthonormal rows in R^5000
  auto make = [&](int64_t n) {
    // codes whose sample covariance is exactly diag(36, 9, 2.25, 0.64): the principal directions are the basis
    auto c = torch::randn({n, 4}, torch::kFloat64);
    auto q = std::get<0>(torch::linalg_qr(c - c.mean(0)));
    auto codes = (q * std::sqrt(double(n - 1)) * torch::tensor({6.0, 3.0, 1.5, 0.8}, torch::kFloat64)).to(torch::kFloat32);
    return torch::matmul(codes, basis) + 0.001 * torch::randn({n, d}) + 0.5;
  };
  std::vector<std::string> stages;
  auto say = [&](const std::string& s) { stages.push_back(s); };
  for (int64_t n : {300, 4200}) {
    SCOPED_TRACE(n);
    stages.clear();
    auto x = make(n);
    Pca p = Pca::fit(x, 3, say);
    ASSERT_FALSE(stages.empty());
    EXPECT_NE(stages.front().find(n <= 4096 ? "Gram matrix" : "randomized SVD"), std::string::npos) << stages.front();
    EXPECT_TRUE(torch::allclose(torch::matmul(p.components, p.components.t()), torch::eye(3), 1e-4, 1e-4));
    // the same subspace as the true basis' leading three rows, and the variances of the codes
    auto overlap = torch::matmul(p.components, basis.slice(0, 0, 3).t()).abs();
    EXPECT_GT(overlap.diagonal().min().item<float>(), 0.999) << overlap;
    auto xc = x - x.mean(0);
    auto var = torch::matmul(xc, p.components.t()).pow(2).sum(0) / double(n - 1);
    EXPECT_TRUE(torch::allclose(p.explained_variance, var, 1e-3, 1e-3)) << p.explained_variance << var;
    double total = xc.pow(2).sum().item<double>() / double(n - 1);
    EXPECT_NEAR(p.total_variance, total, 1e-3 * total);
    EXPECT_GT(p.explained_fraction(), 0.9);
    EXPECT_LT(p.explained_fraction(), 1.0);
  }
  EXPECT_ERROR_WITH(Pca::fit(make(5), 6), "PCA of 5 images has at most 5 components");
}

TEST_F(Eval, MergedEvalKeepsEarlierSectionsAndReplacesRemeasuredOnes) {
  nlohmann::json a = {{"model", "vae"}, {"reconstruction", {{"test_mse", 1}}}, {"likelihood", {{"elbo", -100}}}};
  nlohmann::json b = {{"model", "vae"}, {"generator", {{"fd", 3}}}, {"likelihood", {{"elbo", -90}}}};
  auto m = merge_eval(a, b);
  EXPECT_EQ(m["reconstruction"]["test_mse"], 1);
  EXPECT_EQ(m["generator"]["fd"], 3);
  EXPECT_EQ(m["likelihood"]["elbo"], -90);
  EXPECT_EQ(merge_eval(nullptr, b), b);
}

TEST_F(Eval, ReconstructionMseOfKnownFunctions) {
  auto d = tiny(40);
  EXPECT_DOUBLE_EQ(reconstruction_mse(d, [](const Batch& x) { return x.images; }), 0.0);
  double mean_sq = to_float(d.images).pow(2).mean().item<double>();
  EXPECT_NEAR(reconstruction_mse(d, [](const Batch& x) { return torch::zeros_like(x.images); }), mean_sq, 1e-6);
  double noisy = reconstruction_mse(d, [](const Batch& x) { return x.images; }, parse_noise("masking:0.5"), 1);
  EXPECT_GT(noisy, 0.1 * mean_sq);
  EXPECT_DOUBLE_EQ(noisy, reconstruction_mse(d, [](const Batch& x) { return x.images; }, parse_noise("masking:0.5"), 1))
      << "seeded noise";
}

TEST_F(Eval, AutoencoderReportMatchesItsParts) {
  auto test = tiny(60);
  TrainConfig c;
  c.model = "ae";
  c.hidden = {32};
  c.latent = 4;
  auto m = ModelRegistry::create(c, ImageShape{1, 28, 28});
  AutoencoderEvalOptions opts;
  opts.noise = "gaussian:0.2";
  auto j = evaluate_autoencoder(*m, c, test, test, opts);
  for (const char* k : {"test_mse", "pca_test_mse", "pca_dim", "noisy_test_mse", "code_exact_zero_fraction",
                        "code_near_zero_fraction", "jacobian_norm"})
    EXPECT_TRUE(j.contains(k)) << k;
  EXPECT_EQ(j["pca_dim"], 4);
  torch::NoGradGuard g;
  auto x = to_float(test.images);
  EXPECT_NEAR(j["test_mse"].get<double>(), (m->reconstruct(x) - x).pow(2).mean().item<double>(), 1e-6);
  Pca pca = Pca::fit(x, 4);
  EXPECT_NEAR(j["pca_test_mse"].get<double>(), (pca.reconstruct(x) - x).pow(2).mean().item<double>(), 1e-6);
  auto z = m->code(x);
  EXPECT_NEAR(j["code_exact_zero_fraction"].get<double>(), (z == 0).to(torch::kFloat64).mean().item<double>(), 1e-12);
  EXPECT_NEAR(j["jacobian_norm"].get<double>(), m->code_jacobian_sq(x).sqrt().mean().item<double>(), 1e-4);
  m->eval();
  double noisy = reconstruction_mse(test, [&](const Batch& in) { return m->reconstruct(in); },
                                    parse_noise("gaussian:0.2"), opts.seed);
  EXPECT_DOUBLE_EQ(j["noisy_test_mse"].get<double>(), noisy);
  EXPECT_NE(noisy, j["test_mse"].get<double>());
}

}  // namespace latentlab::test
