#pragma once
// The hand-written loops of latentlab's fast paths, free of torch headers so that their files compile
// fast with their own flags (CMakeLists.txt: -ffast-math for the reconstruction terms, -fno-math-errno
// for Adam). This is the torch-free part of src/kernels/kernels.h, which includes it; a file that
// must not include torch includes this one alone. Every function takes contiguous float32 values.
//
// Functions marked LATENTLAB_CLONES are cloned for AVX2+FMA and plain x86-64, chosen when the program
// loads (GCC; clang, used for the fuzz build, would need the attribute on every declaration too).
#include <cstdint>

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define LATENTLAB_CLONES __attribute__((target_clones("avx2,fma", "default")))
#else
#define LATENTLAB_CLONES
#endif

namespace latentlab::kernels {

// --- the MLP's training pass (mlp_loops.cpp): one call instead of two or three ATen operations each

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

// --- reconstruction terms with their gradients (recon_loops.cpp): one pass over the logits, with one
// exponential per value shared by the term and its gradient, instead of five or six ATen operations

/// Returns the sum over i of softplus(l_i) - l_i t_i (BCE from logits); writes
/// dl_i = scale (sigmoid(l_i) - t_i).
double bce_with_logits_sum_grad(const float* l, const float* t, float* dl, int64_t n, float scale);
/// Returns the sum over i of (s_i - t_i)^2 with s_i = sigmoid(l_i); writes dl_i = 2 scale (s_i - t_i) s_i (1 - s_i).
double sigmoid_sse_sum_grad(const float* l, const float* t, float* dl, int64_t n, float scale);

// --- the optimiser (adam_loop.cpp)

/// One Adam update of n values in place (p, m, v), from gradients g: m = b1 m + (1 - b1) g,
/// v = b2 v + (1 - b2) g^2, p -= step_size m / (sqrt(v) inv_sqrt_bc2 + eps). Returns whether every
/// gradient was finite (the update is applied either way; FlatAdam decides what to do).
bool adam_kernel(float* p, const float* g, float* m, float* v, int64_t n, float b1, float b2, float step_size,
                 float inv_sqrt_bc2, float eps);

}  // namespace latentlab::kernels
