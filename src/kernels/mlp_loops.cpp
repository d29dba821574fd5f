// Kept free of torch headers so it compiles fast with its own flags (see CMakeLists.txt).
#include "loops.h"

namespace latentlab::kernels {

constexpr float kSlope = static_cast<float>(kLeakySlope);

LATENTLAB_CLONES void add_bias_activate(float* __restrict__ out, const float* __restrict__ bias, int64_t rows,
                                        int64_t cols, Act act) {
  for (int64_t r = 0; r < rows; ++r) {
    float* o = out + r * cols;
    switch (act) {
      case Act::identity:
        for (int64_t c = 0; c < cols; ++c) o[c] += bias[c];
        break;
      case Act::relu:
        for (int64_t c = 0; c < cols; ++c) {
          float v = o[c] + bias[c];
          o[c] = v > 0 ? v : 0.0f;
        }
        break;
      case Act::leaky_relu:
        for (int64_t c = 0; c < cols; ++c) {
          float v = o[c] + bias[c];
          o[c] = v > 0 ? v : kSlope * v;
        }
        break;
    }
  }
}

LATENTLAB_CLONES void activation_backward(float* __restrict__ g, const float* __restrict__ y, int64_t n, Act act) {
  switch (act) {
    case Act::identity: break;
    case Act::relu:
      for (int64_t i = 0; i < n; ++i) g[i] = y[i] > 0 ? g[i] : 0.0f;
      break;
    case Act::leaky_relu:
      for (int64_t i = 0; i < n; ++i) g[i] = y[i] > 0 ? g[i] : kSlope * g[i];
      break;
  }
}

LATENTLAB_CLONES void add_column_sums(float* __restrict__ acc, const float* __restrict__ g, int64_t rows, int64_t cols) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* row = g + r * cols;
    for (int64_t c = 0; c < cols; ++c) acc[c] += row[c];
  }
}

}  // namespace latentlab::kernels
