#pragma once
// Matrix products of the MLP's hand-written training pass (src/nn/mlp_taped.cpp).
#include <torch/torch.h>

namespace latentlab {

/// c = op(a) op(b) + (accumulate ? c : 0), with op(m) = m^T where `ta` / `tb`. On the CPU with float32
/// contiguous matrices and oneDNN present (LATENTLAB_HAVE_DNNL) this is one dnnl_sgemm call; otherwise
/// ATen's mm_out / addmm_.
void gemm(torch::Tensor& c, const torch::Tensor& a, bool ta, const torch::Tensor& b, bool tb, bool accumulate);

}  // namespace latentlab
