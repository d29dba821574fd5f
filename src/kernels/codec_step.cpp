// The reconstruction term with its gradient, and the codec's hand-written training step (kernels.h).
#include <ATen/Parallel.h>

#include "kernels.h"

namespace latentlab {

torch::Tensor recon_sum_with_grad(const torch::Tensor& logits, const torch::Tensor& target, bool bce, double scale,
                                  torch::Tensor& dlogits) {
  auto l = logits.reshape({logits.size(0), -1});
  auto t = target.reshape({target.size(0), -1});
  TORCH_CHECK(l.sizes() == t.sizes(), "recon_sum_with_grad: logits and target differ in size");
  reuse_buffer(dlogits, l.size(0), l.size(1), l);
  if (l.is_cpu() && l.scalar_type() == torch::kFloat32 && t.scalar_type() == torch::kFloat32 && l.is_contiguous() &&
      t.is_contiguous()) {
    const float* lp = l.data_ptr<float>();
    const float* tp = t.data_ptr<float>();
    float* dp = dlogits.data_ptr<float>();
    const auto fs = static_cast<float>(scale);
    double sum = at::parallel_reduce(
        0, l.numel(), 32768, 0.0,
        [&](int64_t begin, int64_t end, double) {
          return bce ? kernels::bce_with_logits_sum_grad(lp + begin, tp + begin, dp + begin, end - begin, fs)
                     : kernels::sigmoid_sse_sum_grad(lp + begin, tp + begin, dp + begin, end - begin, fs);
        },
        std::plus<double>());
    return torch::full({}, sum * scale, l.options());
  }
  at::sigmoid_out(dlogits, l);
  if (bce) {
    // softplus(l) - l t, and sigmoid(l) - t
    auto value = torch::softplus(l).sum().sub_(l.flatten().dot(t.flatten())).mul_(scale);
    dlogits.sub_(t).mul_(scale);
    return value;
  }
  // (s - t)^2 with s = sigmoid(l), and 2 (s - t) s (1 - s)
  auto r = dlogits - t;
  auto value = r.flatten().dot(r.flatten()).mul_(scale);
  at::sigmoid_backward_out(dlogits, r.mul_(2 * scale), dlogits);
  return value;
}

torch::Tensor taped_codec_step(Codec& codec, const torch::Tensor& input, const torch::Tensor& target, bool bce,
                               double recon_scale, Activation code_act,
                               const std::function<torch::Tensor(const torch::Tensor& out)>& to_code,
                               const std::function<torch::Tensor(const torch::Tensor& dcode)>& to_output_grad) {
  TORCH_CHECK(codec.mlp_encoder && can_tape(*codec.mlp_encoder) && can_tape(*codec.mlp_decoder),
              "taped_codec_step: needs MLP networks without dropout in training (Codec::taped_step_applies)");
  torch::NoGradGuard no_grad;
  CodecTapes& t = codec.tapes();
  const torch::Tensor& out = forward_taped(*codec.mlp_encoder, input, t.encoder, code_act);
  const torch::Tensor& logits = forward_taped(*codec.mlp_decoder, to_code(out), t.decoder);
  torch::Tensor recon = recon_sum_with_grad(logits, target, bce, recon_scale, t.dlogits);
  torch::Tensor dcode = backward_taped(*codec.mlp_decoder, t.dlogits, t.decoder, true);
  backward_taped(*codec.mlp_encoder, to_output_grad(dcode), t.encoder, false);
  return recon;
}

}  // namespace latentlab
