// Weight initialisation schemes (nn.h: init_parameters).
#include <cmath>

#include "latentlab/nn.h"

namespace latentlab {

void init_parameters(torch::nn::Module& m, const std::string& scheme) {
  TORCH_CHECK(scheme == "default" || scheme == "dcgan" || scheme == "glorot", "unknown initialisation ", scheme);
  torch::NoGradGuard no_grad;
  for (const auto& mod : m.modules()) {
    auto params = mod->named_parameters(/*recurse=*/false);
    torch::Tensor* w = params.find("weight");
    if (!w) continue;
    torch::Tensor* b = params.find("bias");
    // a normalisation layer: one scale per channel, with running statistics
    const bool norm = w->dim() == 1 && mod->named_buffers(false).find("running_mean") != nullptr;
    if (norm) {
      if (scheme == "dcgan")
        w->normal_(1.0, 0.02);
      else
        w->fill_(1.0);
      if (b) b->zero_();
      continue;
    }
    if (w->dim() < 2) continue;
    if (scheme == "default") {
      torch::nn::init::kaiming_uniform_(*w, std::sqrt(5.0));
      if (b) {
        const double fan_in = static_cast<double>(std::get<0>(torch::nn::init::_calculate_fan_in_and_fan_out(*w)));
        const double bound = fan_in > 0 ? 1.0 / std::sqrt(fan_in) : 0.0;
        b->uniform_(-bound, bound);
      }
    } else {
      if (scheme == "dcgan")
        w->normal_(0.0, 0.02);
      else
        torch::nn::init::xavier_uniform_(*w);
      if (b) b->zero_();
    }
  }
}

}  // namespace latentlab
