#include "latentlab/error.h"
#include "latentlab/eval.h"

namespace latentlab {

Pca Pca::fit(const torch::Tensor& x_in, int64_t k) {
  auto x = x_in.reshape({x_in.size(0), -1}).to(torch::kFloat32);
  int64_t n = x.size(0), d = x.size(1);
  require(k >= 1 && k <= d, "--dim must be in [1, " + std::to_string(d) + "] (got " + std::to_string(k) + ")");
  require(n >= 2, "PCA needs at least two images");
  Pca p;
  auto mean64 = x.to(torch::kFloat64).mean(0);
  // covariance from float32 products of centred chunks, summed in float64
  auto cov = torch::zeros({d, d}, torch::kFloat64);
  auto mean32 = mean64.to(torch::kFloat32);
  for (int64_t s = 0; s < n; s += 10000) {
    auto xc = x.slice(0, s, std::min(n, s + 10000)) - mean32;
    cov += torch::matmul(xc.t(), xc).to(torch::kFloat64);
  }
  cov /= static_cast<double>(n - 1);
  auto [evals, evecs] = torch::linalg_eigh(cov, "L");  // ascending
  auto idx = torch::arange(d - 1, d - 1 - k, -1, torch::kInt64);
  p.mean = mean32;
  p.components = evecs.index_select(1, idx).t().contiguous().to(torch::kFloat32);
  p.explained_variance = evals.index_select(0, idx).to(torch::kFloat32);
  return p;
}

torch::Tensor Pca::encode(const torch::Tensor& x) const {
  return torch::matmul(x.reshape({x.size(0), -1}) - mean, components.t());
}

torch::Tensor Pca::reconstruct(const torch::Tensor& x) const {
  return (torch::matmul(encode(x), components) + mean).reshape(x.sizes());
}

}  // namespace latentlab
