// The safetensors reader on arbitrary bytes: a damaged file is an error naming it, never a crash, a
// read outside the bytes or an allocation larger than the file.
#include <string>

#include "fuzz.h"
#include "latentlab/error.h"
#include "latentlab/safetensors.h"

LATENTLAB_FUZZ_TARGET(safetensors) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  LATENTLAB_FUZZ_EXPECTED_ERRORS({
    auto f = latentlab::parse_safetensors(bytes, "fuzz.safetensors");
    // what it returns lies within the file: the tensors' bytes add up to no more than it holds
    size_t total = 0;
    for (const auto& [name, t] : f.tensors) total += t.numel() * t.element_size();
    if (total > bytes.size()) __builtin_trap();
    // and writing it back gives a file that reads back the same
    auto again = latentlab::parse_safetensors(latentlab::safetensors_bytes(f.tensors, f.metadata), "again");
    if (again.tensors.size() != f.tensors.size() || again.metadata != f.metadata) __builtin_trap();
  });
}
