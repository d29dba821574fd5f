#pragma once
// Weights files: a run folder's `model`, `checkpoint` and `checkpoint-<epoch>`, and the evaluation
// classifier. Written in the safetensors format (format 2, safetensors.h): settings and counters in
// its __metadata__, tensors under prefixed names:
//   model.<parameter or buffer>       the model's state, named as Module::named_parameters() names it
//   optimizer.<phase>.m|v|step        each phase's Adam state (checkpoints)
//   rng.<rank>                        each rank's CPU generator state where an epoch was interrupted
//   net.<parameter or buffer>         the classifier's state
// Files of format 1 (LibTorch archives, latentlab's first round) are still read, through LibTorch's
// reader in a forked probe (load_archive), so older run folders keep working.
#include <torch/torch.h>

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "latentlab/safetensors.h"

namespace latentlab {

/// The format latentlab writes (and the newest it reads).
constexpr int64_t kWeightsFormat = 2;

/// What is written into a weights file: metadata, then tensors in order.
struct WeightsWriter {
  /// Starts a file of `kind` ("model", "checkpoint", "classifier", "export"): the metadata every
  /// latentlab file carries (format "pt" as safetensors.torch writes it, latentlab_format, kind).
  explicit WeightsWriter(const std::string& kind);
  std::map<std::string, std::string> metadata;
  std::vector<std::pair<std::string, torch::Tensor>> tensors;
  /// Adds every parameter and buffer of `module` under `prefix` (e.g. "model.").
  void add_module(const std::string& prefix, const torch::nn::Module& module);
  /// The file's bytes (safetensors), for atomic_write.
  std::string bytes() const;
};

/// A weights file read from its bytes, whichever its format.
class WeightsFile {
 public:
  /// Parses `bytes` read from `path` (named in every error): a safetensors file by our own checked
  /// parser, else a format-1 LibTorch archive through load_archive. Throws latentlab::Error.
  static WeightsFile read(const std::string& bytes, const std::string& path);
  /// read(), then the checks every loader makes: a latentlab file (else "<path>: not a latentlab
  /// <what>"), in a format this build reads (else "written by a newer latentlab"), of one of `kinds`
  /// (else "<path>: holds a <kind>, not a <what>"). Throws latentlab::Error.
  static WeightsFile read_kind(const std::string& bytes, const std::string& path, const std::vector<std::string>& kinds,
                               const std::string& what);
  const std::string& path() const { return path_; }
  /// kWeightsFormat, or 1 for a LibTorch archive; 0 when the file does not say (not latentlab's).
  int64_t format() const { return format_; }
  /// A metadata value ("kind", "config", "shape", "epoch", ...), or "" when absent.
  std::string meta(const std::string& key) const;
  /// A whole-number metadata value ("epoch", "world_size"), or `fallback` when absent; throws
  /// latentlab::Error naming the file for anything but decimal digits.
  int64_t meta_count(const std::string& key, int64_t fallback) const;
  /// The tensor of that name ("model.encoder.fc0.weight", "optimizer.vae.step", "rng.0"), or an
  /// undefined tensor when the file has none of that name.
  torch::Tensor tensor(const std::string& name) const;
  /// The names of the tensors whose names start with `prefix` (format 2; empty for format 1).
  std::vector<std::string> names_with_prefix(const std::string& prefix) const;

 private:
  std::string path_;
  int64_t format_ = 0;
  TensorFile file_;                                          // format 2
  std::shared_ptr<torch::serialize::InputArchive> archive_;  // format 1
  std::map<std::string, std::string> archive_meta_;          // format 1's scalars, as strings
};

/// Copies the tensors under `prefix` into `module`'s parameters and buffers after checking that the
/// file holds each of them with the module's shape and dtype, and (format 2) no other tensor under the
/// prefix. Throws latentlab::Error naming the file, the tensor and both shapes.
void load_weights(torch::nn::Module& module, const WeightsFile& file, const std::string& prefix);

/// Reads a LibTorch archive (format 1) from its bytes. LibTorch's reader can crash on a malformed
/// file, so a forked child reads the bytes first; a file it crashes or throws on is a
/// latentlab::Error naming `path`, never a crash.
void load_archive(torch::serialize::InputArchive& archive, const std::string& bytes, const std::string& path);

}  // namespace latentlab
