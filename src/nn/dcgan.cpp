#include "latentlab/error.h"
#include "latentlab/nn.h"

#include <cmath>

namespace latentlab {
namespace {

struct Layer {
  int64_t kernel, stride, padding, mult;  // mult: feature maps as a multiple of ngf/ndf (0: image channels / one logit)
};

struct Spec {
  int64_t size;
  std::vector<Layer> g, d;
};

// Generator layers from the 1x1 code up; discriminator layers from the image down.
const std::vector<Spec>& specs() {
  static const std::vector<Spec> s = {
      {28, {{4, 1, 0, 4}, {3, 2, 1, 2}, {4, 2, 1, 1}, {4, 2, 1, 0}}, {{4, 2, 1, 1}, {4, 2, 1, 2}, {4, 2, 1, 4}, {3, 1, 0, 0}}},
      {32, {{4, 1, 0, 4}, {4, 2, 1, 2}, {4, 2, 1, 1}, {4, 2, 1, 0}}, {{4, 2, 1, 1}, {4, 2, 1, 2}, {4, 2, 1, 4}, {4, 1, 0, 0}}},
      {64,
       {{4, 1, 0, 8}, {4, 2, 1, 4}, {4, 2, 1, 2}, {4, 2, 1, 1}, {4, 2, 1, 0}},
       {{4, 2, 1, 1}, {4, 2, 1, 2}, {4, 2, 1, 4}, {4, 2, 1, 8}, {4, 1, 0, 0}}},
      {96,
       {{4, 1, 0, 8}, {4, 2, 1, 4}, {4, 2, 1, 2}, {4, 2, 1, 1}, {5, 3, 1, 0}},
       {{5, 3, 1, 1}, {4, 2, 1, 2}, {4, 2, 1, 4}, {4, 2, 1, 8}, {4, 1, 0, 0}}},
  };
  return s;
}

const Spec& spec(int64_t size) {
  for (const auto& s : specs())
    if (s.size == size) return s;
  std::string sizes;
  for (auto v : dcgan_sizes()) sizes += (sizes.empty() ? "" : ", ") + std::to_string(v);
  throw Error("the DCGAN networks are defined for images of " + sizes + " pixels, not " + std::to_string(size) +
              "; pass --image-size with one of these (image folders), or, for models other than dcgan, --arch mlp (the MLP GAN is --model gan)");
}

// Flattens [b, nz] codes to [b, nz, 1, 1] inside the Sequential.
struct ToMapImpl : torch::nn::Module {
  torch::Tensor forward(const torch::Tensor& z) { return z.dim() == 2 ? z.view({z.size(0), z.size(1), 1, 1}) : z; }
};
TORCH_MODULE(ToMap);

}  // namespace

const std::vector<int64_t>& dcgan_sizes() {
  static const std::vector<int64_t> v = [] {
    std::vector<int64_t> out;
    for (const auto& s : specs()) out.push_back(s.size);
    return out;
  }();
  return v;
}

torch::Tensor SqueezeLogitImpl::forward(const torch::Tensor& x) { return x.view({x.size(0)}); }

torch::nn::Sequential dcgan_generator(int64_t nz, int64_t channels, int64_t size, int64_t ngf) {
  namespace nn = torch::nn;
  const Spec& s = spec(size);
  nn::Sequential seq(ToMap{});
  int64_t in = nz;
  for (size_t i = 0; i < s.g.size(); ++i) {
    const Layer& l = s.g[i];
    int64_t out = l.mult ? l.mult * ngf : channels;
    seq->push_back(ConvTranspose2dFast(in, out, l.kernel, l.stride, l.padding));
    if (l.mult) {
      seq->push_back(nn::BatchNorm2d(out));
      seq->push_back(nn::ReLU(nn::ReLUOptions(true)));
    }
    in = out;
  }
  return seq;
}

torch::nn::Sequential dcgan_discriminator(int64_t channels, int64_t size, int64_t ndf, const std::string& norm) {
  namespace nn = torch::nn;
  TORCH_CHECK(norm == "batch" || norm == "layer" || norm == "none", "DCGAN discriminator: unknown normalisation ", norm);
  const Spec& s = spec(size);
  nn::Sequential seq;
  int64_t in = channels;
  for (size_t i = 0; i < s.d.size(); ++i) {
    const Layer& l = s.d[i];
    int64_t out = l.mult ? l.mult * ndf : 1;
    seq->push_back(nn::Conv2d(nn::Conv2dOptions(in, out, l.kernel).stride(l.stride).padding(l.padding).bias(false)));
    if (l.mult) {
      if (i > 0 && norm == "batch") seq->push_back(nn::BatchNorm2d(out));
      if (i > 0 && norm == "layer") seq->push_back(nn::GroupNorm(nn::GroupNormOptions(1, out)));  // over C, H, W
      seq->push_back(nn::LeakyReLU(nn::LeakyReLUOptions().negative_slope(0.2).inplace(true)));
    }
    in = out;
  }
  seq->push_back(SqueezeLogit{});
  return seq;
}

}  // namespace latentlab
