// The fused Adam update, kept free of torch headers so it compiles fast with its own flags.
#include <cmath>
#include <cstdint>
#include <cstring>

#include "loops.h"

namespace latentlab::kernels {

// Returns whether every gradient was finite: an exponent of all ones (NaN or infinity) is found with
// an integer test that vectorises with the update, so the check costs no extra pass over memory.
LATENTLAB_CLONES bool adam_kernel(float* __restrict__ p, const float* __restrict__ g, float* __restrict__ m,
                                  float* __restrict__ v, int64_t n, float b1, float b2, float step_size,
                                  float inv_sqrt_bc2, float eps) {
  uint32_t nonfinite = 0;
  for (int64_t i = 0; i < n; ++i) {
    float gi = g[i];
    uint32_t bits;
    std::memcpy(&bits, &gi, sizeof bits);
    nonfinite |= static_cast<uint32_t>((bits & 0x7f800000u) == 0x7f800000u);
    float mi = b1 * m[i] + (1 - b1) * gi;
    float vi = b2 * v[i] + (1 - b2) * gi * gi;
    m[i] = mi;
    v[i] = vi;
    p[i] -= step_size * mi / (std::sqrt(vi) * inv_sqrt_bc2 + eps);
  }
  return nonfinite == 0;
}

}  // namespace latentlab::kernels
