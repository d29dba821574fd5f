#include <cmath>

#include "latentlab/error.h"
#include "latentlab/eval.h"

namespace latentlab {

torch::Tensor slerp(const torch::Tensor& a, const torch::Tensor& b, double t) {
  auto na = a / a.norm().clamp_min(1e-12), nb = b / b.norm().clamp_min(1e-12);
  double cos = na.dot(nb).clamp(-1, 1).item<double>();
  double omega = std::acos(cos);
  if (std::sin(omega) < 1e-6) return a * (1 - t) + b * t;
  return a * (std::sin((1 - t) * omega) / std::sin(omega)) + b * (std::sin(t * omega) / std::sin(omega));
}

torch::Tensor interpolate_images(ModelImpl& model, const torch::Tensor& x_from, const torch::Tensor& x_to, int64_t steps,
                                 bool spherical) {
  require(steps >= 2, "interpolate: --steps must be at least 2");
  torch::NoGradGuard g;
  model.eval();
  auto codes = model.code(torch::stack({x_from, x_to}));
  std::vector<torch::Tensor> zs;
  for (int64_t i = 0; i < steps; ++i) {
    double t = double(i) / double(steps - 1);
    zs.push_back(spherical ? slerp(codes[0], codes[1], t) : codes[0] * (1 - t) + codes[1] * t);
  }
  return model.decode(torch::stack(zs));
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
