#include "latentlab/error.h"
#include "latentlab/eval.h"

namespace latentlab {

namespace {

// Above these sizes PCA no longer builds a d x d covariance (or an n x n Gram matrix): the leading
// k components come from a randomized SVD (Halko, Martinsson and Tropp 2011), O(n d k).
constexpr int64_t kExactLimit = 4096;

// Centred rows [s, e) of x as float32.
torch::Tensor centred(const torch::Tensor& x, const torch::Tensor& mean32, int64_t s, int64_t e) {
  return x.slice(0, s, e) - mean32;
}

}  // namespace

Pca Pca::fit(const torch::Tensor& x_in, int64_t k, const std::function<void(const std::string&)>& progress) {
  auto x = x_in.reshape({x_in.size(0), -1}).to(torch::kFloat32);
  int64_t n = x.size(0), d = x.size(1);
  require(k >= 1 && k <= d, "--dim must be in [1, " + std::to_string(d) + "] (got " + std::to_string(k) + ")");
  require(n >= 2, "PCA needs at least two images");
  auto say = [&](const std::string& s) {
    if (progress) progress(s);
  };
  Pca p;
  auto mean64 = x.to(torch::kFloat64).mean(0);
  auto mean32 = mean64.to(torch::kFloat32);
  p.mean = mean32;
  // total_variance, for the explained fraction, is the trace of the covariance: each path reads it
  // off what it computes anyway (the covariance, the Gram matrix, the centred data)
  if (d <= kExactLimit) {
    // covariance from float32 products of centred chunks, summed in float64
    say("pca: " + std::to_string(n) + " x " + std::to_string(d) + ", covariance (" + std::to_string(d) + "^2)");
    auto cov = torch::zeros({d, d}, torch::kFloat64);
    for (int64_t s = 0; s < n; s += 10000) {
      auto xc = centred(x, mean32, s, std::min(n, s + 10000));
      cov += torch::matmul(xc.t(), xc).to(torch::kFloat64);
    }
    cov /= static_cast<double>(n - 1);
    p.total_variance = cov.trace().item<double>();
    auto [evals, evecs] = torch::linalg_eigh(cov, "L");  // ascending
    auto idx = torch::arange(d - 1, d - 1 - k, -1, torch::kInt64);
    p.components = evecs.index_select(1, idx).t().contiguous().to(torch::kFloat32);
    p.explained_variance = evals.index_select(0, idx).to(torch::kFloat32);
    return p;
  }
  auto xc = (x - mean32).to(torch::kFloat64);  // n x d
  if (n <= kExactLimit) {
    // fewer images than pixels: the n x n Gram matrix has the same non-zero spectrum
    say("pca: " + std::to_string(n) + " x " + std::to_string(d) + ", Gram matrix (" + std::to_string(n) + "^2)");
    require(k <= n, "--dim " + std::to_string(k) + ": PCA of " + std::to_string(n) + " images has at most " +
                        std::to_string(n) + " components; choose a smaller --dim");
    auto gram = torch::matmul(xc, xc.t());
    p.total_variance = gram.trace().item<double>() / static_cast<double>(n - 1);
    auto [evals, evecs] = torch::linalg_eigh(gram, "L");
    auto idx = torch::arange(n - 1, n - 1 - k, -1, torch::kInt64);
    auto lam = evals.index_select(0, idx).clamp_min(0);
    auto u = evecs.index_select(1, idx);                                         // n x k
    auto comps = torch::matmul(u.t(), xc);                                       // k x d, rows of norm sqrt(lam)
    comps = comps / comps.norm(2, {1}, true).clamp_min(1e-300);
    p.components = comps.contiguous().to(torch::kFloat32);
    p.explained_variance = (lam / static_cast<double>(n - 1)).to(torch::kFloat32);
    return p;
  }
  // randomized SVD of the centred data: range of X^T by a few power iterations, then a small SVD
  p.total_variance = xc.pow(2).sum().item<double>() / static_cast<double>(n - 1);
  const int64_t l = std::min<int64_t>({k + 10, n, d});
  const int iterations = 4;
  say("pca: " + std::to_string(n) + " x " + std::to_string(d) + ", randomized SVD (rank " + std::to_string(l) + ")");
  auto gen = at::detail::createCPUGenerator(0);
  auto q = std::get<0>(torch::linalg_qr(torch::matmul(xc, torch::randn({d, l}, gen, torch::kFloat64))));  // n x l
  for (int i = 0; i < iterations; ++i) {
    say("pca: power iteration " + std::to_string(i + 1) + "/" + std::to_string(iterations));
    auto z = std::get<0>(torch::linalg_qr(torch::matmul(xc.t(), q)));  // d x l
    q = std::get<0>(torch::linalg_qr(torch::matmul(xc, z)));           // n x l
  }
  auto b = torch::matmul(q.t(), xc);  // l x d
  auto [u, s, vh] = torch::linalg_svd(b, false);
  p.components = vh.slice(0, 0, k).contiguous().to(torch::kFloat32);
  p.explained_variance = s.slice(0, 0, k).pow(2).div(static_cast<double>(n - 1)).to(torch::kFloat32);
  return p;
}

double Pca::explained_fraction() const {
  return total_variance > 0 ? explained_variance.sum().item<double>() / total_variance : 0.0;
}

torch::Tensor Pca::encode(const torch::Tensor& x) const {
  return torch::matmul(x.reshape({x.size(0), -1}) - mean, components.t());
}

torch::Tensor Pca::reconstruct(const torch::Tensor& x) const {
  return (torch::matmul(encode(x), components) + mean).reshape(x.sizes());
}

}  // namespace latentlab
