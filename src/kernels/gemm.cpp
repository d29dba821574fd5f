#include "kernels.h"

#include "latentlab/build_config.h"
#if LATENTLAB_HAVE_DNNL
#include <dnnl.h>
#endif

namespace latentlab {

void gemm(torch::Tensor& c, const torch::Tensor& a, bool ta, const torch::Tensor& b, bool tb, bool accumulate) {
  const int64_t m = ta ? a.size(1) : a.size(0), k = ta ? a.size(0) : a.size(1), n = tb ? b.size(0) : b.size(1);
  TORCH_CHECK(c.dim() == 2 && c.size(0) == m && c.size(1) == n && (tb ? b.size(1) : b.size(0)) == k,
              "gemm: sizes do not match");
#if LATENTLAB_HAVE_DNNL
  auto fits = [](const torch::Tensor& t) {
    return t.device().is_cpu() && t.scalar_type() == torch::kFloat32 && t.is_contiguous();
  };
  if (fits(a) && fits(b) && fits(c) && m > 0 && n > 0 && k > 0) {
    dnnl_status_t s = dnnl_sgemm(ta ? 'T' : 'N', tb ? 'T' : 'N', m, n, k, 1.0f, a.data_ptr<float>(), a.size(1),
                                 b.data_ptr<float>(), b.size(1), accumulate ? 1.0f : 0.0f, c.data_ptr<float>(), n);
    TORCH_CHECK(s == dnnl_success, "gemm: dnnl_sgemm failed with status ", static_cast<int>(s));
    return;
  }
#endif
  auto opa = ta ? a.t() : a, opb = tb ? b.t() : b;
  if (accumulate)
    c.addmm_(opa, opb);
  else
    at::mm_out(c, opa, opb);
}

}  // namespace latentlab
