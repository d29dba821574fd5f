#pragma once
// latentlab's fast paths in one internal header (not installed): the torch-free loops (loops.h), the
// matrix product they use, the MLP's taped training pass, the reconstruction term with its gradient,
// and the one hand-written training step of an MLP codec that the VAE and the autoencoder call. Each
// is checked against autograd and finite differences (tests/test_mlp.cpp, tests/test_losses.cpp,
// tests/test_vae.cpp, tests/test_ae.cpp).
#include <torch/torch.h>

#include <functional>
#include <vector>

#include "latentlab/models/codec.h"
#include "latentlab/nn.h"
#include "loops.h"

namespace latentlab {

/// c = op(a) op(b) + (accumulate ? c : 0), with op(m) = m^T where `ta` / `tb`. On the CPU with float32
/// contiguous matrices and oneDNN present (LATENTLAB_HAVE_DNNL) this is one dnnl_sgemm call; otherwise
/// ATen's mm_out / addmm_ (gemm.cpp).
void gemm(torch::Tensor& c, const torch::Tensor& a, bool ta, const torch::Tensor& b, bool tb, bool accumulate);

/// A [rows, cols] buffer with `like`'s dtype and device: `t` itself while it already is one, else a new
/// empty tensor assigned to `t`. For the scratch tensors of hand-written passes.
torch::Tensor& reuse_buffer(torch::Tensor& t, int64_t rows, int64_t cols, const torch::Tensor& like);
/// In place: `grad` (d loss / d y) becomes d loss / d x for y = a(x), from the output y alone.
void activation_backward_from_output_(torch::Tensor& grad, const torch::Tensor& y, Activation a);

// --- the MLP's taped pass (mlp_taped.cpp)

/// What forward_taped keeps for backward_taped: each layer's input and output, in buffers that are
/// reused while the batch size stays the same. One tape per pass in flight.
struct MlpTape {
  std::vector<torch::Tensor> inputs;   ///< inputs[i]: the input of layer i, [b, in_i]; inputs[0] is the flattened x
  std::vector<torch::Tensor> outputs;  ///< outputs[i]: layer i after its activation (the last after out_act)
  std::vector<torch::Tensor> grads;    ///< scratch: d loss / d inputs[i]
  Activation out_act = Activation::identity;
};

/// Whether forward_taped may run on m now: no dropout while training.
bool can_tape(const MlpImpl& m);
/// The forward pass without autograd, for a hand-written training step: out_act(output), [b, out],
/// with each layer written by one fused matrix product into `tape`'s reused buffers. Not with dropout
/// in training (can_tape). The result lives in the tape until its next forward_taped.
const torch::Tensor& forward_taped(MlpImpl& m, const torch::Tensor& x, MlpTape& tape, Activation out_act = Activation::identity);
/// The backward pass of the last forward_taped: given d loss / d out_act(output), adds d loss / d weight
/// and d loss / d bias into each layer's .grad (as autograd accumulates) with one matrix product per
/// weight, and returns d loss / d x ([b, in]) when `want_dx`, else an undefined tensor.
torch::Tensor backward_taped(MlpImpl& m, const torch::Tensor& dout, MlpTape& tape, bool want_dx);

// --- the reconstruction term and the codec's step (codec_step.cpp)

/// The reconstruction term summed over every pixel of the batch, times `scale` (BCE from logits when
/// `bce`, else the squared error of sigmoid(logits)), as a scalar tensor; its gradient with respect to
/// the logits goes into `dlogits` (reuse_buffer: reallocated only when its shape, dtype or device differs).
torch::Tensor recon_sum_with_grad(const torch::Tensor& logits, const torch::Tensor& target, bool bce, double scale,
                                  torch::Tensor& dlogits);

/// The tapes and scratch of a codec's hand-written step (Codec::tapes()).
struct CodecTapes {
  MlpTape encoder, decoder;
  torch::Tensor dlogits;
};

/// One hand-written training step of an MLP codec, without autograd (for when Codec::taped_step_applies();
/// MLP networks without dropout in training are required): the encoder on `input` (its output through `code_act`); `to_code` from that output to the
/// decoder's input; the decoder; the reconstruction term of its logits against `target`
/// (recon_sum_with_grad with `recon_scale`); the decoder's backward; `to_output_grad` from d loss / d
/// decoder input to d loss / d encoder output; the encoder's backward. Every parameter's gradient is
/// added into its .grad. Returns the reconstruction term. The autoencoder passes the code through both
/// functions; the VAE samples z in `to_code` and adds the KL term's gradient in `to_output_grad`.
torch::Tensor taped_codec_step(Codec& codec, const torch::Tensor& input, const torch::Tensor& target, bool bce,
                               double recon_scale, Activation code_act,
                               const std::function<torch::Tensor(const torch::Tensor& out)>& to_code,
                               const std::function<torch::Tensor(const torch::Tensor& dcode)>& to_output_grad);

}  // namespace latentlab
