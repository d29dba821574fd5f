#pragma once
// A fuzz target is written once with LATENTLAB_FUZZ_TARGET(name) { ... }. Built with
// -DLATENTLAB_LIBFUZZER (clang -fsanitize=fuzzer, scripts/fuzz.sh) it is libFuzzer's entry point;
// otherwise it registers itself with latentlab_fuzz_replay, which ctest runs over the seed corpus
// in fuzz/corpus/<name> as a regression test.
//
// A target feeds the bytes to one parser and accepts the errors latentlab documents
// (latentlab::Error, and c10::Error from LibTorch's own checks); anything else - a crash, a
// sanitizer report, another exception - is a finding.
#include <c10/util/Exception.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>

namespace latentlab::fuzz {

using Target = void (*)(const uint8_t* data, size_t size);
std::map<std::string, Target>& targets();
struct Register {
  Register(const char* name, Target t) { targets()[name] = t; }
};
/// A private temporary folder for targets that need files (removed at exit).
const std::string& scratch();
/// Writes bytes to a file.
void write_file(const std::string& path, const uint8_t* data, size_t size);

}  // namespace latentlab::fuzz

#ifdef LATENTLAB_LIBFUZZER
#define LATENTLAB_FUZZ_TARGET(name)                                   \
  static void fuzz_##name(const uint8_t* data, size_t size);          \
  extern "C" int LLVMFuzzerTestOneInput(const uint8_t* d, size_t n) { \
    fuzz_##name(d, n);                                                \
    return 0;                                                         \
  }                                                                   \
  static void fuzz_##name(const uint8_t* data, size_t size)
#else
#define LATENTLAB_FUZZ_TARGET(name)                                                  \
  static void fuzz_##name(const uint8_t* data, size_t size);                         \
  static ::latentlab::fuzz::Register register_##name(#name, &fuzz_##name);           \
  static void fuzz_##name(const uint8_t* data, size_t size)
#endif

// Runs `body`, accepting the documented error types.
#define LATENTLAB_FUZZ_EXPECTED_ERRORS(body) \
  try {                                      \
    body;                                    \
  } catch (const ::latentlab::Error&) {      \
  } catch (const ::c10::Error&) {            \
  }
