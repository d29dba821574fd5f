#include "latentlab/error.h"
#include "latentlab/nn.h"

namespace latentlab {

Activation parse_activation(const std::string& name) {
  if (name == "relu") return Activation::relu;
  if (name == "leaky_relu") return Activation::leaky_relu;
  if (name == "elu") return Activation::elu;
  if (name == "tanh") return Activation::tanh;
  if (name == "sigmoid") return Activation::sigmoid;
  if (name == "identity" || name == "none") return Activation::identity;
  throw Error("activation '" + name + "' is unknown; choose relu, leaky_relu, elu, tanh, sigmoid or identity");
}

torch::Tensor apply_activation(const torch::Tensor& x, Activation a) {
  switch (a) {
    case Activation::relu: return torch::relu(x);
    case Activation::leaky_relu: return torch::leaky_relu(x, 0.2);
    case Activation::elu: return torch::elu(x);
    case Activation::tanh: return torch::tanh(x);
    case Activation::sigmoid: return torch::sigmoid(x);
    case Activation::identity: return x;
  }
  return x;
}

MlpImpl::MlpImpl(MlpOptions options_) : options(std::move(options_)) { reset(); }

void MlpImpl::reset() {
  TORCH_CHECK(options.in_features() > 0 && options.out_features() > 0, "Mlp: layer sizes must be positive");
  TORCH_CHECK(options.dropout() >= 0.0 && options.dropout() < 1.0, "Mlp: dropout must be in [0, 1)");
  act_ = parse_activation(options.activation());
  layers.clear();
  int64_t in = options.in_features();
  std::vector<int64_t> sizes = options.hidden();
  sizes.push_back(options.out_features());
  for (size_t i = 0; i < sizes.size(); ++i) {
    TORCH_CHECK(sizes[i] > 0, "Mlp: hidden sizes must be positive");
    layers.push_back(register_module("fc" + std::to_string(i), torch::nn::Linear(in, sizes[i])));
    in = sizes[i];
  }
}

torch::Tensor MlpImpl::forward(const torch::Tensor& x) {
  torch::Tensor h = x.reshape({x.size(0), -1});
  for (size_t i = 0; i < layers.size(); ++i) {
    h = layers[i]->forward(h);
    if (i + 1 < layers.size()) {
      h = apply_activation(h, act_);
      if (options.dropout() > 0) h = torch::dropout(h, options.dropout(), is_training());
    }
  }
  return h;
}

}  // namespace latentlab
