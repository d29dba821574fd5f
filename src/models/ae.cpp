#include "latentlab/models/ae.h"

#include "latentlab/losses.h"
#include "../kernels/kernels.h"

namespace latentlab {

torch::Tensor reconstruction_per_pixel(const torch::Tensor& logits, const torch::Tensor& x, bool bce) {
  double pixels = static_cast<double>(x.numel() / x.size(0));
  auto per_image = bce ? bce_with_logits_per_image(logits, x) : sse_per_image(torch::sigmoid(logits), x);
  return per_image / pixels;
}

AutoencoderImpl::AutoencoderImpl(const TrainConfig& c, ImageShape shape)
    : codec(*this, CodecOptions(shape, c.latent, c.latent)
                       .arch(c.arch)
                       .hidden(c.hidden)
                       .activation(c.activation)
                       .dropout(c.dropout)),
      shape_(shape),
      latent_(c.latent),
      bce_(c.loss == "bce"),
      reduction_(c.loss_reduction.empty() ? "mean" : c.loss_reduction),
      reg_(c) {}

torch::Tensor AutoencoderImpl::encode(const torch::Tensor& x) {
  return apply_activation(codec.encode(x), codec.activation());
}

torch::Tensor AutoencoderImpl::decode(const torch::Tensor& z) {
  return torch::sigmoid(decode_logits(z));
}

LossTerms AutoencoderImpl::losses(size_t, const Batch& batch) {
  const torch::Tensor& x = batch.images;
  auto input = is_training() ? corrupt(x, reg_.noise) : x;
  torch::Tensor code, jf2;
  if (reg_.contractive > 0) {
    auto [out, j] = codec.encode_with_jacobian(input, latent_, codec.activation());
    code = apply_activation(out, codec.activation());
    jf2 = j.mean();
  } else {
    code = encode(input);
  }
  auto recon = reconstruction_per_pixel(decode_logits(code), x, bce_).mean();
  LossTerms l{recon, {{bce_ ? "bce" : "mse", recon}}};
  reg_.add_penalties(l, code, jf2);
  return l;
}

bool AutoencoderImpl::fused_step_applies() const { return codec.taped_step_applies() && !reg_.penalise_code(); }

LossTerms AutoencoderImpl::losses_and_gradients(size_t phase, const Batch& batch) {
  const torch::Tensor& x = batch.images;
  if (!fused_step_applies()) return ModelImpl::losses_and_gradients(phase, batch);
  auto same = [](const torch::Tensor& t) { return t; };
  auto recon = taped_codec_step(codec, corrupt(x, reg_.noise), x, bce_, 1.0 / static_cast<double>(x.numel()),
                                codec.activation(), same, same);
  return {recon, {{bce_ ? "bce" : "mse", recon}}};
}

LossTerms AutoencoderImpl::eval_losses(const Batch& batch) {
  // the training loss on clean inputs: reconstruction plus the same penalties, so test_loss and
  // train_loss measure the same thing (the reconstruction alone is test_mse or test_bce)
  return losses(0, batch);
}

void register_ae() {
  ModelEntry e;
  e.name = "ae";
  e.summary = "the seeds' MLP autoencoder (784-256-64-20, MSE); --noise/--l1/--sparsity/--contractive/--dropout";
  e.defaults = {{"batch_size", 32}, {"hidden", {256, 64}}, {"loss", "mse"}, {"loss_reduction", "mean"}};
  e.reads = {"arch", "hidden", "activation", "loss", "loss_reduction", "dropout", "noise", "l1", "sparsity", "contractive"};
  e.factory = [](const TrainConfig& c, const ImageShape& shape) -> Model { return std::make_shared<AutoencoderImpl>(c, shape); };
  ModelRegistry::add(std::move(e));
}

}  // namespace latentlab
