#pragma once
// Tensors in the safetensors format (huggingface/safetensors), the format of every weights file
// latentlab writes (run folders' `model` and checkpoints, the classifier, `latentlab export`):
//   8 bytes   N, the header's length (unsigned, little-endian)
//   N bytes   a JSON object: {"<name>": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]},
//             ..., "__metadata__": {"<key>": "<string>", ...}}
//   the rest  the tensors' raw little-endian bytes; offsets count from here, and the tensors cover it
//             without a gap or an overlap
// Python reads these files with `safetensors.torch.load_file`. The reader here is our own and checks
// every length, offset, dtype and shape against the file before it allocates anything, so a damaged
// or hostile file is an error naming the file and the fault, never a crash or a huge allocation.
#include <torch/torch.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

namespace latentlab {

struct TensorFile {
  /// The header's __metadata__ (string keys and string values).
  std::map<std::string, std::string> metadata;
  /// The tensors (CPU, contiguous) in the order of their data offsets.
  std::vector<std::pair<std::string, torch::Tensor>> tensors;

  /// The tensor of that name, or nullptr.
  const torch::Tensor* find(const std::string& name) const;
  /// The metadata value of `key`, or `fallback`.
  std::string meta(const std::string& key, const std::string& fallback = "") const;
};

/// The bytes of a safetensors file holding `tensors` (any device; written as contiguous CPU copies,
/// in this order) and `metadata`. The header is padded with spaces to a multiple of 8 bytes. Throws
/// latentlab::Error for a dtype the format has no name for, an empty or repeated name, or the reserved
/// name __metadata__.
std::string safetensors_bytes(const std::vector<std::pair<std::string, torch::Tensor>>& tensors,
                              const std::map<std::string, std::string>& metadata = {});

/// Parses the bytes of a safetensors file read from `path` (named in every error). Throws
/// latentlab::Error for a truncated file, a header length beyond the file, a header that is not a JSON
/// object of tensor entries, an unknown dtype, a negative or overflowing shape, offsets that disagree
/// with the shape, leave the data, overlap or leave a gap, and BOOL bytes other than 0 and 1.
TensorFile parse_safetensors(const std::string& bytes, const std::string& path);

/// Whether `bytes` start as a safetensors file does (a header length within the file, then '{');
/// LibTorch archives (latentlab before format 2) start with a zip signature instead.
bool looks_like_safetensors(const std::string& bytes);

/// The format's name of a dtype ("F32", "BF16", "I64", ...); throws latentlab::Error for one it lacks.
std::string safetensors_dtype(torch::ScalarType type);

}  // namespace latentlab
