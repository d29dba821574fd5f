#include "latentlab/error.h"
#include "latentlab/nn.h"

namespace latentlab {

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
