#pragma once
// FlatAdam: Adam over one contiguous buffer of parameters and one of gradients.
// The parameters are re-pointed into the flat buffer (they stay ordinary module parameters), their
// gradients are views of the flat gradient buffer that autograd accumulates into, and a step is one
// fused loop instead of a dozen operations per parameter tensor. Same update as torch.optim.Adam.
#include <torch/torch.h>

#include <string>
#include <vector>

#include "latentlab/weights.h"

namespace latentlab {

struct FlatAdamOptions {
  FlatAdamOptions(double lr = 1e-3) : lr_(lr) {}
  /// Learning rate. Default: 1e-3.
  TORCH_ARG(double, lr);
  /// Decay of the first moment. Default: 0.9.
  TORCH_ARG(double, beta1) = 0.9;
  /// Decay of the second moment. Default: 0.999.
  TORCH_ARG(double, beta2) = 0.999;
  /// Added to the denominator. Default: 1e-8.
  TORCH_ARG(double, eps) = 1e-8;
  /// Re-point the parameters into the flat buffer (fastest). Off: the parameters keep their storage
  /// (which another optimiser may own, as when two phases share the encoder) and each step gathers
  /// them and their gradients into the buffers and scatters the update back. Default: true.
  TORCH_ARG(bool, alias) = true;
  /// Extra float32 slots after the gradients in the flat gradient buffer, which the update ignores: a
  /// data-parallel trainer fills them (the loss, a stop flag) so that one allreduce of the buffer
  /// carries them with the gradients. Default: 0.
  TORCH_ARG(int64_t, spare) = 0;
};

class FlatAdam {
 public:
  /// Takes over `params` (all on one device, float32, contiguous). Load saved weights into the
  /// module before constructing: Module::load replaces parameter storage and would break the aliasing.
  FlatAdam(const std::vector<torch::Tensor>& params, FlatAdamOptions options);
  /// Zeroes every gradient with one fill.
  void zero_grad();
  /// One Adam update of every parameter. On the CPU it returns whether every gradient was finite,
  /// found in the same pass as the update (a NaN or infinite gradient has then already spread into the
  /// parameters: callers that must keep them check before the step); on CUDA it returns true.
  bool step();
  /// Gathers the gradients into the flat buffer now (alias(false); a no-op otherwise), for a caller
  /// that reduces the buffer before step(), which then uses it as it is.
  void collect();
  /// Adds the state (m, v and step, a 0-dim int64 tensor) to `w` as <prefix>m, <prefix>v, <prefix>step.
  void save(WeightsWriter& w, const std::string& prefix) const;
  /// Restores what save() wrote; throws latentlab::Error naming the file when a tensor is missing or
  /// its size disagrees with the parameters.
  void load(const WeightsFile& f, const std::string& prefix);
  int64_t steps() const { return step_; }
  const torch::Tensor& flat_params() const { return params_; }
  /// The gradients, one value per parameter element.
  torch::Tensor flat_grads() const { return grads_.narrow(0, 0, params_.numel()); }
  /// The gradients followed by options.spare() extra slots.
  const torch::Tensor& grad_buffer() const { return grads_; }
  FlatAdamOptions options;

 private:
  void gather();
  void scatter();
  std::vector<torch::Tensor> handles_;  // the parameters, for alias(false)
  torch::Tensor params_, grads_, m_, v_;
  int64_t step_ = 0;
  bool collected_ = false;
};

}  // namespace latentlab
