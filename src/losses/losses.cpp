#include "latentlab/losses.h"

namespace latentlab {

torch::Tensor bce_with_logits_per_image(const torch::Tensor& logits, const torch::Tensor& target) {
  auto l = logits.reshape({logits.size(0), -1});
  auto t = target.reshape({target.size(0), -1});
  return torch::binary_cross_entropy_with_logits(l, t, {}, {}, at::Reduction::None).sum(1);
}

torch::Tensor sse_per_image(const torch::Tensor& recon, const torch::Tensor& target) {
  auto d = recon.reshape({recon.size(0), -1}) - target.reshape({target.size(0), -1});
  return d.pow(2).sum(1);
}

torch::Tensor kl_std_normal_per_image(const torch::Tensor& mu, const torch::Tensor& logvar) {
  return (mu.pow(2) + logvar.exp() - logvar - 1).sum(1).mul(0.5);
}

}  // namespace latentlab
