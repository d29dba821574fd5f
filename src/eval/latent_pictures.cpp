#include <cmath>

#include "latentlab/error.h"
#include "latentlab/eval.h"
#include "latentlab/eval/generate.h"

namespace latentlab {

torch::Tensor slerp(const torch::Tensor& a, const torch::Tensor& b, double t) {
  auto na = a / a.norm().clamp_min(1e-12), nb = b / b.norm().clamp_min(1e-12);
  double cos = na.dot(nb).clamp(-1, 1).item<double>();
  double omega = std::acos(cos);
  if (std::sin(omega) < 1e-6) return a * (1 - t) + b * t;
  return a * (std::sin((1 - t) * omega) / std::sin(omega)) + b * (std::sin(t * omega) / std::sin(omega));
}

namespace {
// Class vectors moving linearly from one-hot a to one-hot b in `steps` steps: [steps, classes].
torch::Tensor class_path(int64_t a, int64_t b, int64_t steps, int64_t classes, const torch::TensorOptions& opts) {
  auto t = torch::linspace(0, 1, steps, opts).unsqueeze(1);
  auto ends = class_vector(torch::tensor({a, b}, torch::kLong), classes, opts, true);
  return ends[0].unsqueeze(0) * (1 - t) + ends[1].unsqueeze(0) * t;
}
}  // namespace

torch::Tensor interpolate_images(ModelImpl& model, const torch::Tensor& x_from, const torch::Tensor& x_to, int64_t steps,
                                 bool spherical, const torch::Tensor& labels) {
  require(steps >= 2, "interpolate: --steps must be at least 2");
  require(!model.uses_labels() || (labels.defined() && labels.numel() == 2),
          "interpolate: model " + model.kind() + " is conditioned on labels; the two images' labels are needed");
  torch::NoGradGuard g;
  model.eval();
  auto device = model_device(model);
  auto x = torch::stack({x_from, x_to}).to(device);
  auto codes = model.code(Batch(x, model.uses_labels() ? labels.to(device) : torch::Tensor()));
  std::vector<torch::Tensor> zs;
  for (int64_t i = 0; i < steps; ++i) {
    double t = double(i) / double(steps - 1);
    zs.push_back(spherical ? slerp(codes[0], codes[1], t) : codes[0] * (1 - t) + codes[1] * t);
  }
  auto z = torch::stack(zs);
  if (!model.uses_labels()) return model.decode(z);
  auto l = labels.to(torch::kCPU);
  return model.decode_for(z, class_path(l[0].item<int64_t>(), l[1].item<int64_t>(), steps, model.classes(), z.options()));
}

torch::Tensor interpolate_classes(ModelImpl& model, int64_t from, int64_t to, int64_t steps, int64_t rows, uint64_t seed) {
  require(model.uses_labels(), "interpolate --from-class/--to-class: model " + model.kind() +
                                   " is not conditioned on labels (train it with --conditional)");
  require(steps >= 2, "interpolate: --steps must be at least 2");
  require(rows >= 1, "interpolate: --rows must be at least 1");
  for (auto [c, flag] : {std::pair<int64_t, const char*>{from, "--from-class"}, {to, "--to-class"}})
    require(c >= 0 && c < model.classes(), std::string(flag) + " " + std::to_string(c) + ": this model's classes are 0.." +
                                               std::to_string(model.classes() - 1));
  torch::NoGradGuard g;
  model.eval();
  torch::manual_seed(seed);
  auto device = model_device(model);
  auto z = model.sample_prior(rows, torch::TensorOptions(torch::kFloat32)).to(device);
  auto path = class_path(from, to, steps, model.classes(), z.options());           // [steps, K]
  auto zz = z.repeat_interleave(steps, 0);                                          // row r: code r, steps times
  return model.decode_for(zz, path.repeat({rows, 1})).cpu();
}

torch::Tensor latent_manifold(ModelImpl& model, int64_t n, int64_t dim_x, int64_t dim_y, double span) {
  const int64_t d = model.latent_dim();
  require(n >= 2 && n <= 100, "manifold: -n must be in [2, 100] images per side (got " + std::to_string(n) + ")");
  require(dim_x >= 0 && dim_x < d && dim_y >= 0 && dim_y < d && dim_x != dim_y,
          "manifold: --dims must name two different code dimensions below " + std::to_string(d));
  require(span > 0, "manifold: --span must be positive");
  torch::NoGradGuard g;
  model.eval();
  // standard normal quantiles of (i + 0.5) / n
  auto p = (torch::arange(n, torch::kFloat64) + 0.5) / double(n);
  auto q = (std::sqrt(2.0) * torch::erfinv(2 * p - 1) * span).to(torch::kFloat32);
  auto z = torch::zeros({n * n, d});
  for (int64_t r = 0; r < n; ++r)
    for (int64_t c = 0; c < n; ++c) {
      z[r * n + c][dim_x] = q[c];
      z[r * n + c][dim_y] = q[n - 1 - r];  // up is positive
    }
  auto device = model_device(model);
  return model.decode(z.to(device)).cpu();
}

}  // namespace latentlab
