// Spectral normalisation of a network's layers (nn.h: add_spectral_norm, apply_spectral_norm).
#include "latentlab/nn.h"

namespace latentlab {
namespace {

// The layers spectral normalisation applies to, with a handle on the weight their forward reads.
template <class F>
void for_each_layer(torch::nn::Module& m, F&& f) {
  for (const auto& mod : m.modules()) {
    if (auto conv = mod->as<torch::nn::Conv2d>())
      f(*mod, conv->weight);
    else if (auto lin = mod->as<torch::nn::Linear>())
      f(*mod, lin->weight);
  }
}

torch::Tensor unit(const torch::Tensor& x) { return x / x.norm().clamp_min(1e-12); }

}  // namespace

int64_t add_spectral_norm(torch::nn::Module& m) {
  int64_t n = 0;
  for_each_layer(m, [&](torch::nn::Module& layer, torch::Tensor&) {
    const torch::Tensor w = *layer.named_parameters(false).find("weight");
    torch::NoGradGuard no_grad;
    const int64_t rows = w.size(0), cols = w.numel() / rows;
    layer.register_buffer("weight_u", unit(torch::randn({rows}, w.options())));
    layer.register_buffer("weight_v", unit(torch::randn({cols}, w.options())));
    ++n;
  });
  return n;
}

void apply_spectral_norm(torch::nn::Module& m, bool update) {
  for_each_layer(m, [&](torch::nn::Module& layer, torch::Tensor& used) {
    auto buffers = layer.named_buffers(false);
    torch::Tensor* u = buffers.find("weight_u");
    torch::Tensor* v = buffers.find("weight_v");
    if (!u || !v) return;  // a layer added after add_spectral_norm: left alone
    const torch::Tensor w = *layer.named_parameters(false).find("weight");
    auto mat = w.reshape({w.size(0), -1});
    if (update) {  // one power iteration, in place, outside the graph (as torch.nn.utils.spectral_norm)
      torch::NoGradGuard no_grad;
      v->copy_(unit(torch::mv(mat.t(), *u)));
      u->copy_(unit(torch::mv(mat, *v)));
    }
    // sigma = u^T W v, differentiable in W, with copies of u and v: the graph keeps them, and the next
    // forward pass of the same step (D sees real and fake images) updates the buffers in place
    auto sigma = torch::dot(u->clone(), torch::mv(mat, v->clone()));
    used = w / sigma;
  });
}

}  // namespace latentlab
