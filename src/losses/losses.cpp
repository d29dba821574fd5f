#include "latentlab/losses.h"


namespace latentlab {
namespace {

// BCE(l, t) = softplus(l) - l * t, with the gradient sigmoid(l) - t written directly: a third of the
// elementwise passes of the composed ATen version, forward and backward together.
struct BceWithLogits : public torch::autograd::Function<BceWithLogits> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& l, const torch::Tensor& t) {
    TORCH_CHECK(!t.requires_grad(), "bce_with_logits_per_image: the target must not require a gradient");
    ctx->save_for_backward({l, t});
    return torch::softplus(l).sum(1) - (l * t).sum(1);
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad_out) {
    auto saved = ctx->get_saved_variables();
    auto g = torch::sigmoid(saved[0]).sub_(saved[1]).mul_(grad_out[0].unsqueeze(1));
    return {g, torch::Tensor()};
  }
};

}  // namespace

torch::Tensor bce_with_logits_per_image(const torch::Tensor& logits, const torch::Tensor& target) {
  auto l = logits.reshape({logits.size(0), -1});
  auto t = target.reshape({target.size(0), -1});
  return BceWithLogits::apply(l, t);
}

torch::Tensor sse_per_image(const torch::Tensor& recon, const torch::Tensor& target) {
  auto d = recon.reshape({recon.size(0), -1}) - target.reshape({target.size(0), -1});
  return d.pow(2).sum(1);
}

torch::Tensor kl_std_normal_per_image(const torch::Tensor& mu, const torch::Tensor& logvar) {
  return (mu.pow(2) + logvar.exp() - logvar - 1).sum(1).mul(0.5);
}

}  // namespace latentlab
