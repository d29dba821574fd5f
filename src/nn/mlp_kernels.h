#pragma once
// Elementwise loops of the MLP's hand-written training pass on contiguous float32 rows, free of torch
// headers (src/nn/mlp_kernels.cpp): one call instead of two or three ATen operations each.
#include <cstdint>

namespace latentlab::kernels {

/// The negative slope of Activation::leaky_relu, wherever the MLP computes it (ATen or these loops).
constexpr double kLeakySlope = 0.2;

/// The activations these loops handle; the others go through ATen.
enum class Act { identity, relu, leaky_relu };

/// out[r, c] = act(out[r, c] + bias[c]) over a [rows, cols] matrix.
void add_bias_activate(float* out, const float* bias, int64_t rows, int64_t cols, Act act);
/// g[i] *= act'(x_i) for the output y[i] = act(x_i) (leaky_relu: slope kLeakySlope), over n values.
void activation_backward(float* g, const float* y, int64_t n, Act act);
/// acc[c] += sum over r of g[r, c], for a [rows, cols] matrix g.
void add_column_sums(float* acc, const float* g, int64_t rows, int64_t cols);

}  // namespace latentlab::kernels
