#include <ATen/CPUGeneratorImpl.h>

#include "latentlab/error.h"
#include "latentlab/eval.h"

namespace latentlab {

double reconstruction_mse(const Dataset& d, const std::function<torch::Tensor(const Batch&)>& f, const Noise& noise,
                          uint64_t seed) {
  torch::NoGradGuard no_grad;
  torch::manual_seed(seed);
  Batcher batches(d, 1000, false);
  const bool labelled = d.labels.defined() && d.labels.numel() == d.size();
  double sum = 0;
  for (int64_t b = 0; b < batches.batches(); ++b) {
    auto x = batches.batch(b);
    auto y = f(Batch(corrupt(x, noise), labelled ? batches.labels(b) : torch::Tensor()));
    sum += (y.reshape_as(x) - x).pow(2).sum().item<double>();
  }
  return sum / static_cast<double>(d.images.numel());
}

nlohmann::json evaluate_autoencoder(ModelImpl& model, const TrainConfig& c, const Dataset& train, const Dataset& test,
                                    const AutoencoderEvalOptions& opts) {
  torch::NoGradGuard no_grad;
  model.eval();
  auto rec = [&](const Batch& x) { return model.reconstruct(x); };
  nlohmann::json j;
  j["test_mse"] = reconstruction_mse(test, rec);
  Pca pca = Pca::fit(to_float(train.images), std::min(model.latent_dim(), train.size()),
                     [](const std::string& m) { std::fprintf(stderr, "eval: %s\n", m.c_str()); });
  auto pca_rec = [&](const Batch& x) { return pca.reconstruct(x.images); };
  j["pca_dim"] = pca.components.size(0);
  j["pca_test_mse"] = reconstruction_mse(test, pca_rec);
  std::string noise = opts.noise.empty() ? c.noise : opts.noise;
  if (!noise.empty()) {
    Noise n = parse_noise(noise);
    j["noise"] = noise;
    j["noisy_test_mse"] = reconstruction_mse(test, rec, n, opts.seed);
    j["pca_noisy_test_mse"] = reconstruction_mse(test, pca_rec, n, opts.seed);
  }
  // codes and the encoder's Jacobian over the test set
  Batcher batches(test, 500, false);
  double exact = 0, near = 0, jnorm = 0, count = 0;
  const bool has_jacobian = model.has_encoder_jacobian();
  std::vector<torch::Tensor> all_codes;
  for (int64_t b = 0; b < batches.batches(); ++b) {
    Batch batch = batch_for(model, batches, b);
    const torch::Tensor& x = batch.images;
    auto z = model.code(batch);
    all_codes.push_back(z.to(torch::kFloat64));
    exact += (z == 0).sum().item<double>();
    near += (z.abs() < opts.zero_tolerance).sum().item<double>();
    count += static_cast<double>(z.numel());
    if (has_jacobian) jnorm += model.code_jacobian_sq(x).sqrt().sum().item<double>();
  }
  j["code_exact_zero_fraction"] = exact / count;
  j["code_near_zero_fraction"] = near / count;
  j["code_zero_tolerance"] = opts.zero_tolerance;
  if (has_jacobian) j["jacobian_norm"] = jnorm / static_cast<double>(test.size());
  // Moments of the codes, to compare with an N(0, I) prior (VAE means, AAE codes).
  auto z = torch::cat(all_codes);
  auto mean = z.mean(0);
  auto centered = z - mean;
  auto cov = centered.t().mm(centered) / std::max<double>(1.0, double(z.size(0) - 1));
  auto eye = torch::eye(cov.size(0), cov.options());
  j["code_mean_abs_max"] = mean.abs().max().item<double>();
  j["code_var_mean"] = cov.diagonal().mean().item<double>();
  j["code_cov_minus_identity_abs_max"] = (cov - eye).abs().max().item<double>();
  j["code_offdiag_cov_abs_mean"] =
      cov.size(0) > 1 ? ((cov - cov.diagonal().diag()).abs().sum() / double(cov.numel() - cov.size(0))).item<double>() : 0.0;
  return j;
}

}  // namespace latentlab
