#include <ATen/CPUGeneratorImpl.h>

#include <cmath>

#include "latentlab/error.h"
#include "latentlab/eval.h"
#include "latentlab/progress.h"

namespace latentlab {

torch::Tensor binarize(const torch::Tensor& x, uint64_t seed) {
  auto gen = at::detail::createCPUGenerator(seed);
  auto u = torch::rand(x.sizes(), gen, torch::TensorOptions(torch::kFloat32));
  return (u.to(x.device()) < x).to(x.scalar_type());
}

nlohmann::json evaluate_likelihood(ModelImpl& model, const Dataset& test, const LikelihoodOptions& o, std::FILE* log) {
  require(model.has_likelihood(), "eval: model " + model.kind() + " has no likelihood to estimate");
  require(o.samples >= 1, "--iw-samples must be at least 1");
  torch::NoGradGuard no_grad;
  model.eval();
  torch::manual_seed(o.seed);
  const int64_t n = o.images > 0 ? std::min(o.images, test.size()) : test.size();
  const int64_t k = o.samples;
  // images per pass: as many as keep (images x samples) decodes under the chunk, sample chunks otherwise
  const int64_t per_pass = std::max<int64_t>(1, o.chunk / k);
  const int64_t sample_chunk = std::min(k, std::max<int64_t>(1, o.chunk));
  auto device = model_device(model);
  double elbo = 0, ll = 0;
  TaskProgress progress(log, "eval: likelihood, " + std::to_string(k) + " samples per image", n, "images");
  for (int64_t start = 0; start < n; start += per_pass) {
    progress.update(start);
    const int64_t end = std::min(n, start + per_pass);
    auto x = to_float(test.images.slice(0, start, end)).to(device);
    if (o.binarize) x = binarize(x, o.seed + 1 + static_cast<uint64_t>(start));
    const Batch batch(x, model.uses_labels() ? test.labels.slice(0, start, end).to(device) : torch::Tensor());
    std::vector<torch::Tensor> parts;
    for (int64_t s = 0; s < k; s += sample_chunk) parts.push_back(model.log_importance_weights(batch, std::min(sample_chunk, k - s)));
    auto lw = torch::cat(parts, 1).to(torch::kFloat64);  // [b, k]
    elbo += lw.mean(1).sum().item<double>();
    ll += (torch::logsumexp(lw, 1) - std::log(double(k))).sum().item<double>();
  }
  progress.finish(std::to_string(n) + " images");
  const double dims = static_cast<double>(test.pixels()), to_bits = 1.0 / (dims * std::log(2.0));
  nlohmann::json j;
  j["elbo"] = elbo / n;
  j["log_likelihood"] = ll / n;
  j["elbo_bits_per_dim"] = -elbo / n * to_bits;
  j["nll_bits_per_dim"] = -ll / n * to_bits;
  j["iw_samples"] = k;
  j["iw_images"] = n;
  j["binarized"] = o.binarize;
  return j;
}

}  // namespace latentlab
