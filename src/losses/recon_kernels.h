#pragma once
// The reconstruction terms of the hand-written training pass (recon_sum_with_grad) on contiguous float32
// values, free of torch headers (src/losses/recon_kernels.cpp): one pass over the logits, with one
// exponential per value shared by the term and its gradient, instead of five or six ATen operations.
#include <cstdint>

namespace latentlab::kernels {

/// Returns the sum over i of softplus(l_i) - l_i t_i (BCE from logits); writes
/// dl_i = scale (sigmoid(l_i) - t_i).
double bce_with_logits_sum_grad(const float* l, const float* t, float* dl, int64_t n, float scale);
/// Returns the sum over i of (s_i - t_i)^2 with s_i = sigmoid(l_i); writes dl_i = 2 scale (s_i - t_i) s_i (1 - s_i).
double sigmoid_sse_sum_grad(const float* l, const float* t, float* dl, int64_t n, float scale);

}  // namespace latentlab::kernels
