#pragma once
// Where the tests find the CLI, the MNIST files and the source tree. The build's absolute paths live in
// one file, tests/paths.cpp (it includes the generated test_paths.h), so that every other test file is
// the same in every checkout and ccache serves CI's clean clone from this checkout's build.
#include <string>

namespace latentlab::test {
std::string latentlab_exe();
std::string mnist_dir();
std::string source_dir();
}  // namespace latentlab::test

#define LATENTLAB_EXE ::latentlab::test::latentlab_exe()
#define LATENTLAB_MNIST_DIR ::latentlab::test::mnist_dir()
#define LATENTLAB_SOURCE_DIR ::latentlab::test::source_dir()
