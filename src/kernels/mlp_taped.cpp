// The MLP's hand-written training pass: forward into reused buffers without autograd, and a backward
// that writes each weight's gradient with one matrix product. Used by the codec's taped step
// (codec_step.cpp); checked against autograd and finite differences in tests/test_mlp.cpp.
#include <optional>

#include "kernels.h"

namespace latentlab {

namespace {

void activation_(torch::Tensor& x, Activation a) {
  switch (a) {
    case Activation::relu: x.relu_(); break;
    case Activation::leaky_relu: at::leaky_relu_(x, kernels::kLeakySlope); break;
    case Activation::elu: at::elu_(x); break;
    case Activation::tanh: x.tanh_(); break;
    case Activation::sigmoid: x.sigmoid_(); break;
    case Activation::identity: break;
  }
}

// The raw loops of mlp_kernels.h take contiguous float32 CPU tensors and three of the activations.
bool raw(const torch::Tensor& t) {
  return t.device().is_cpu() && t.scalar_type() == torch::kFloat32 && t.is_contiguous();
}
std::optional<kernels::Act> raw_act(Activation a) {
  switch (a) {
    case Activation::identity: return kernels::Act::identity;
    case Activation::relu: return kernels::Act::relu;
    case Activation::leaky_relu: return kernels::Act::leaky_relu;
    default: return std::nullopt;
  }
}

// out = a(out + bias), bias broadcast over the rows.
void add_bias_activate_(torch::Tensor& out, const torch::Tensor& bias, Activation a) {
  auto k = raw_act(a);
  if (k && raw(out) && raw(bias)) {
    kernels::add_bias_activate(out.data_ptr<float>(), bias.data_ptr<float>(), out.size(0), out.size(1), *k);
    return;
  }
  out.add_(bias);
  activation_(out, a);
}

// acc += the column sums of g.
void add_column_sums_(torch::Tensor& acc, const torch::Tensor& g) {
  if (raw(acc) && raw(g)) {
    kernels::add_column_sums(acc.data_ptr<float>(), g.data_ptr<float>(), g.size(0), g.size(1));
    return;
  }
  acc.add_(g.sum(0));
}

// The gradient of a parameter, created (zero) where autograd has not made one yet.
torch::Tensor& grad_of(torch::Tensor& p) {
  torch::Tensor& g = p.mutable_grad();
  if (!g.defined()) g = torch::zeros_like(p);
  return g;
}

}  // namespace

torch::Tensor& reuse_buffer(torch::Tensor& t, int64_t rows, int64_t cols, const torch::Tensor& like) {
  if (!t.defined() || t.dim() != 2 || t.size(0) != rows || t.size(1) != cols || t.device() != like.device() ||
      t.dtype() != like.dtype())
    t = torch::empty({rows, cols}, like.options());
  return t;
}

void activation_backward_from_output_(torch::Tensor& grad, const torch::Tensor& y, Activation a) {
  auto k = raw_act(a);
  if (k && raw(grad) && raw(y) && grad.sizes() == y.sizes()) {
    kernels::activation_backward(grad.data_ptr<float>(), y.data_ptr<float>(), grad.numel(), *k);
    return;
  }
  switch (a) {
    case Activation::relu: at::threshold_backward_out(grad, grad, y, 0); break;
    case Activation::leaky_relu: at::leaky_relu_backward_out(grad, grad, y, kernels::kLeakySlope, true); break;
    case Activation::elu: at::elu_backward_out(grad, grad, 1, 1, 1, true, y); break;
    case Activation::tanh: at::tanh_backward_out(grad, grad, y); break;
    case Activation::sigmoid: at::sigmoid_backward_out(grad, grad, y); break;
    case Activation::identity: break;
  }
}

bool can_tape(const MlpImpl& m) { return m.options.dropout() == 0 || !m.is_training(); }

const torch::Tensor& forward_taped(MlpImpl& m, const torch::Tensor& x, MlpTape& tape, Activation out_act) {
  TORCH_CHECK(can_tape(m), "Mlp: forward_taped does not support dropout in training");
  const auto& layers = m.layers;
  const size_t n = layers.size();
  const int64_t b = x.size(0);
  tape.inputs.resize(n);
  tape.outputs.resize(n);
  tape.grads.resize(n);
  tape.out_act = out_act;
  tape.inputs[0] = x.reshape({b, -1});
  TORCH_CHECK(tape.inputs[0].size(1) == m.options.in_features(), "Mlp: input has ", tape.inputs[0].size(1),
              " features, expected ", m.options.in_features());
  for (size_t i = 0; i < n; ++i) {
    auto& layer = layers[i];
    torch::Tensor& out = reuse_buffer(tape.outputs[i], b, layer->weight.size(0), x);
    gemm(out, tape.inputs[i], false, layer->weight, true, false);
    add_bias_activate_(out, layer->bias, i + 1 < n ? m.activation() : out_act);
    if (i + 1 < n) tape.inputs[i + 1] = out;
  }
  return tape.outputs.back();
}

torch::Tensor backward_taped(MlpImpl& m, const torch::Tensor& dout, MlpTape& tape, bool want_dx) {
  auto& layers = m.layers;
  const Activation act = m.activation();
  const size_t n = layers.size();
  TORCH_CHECK(tape.outputs.size() == n && tape.outputs.back().defined(), "Mlp: backward_taped without forward_taped");
  TORCH_CHECK(dout.sizes() == tape.outputs.back().sizes(), "Mlp: backward_taped got a gradient of the wrong shape");
  torch::Tensor g = dout;
  if (tape.out_act != Activation::identity) {
    g = dout.clone();
    activation_backward_from_output_(g, tape.outputs.back(), tape.out_act);
  }
  // On two CPU threads, a layer's two products (its weight's gradient and its input's) run side by
  // side, one thread each: these skinny products split poorly across threads, and the pair finishes
  // 15 to 35% sooner than one after the other on both (README, Measured figures). Elsewhere they run
  // in turn.
  const bool side_by_side = dout.is_cpu() && at::get_num_threads() == 2 && !at::in_parallel_region();
  for (size_t i = n; i-- > 0;) {
    auto& layer = layers[i];
    const torch::Tensor& in = tape.inputs[i];
    torch::Tensor &gw = grad_of(layer->weight), &gb = grad_of(layer->bias);
    const bool want_gin = i > 0 || want_dx;
    torch::Tensor gin = want_gin ? reuse_buffer(tape.grads[i], in.size(0), in.size(1), g) : torch::Tensor();
    auto task = [&](int64_t which) {
      torch::NoGradGuard no_grad;  // grad mode is per thread; the caller's does not reach the worker
      if (which == 0) {
        gemm(gw, g, true, in, false, true);  // d W += g^T in
        add_column_sums_(gb, g);
      } else {
        gemm(gin, g, false, layer->weight, false, false);  // d in = g W
        if (i > 0) activation_backward_from_output_(gin, in, act);
      }
    };
    if (want_gin && side_by_side) {
      at::parallel_for(0, 2, 1, [&](int64_t begin, int64_t end) {
        for (int64_t which = begin; which < end; ++which) task(which);
      });
    } else {
      task(0);
      if (want_gin) task(1);
    }
    if (!want_gin) return {};
    g = gin;
  }
  return g;
}

}  // namespace latentlab
