#include <ATen/Parallel.h>

#include <atomic>
#include <cmath>

#include "latentlab/error.h"
#include "latentlab/optim.h"
#include "../kernels/loops.h"

namespace latentlab {

FlatAdam::FlatAdam(const std::vector<torch::Tensor>& params, FlatAdamOptions opts) : options(opts) {
  TORCH_CHECK(!params.empty(), "FlatAdam: no parameters");
  TORCH_CHECK(options.lr() > 0, "FlatAdam: lr must be positive");
  TORCH_CHECK(options.beta1() >= 0 && options.beta1() < 1 && options.beta2() >= 0 && options.beta2() < 1,
              "FlatAdam: betas must be in [0, 1)");
  int64_t total = 0;
  for (const auto& p : params) {
    TORCH_CHECK(p.scalar_type() == torch::kFloat32, "FlatAdam: parameters must be float32");
    TORCH_CHECK(p.device() == params[0].device(), "FlatAdam: parameters must share one device");
    total += p.numel();
  }
  auto opts_t = params[0].options().requires_grad(false);
  params_ = torch::empty({total}, opts_t);
  TORCH_CHECK(options.spare() >= 0, "FlatAdam: spare must not be negative");
  grads_ = torch::zeros({total + options.spare()}, opts_t);
  m_ = torch::zeros({total}, opts_t);
  v_ = torch::zeros({total}, opts_t);
  torch::NoGradGuard no_grad;
  if (!options.alias()) {
    handles_ = params;
    gather();
    return;
  }
  int64_t off = 0;
  for (auto p : params) {  // a copy of the handle: set_data changes the shared TensorImpl
    int64_t n = p.numel();
    auto pv = params_.slice(0, off, off + n);
    pv.copy_(p.reshape({-1}));
    p.set_data(pv.view(p.sizes()));
    p.mutable_grad() = grads_.slice(0, off, off + n).view(p.sizes());
    off += n;
  }
}

void FlatAdam::zero_grad() {
  if (options.alias()) {
    grads_.zero_();
    return;
  }
  for (auto& p : handles_)
    if (p.grad().defined()) p.mutable_grad().zero_();
}

void FlatAdam::collect() {
  if (options.alias()) return;
  gather();
  collected_ = true;
}

void FlatAdam::gather() {
  torch::NoGradGuard no_grad;
  int64_t off = 0;
  for (auto& p : handles_) {
    int64_t n = p.numel();
    params_.slice(0, off, off + n).copy_(p.detach().reshape({-1}));
    if (p.grad().defined())
      grads_.slice(0, off, off + n).copy_(p.grad().reshape({-1}));
    else
      grads_.slice(0, off, off + n).zero_();
    off += n;
  }
}

void FlatAdam::scatter() {
  torch::NoGradGuard no_grad;
  int64_t off = 0;
  for (auto& p : handles_) {
    int64_t n = p.numel();
    p.detach().copy_(params_.slice(0, off, off + n).view(p.sizes()));
    off += n;
  }
}

bool FlatAdam::step() {
  if (!options.alias() && !collected_) gather();
  collected_ = false;
  ++step_;
  const double b1 = options.beta1(), b2 = options.beta2();
  const double bc1 = 1 - std::pow(b1, static_cast<double>(step_));
  const double bc2 = 1 - std::pow(b2, static_cast<double>(step_));
  const float step_size = static_cast<float>(options.lr() / bc1);
  const float inv_sqrt_bc2 = static_cast<float>(1.0 / std::sqrt(bc2));
  const float eps = static_cast<float>(options.eps());
  const float fb1 = static_cast<float>(b1), fb2 = static_cast<float>(b2);
  bool finite = true;
  if (params_.is_cpu()) {
    float* p = params_.data_ptr<float>();
    const float* g = grads_.data_ptr<float>();
    float* m = m_.data_ptr<float>();
    float* v = v_.data_ptr<float>();
    std::atomic<bool> bad{false};
    at::parallel_for(0, params_.numel(), 65536, [&](int64_t begin, int64_t end) {
      if (!kernels::adam_kernel(p + begin, g + begin, m + begin, v + begin, end - begin, fb1, fb2, step_size, inv_sqrt_bc2, eps))
        bad.store(true, std::memory_order_relaxed);
    });
    finite = !bad.load();
  } else {
    torch::NoGradGuard no_grad;
    torch::Tensor g = flat_grads();
    m_.mul_(b1).add_(g, 1 - b1);
    v_.mul_(b2).addcmul_(g, g, 1 - b2);
    params_.addcdiv_(m_, v_.sqrt().mul_(inv_sqrt_bc2).add_(eps), -step_size);
  }
  if (!options.alias()) scatter();
  return finite;
}

void FlatAdam::save(WeightsWriter& w, const std::string& prefix) const {
  w.tensors.emplace_back(prefix + "m", m_);
  w.tensors.emplace_back(prefix + "v", v_);
  w.tensors.emplace_back(prefix + "step", torch::tensor(step_, torch::kInt64));
}

void FlatAdam::load(const WeightsFile& f, const std::string& prefix) {
  torch::Tensor m = f.tensor(prefix + "m"), v = f.tensor(prefix + "v"), s = f.tensor(prefix + "step");
  require(m.defined() && v.defined() && s.defined(),
          f.path() + ": holds no optimizer state " + prefix + "m, v and step; it is not a complete checkpoint");
  require(m.scalar_type() == torch::kFloat32 && v.scalar_type() == torch::kFloat32 && s.scalar_type() == torch::kInt64 &&
              s.numel() == 1 && s.item<int64_t>() >= 0,
          f.path() + ": malformed optimizer state " + prefix + "(m, v: float32; step: one int64 >= 0)");
  require(m.numel() == m_.numel() && v.numel() == v_.numel(),
          f.path() + ": optimizer state holds " + std::to_string(m.numel()) + " values but the model has " +
              std::to_string(m_.numel()) + " parameters; the checkpoint is from a different model");
  m_.copy_(m.reshape_as(m_));
  v_.copy_(v.reshape_as(v_));
  step_ = s.item<int64_t>();
}

}  // namespace latentlab
