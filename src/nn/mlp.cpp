#include "latentlab/error.h"
#include "latentlab/nn.h"
#include "../kernels/loops.h"

namespace latentlab {

Activation parse_activation(const std::string& name) {
  if (name == "relu") return Activation::relu;
  if (name == "leaky_relu") return Activation::leaky_relu;
  if (name == "elu") return Activation::elu;
  if (name == "tanh") return Activation::tanh;
  if (name == "sigmoid") return Activation::sigmoid;
  if (name == "identity" || name == "none") return Activation::identity;
  throw Error("--activation " + name + ": unknown activation; choose relu, leaky_relu, elu, tanh, sigmoid or identity");
}

torch::Tensor apply_activation(const torch::Tensor& x, Activation a) {
  switch (a) {
    case Activation::relu: return torch::relu(x);
    case Activation::leaky_relu: return torch::leaky_relu(x, kernels::kLeakySlope);
    case Activation::elu: return torch::elu(x);
    case Activation::tanh: return torch::tanh(x);
    case Activation::sigmoid: return torch::sigmoid(x);
    case Activation::identity: return x;
  }
  return x;
}

torch::Tensor activation_derivative(const torch::Tensor& x, Activation a) {
  switch (a) {
    case Activation::relu: return (x > 0).to(x.dtype());
    case Activation::leaky_relu: return torch::where(x > 0, torch::ones_like(x), torch::full_like(x, kernels::kLeakySlope));
    case Activation::elu: return torch::where(x > 0, torch::ones_like(x), x.exp());
    case Activation::tanh: return 1 - torch::tanh(x).pow(2);
    case Activation::sigmoid: {
      auto s = torch::sigmoid(x);
      return s * (1 - s);
    }
    case Activation::identity: return torch::ones_like(x);
  }
  return torch::ones_like(x);
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

namespace latentlab {

std::pair<torch::Tensor, torch::Tensor> MlpImpl::forward_with_jacobian(const torch::Tensor& x, int64_t rows,
                                                                      Activation out_act) {
  TORCH_CHECK(options.dropout() == 0 || !is_training(), "Mlp: the Jacobian is not defined with dropout");
  TORCH_CHECK(rows > 0 && rows <= options.out_features(), "Mlp: Jacobian rows out of range");
  torch::Tensor h = x.reshape({x.size(0), -1});
  std::vector<torch::Tensor> pre;
  for (size_t i = 0; i + 1 < layers.size(); ++i) {
    pre.push_back(layers[i]->forward(h));
    h = apply_activation(pre.back(), act_);
  }
  torch::Tensor out = layers.back()->forward(h);
  // A = D_out W_L, then A <- (A * d_i) W_i down to the input.
  auto d_out = activation_derivative(out.slice(1, 0, rows), out_act);
  auto A = d_out.unsqueeze(2) * layers.back()->weight.slice(0, 0, rows).unsqueeze(0);
  for (size_t i = pre.size(); i-- > 0;)
    A = torch::matmul(A * activation_derivative(pre[i], act_).unsqueeze(1), layers[i]->weight);
  return {out, A.pow(2).sum({1, 2})};
}

}  // namespace latentlab
