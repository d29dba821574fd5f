#include "latentlab/error.h"
#include "latentlab/nn.h"

#include <cmath>

namespace latentlab {
namespace {

// A transposed convolution computed as the input gradient of the matching convolution (and its
// backward as a convolution plus that convolution's weight gradient). ATen 1.13 runs
// nn::ConvTranspose2d on the CPU through its slow im2col path; these calls reach oneDNN, about 3x
// faster for the DCGAN's layers, with the same result (checked against nn::ConvTranspose2d in tests).
struct ConvTransposeFn : torch::autograd::Function<ConvTransposeFn> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x, const torch::Tensor& w,
                               int64_t stride, int64_t padding) {
    ctx->save_for_backward({x, w});
    ctx->saved_data["stride"] = stride;
    ctx->saved_data["padding"] = padding;
    int64_t h = (x.size(2) - 1) * stride - 2 * padding + w.size(2);
    int64_t wd = (x.size(3) - 1) * stride - 2 * padding + w.size(3);
    auto shape = torch::empty({x.size(0), w.size(1), h, wd}, x.options());
    return std::get<0>(at::convolution_backward(x, shape, w, c10::nullopt, {stride, stride}, {padding, padding}, {1, 1},
                                                false, {0, 0}, 1, {true, false, false}));
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx, torch::autograd::variable_list g) {
    auto saved = ctx->get_saved_variables();
    const auto &x = saved[0], &w = saved[1];
    int64_t stride = ctx->saved_data["stride"].toInt(), padding = ctx->saved_data["padding"].toInt();
    auto gy = g[0].contiguous();
    auto grads = at::convolution_backward(x, gy, w, c10::nullopt, {stride, stride}, {padding, padding}, {1, 1}, false,
                                          {0, 0}, 1, {false, true, false});
    torch::Tensor gx;
    if (ctx->needs_input_grad(0)) gx = torch::conv2d(gy, w, {}, stride, padding);
    return {gx, std::get<1>(grads), torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace

ConvTranspose2dFastImpl::ConvTranspose2dFastImpl(int64_t in, int64_t out, int64_t kernel, int64_t stride,
                                                 int64_t padding, bool with_bias)
    : stride(stride), padding(padding) {
  weight = register_parameter("weight", torch::empty({in, out, kernel, kernel}));
  torch::nn::init::kaiming_uniform_(weight, std::sqrt(5.0));  // as nn::ConvTranspose2d
  if (with_bias) {
    double bound = 1.0 / std::sqrt(double(out * kernel * kernel));  // its fan-in
    bias = register_parameter("bias", torch::empty({out}).uniform_(-bound, bound));
  }
}

torch::Tensor ConvTranspose2dFastImpl::forward(const torch::Tensor& x) {
  auto y = ConvTransposeFn::apply(x.contiguous(), weight, stride, padding);
  return bias.defined() ? y + bias.view({1, -1, 1, 1}) : y;
}

std::vector<int64_t> conv_sizes(int64_t size) {
  TORCH_CHECK(size >= 8 && size % 2 == 0, "conv: image size must be even and at least 8");
  std::vector<int64_t> s{size};
  while (s.back() % 2 == 0 && s.back() > 4) s.push_back(s.back() / 2);
  return s;
}

int64_t conv_channels(int64_t base, size_t i) { return std::min<int64_t>(256, base << i); }

ConvEncoderImpl::ConvEncoderImpl(ConvEncoderOptions options_) : options(std::move(options_)) { reset(); }

void ConvEncoderImpl::reset() {
  act_ = parse_activation(options.activation());
  auto sizes = conv_sizes(options.size());
  convs.clear();
  int64_t in = options.channels();
  for (size_t i = 0; i + 1 < sizes.size(); ++i) {
    int64_t out = conv_channels(options.base_channels(), i);
    convs.push_back(register_module("conv" + std::to_string(i),
                                    torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 4).stride(2).padding(1))));
    in = out;
  }
  fc = register_module("fc", torch::nn::Linear(in * sizes.back() * sizes.back(), options.out_features()));
}

torch::Tensor ConvEncoderImpl::forward(const torch::Tensor& x) {
  auto h = x.reshape({x.size(0), options.channels(), options.size(), options.size()});
  for (auto& c : convs) h = apply_activation(c->forward(h), act_);
  return fc->forward(h.flatten(1));
}

ConvDecoderImpl::ConvDecoderImpl(ConvEncoderOptions options_) : options(std::move(options_)) { reset(); }

void ConvDecoderImpl::reset() {
  act_ = parse_activation(options.activation());
  auto sizes = conv_sizes(options.size());
  size_t layers = sizes.size() - 1;
  int64_t in = conv_channels(options.base_channels(), layers - 1);
  fc = register_module("fc", torch::nn::Linear(options.out_features(), in * sizes.back() * sizes.back()));
  deconvs.clear();
  for (size_t i = layers; i-- > 0;) {
    int64_t out = i == 0 ? options.channels() : conv_channels(options.base_channels(), i - 1);
    deconvs.push_back(register_module(
        "deconv" + std::to_string(layers - 1 - i),
        ConvTranspose2dFast(in, out, 4, 2, 1, true)));
    in = out;
  }
}

torch::Tensor ConvDecoderImpl::forward(const torch::Tensor& z) {
  auto sizes = conv_sizes(options.size());
  int64_t s = sizes.back();
  auto h = apply_activation(fc->forward(z), act_).reshape({z.size(0), -1, s, s});
  for (size_t i = 0; i < deconvs.size(); ++i) {
    h = deconvs[i]->forward(h);
    if (i + 1 < deconvs.size()) h = apply_activation(h, act_);
  }
  return h;
}

}  // namespace latentlab
