// Kept free of torch headers so it compiles with its own flags (see CMakeLists.txt): -ffast-math lets
// GCC vectorise expf and log1pf through glibc's libmvec and the sums with partial accumulators.
// Non-finite logits still give a non-finite sum and gradient (tests/test_losses.cpp), which the
// trainer's check then reports.
#include <cmath>

#include "loops.h"

namespace latentlab::kernels {
namespace {

// The loop both terms share, inlined into each cloned entry point below so that it is compiled for
// that clone's instruction set. With e = exp(-|l|) <= 1: sigmoid(l) = (l >= 0 ? 1 : e) / (1 + e), and
// for BCE softplus(l) = max(l, 0) + log1p(e).
template <bool kBce>
[[gnu::always_inline]] inline double sum_grad(const float* __restrict__ l, const float* __restrict__ t,
                                              float* __restrict__ dl, int64_t n, float scale) {
  double total = 0;
  constexpr int64_t kBlock = 4096;  // float partial sums over short blocks, added in double
  for (int64_t start = 0; start < n; start += kBlock) {
    const int64_t end = start + kBlock < n ? start + kBlock : n;
    float sum = 0;
#pragma omp simd reduction(+ : sum)
    for (int64_t i = start; i < end; ++i) {
      const float x = l[i];
      const float e = expf(-fabsf(x));
      const float r = 1.0f / (1.0f + e);
      const float s = x >= 0 ? r : e * r;
      if constexpr (kBce) {
        sum += (x > 0 ? x : 0.0f) + log1pf(e) - x * t[i];
        dl[i] = scale * (s - t[i]);
      } else {
        const float d = s - t[i];
        sum += d * d;
        dl[i] = 2 * scale * d * s * (1 - s);
      }
    }
    total += sum;
  }
  return total;
}

}  // namespace

LATENTLAB_CLONES double bce_with_logits_sum_grad(const float* l, const float* t, float* dl, int64_t n, float scale) {
  return sum_grad<true>(l, t, dl, n, scale);
}

LATENTLAB_CLONES double sigmoid_sse_sum_grad(const float* l, const float* t, float* dl, int64_t n, float scale) {
  return sum_grad<false>(l, t, dl, n, scale);
}

}  // namespace latentlab::kernels
