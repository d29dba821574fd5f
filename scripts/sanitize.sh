#!/usr/bin/env bash
# Builds the library, the CLI and the tests with AddressSanitizer + UndefinedBehaviorSanitizer into
# build-asan/ and runs the fast test suite under them (not the browser test, the crash trials or the
# CUDA test). Any report fails the run. Extra arguments go to ctest.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build="${LATENTLAB_ASAN_BUILD_DIR:-$here/build-asan}"
jobs="${JOBS:-$(nproc)}"
echo "==> cmake configure ($build, -DLATENTLAB_SANITIZE=ON)"
cmake -S "$here" -B "$build" -DCMAKE_BUILD_TYPE=Release -DLATENTLAB_SANITIZE=ON >/dev/null
echo "==> cmake build -j$jobs"
cmake --build "$build" -j "$jobs"
# Leak reports come only from our code: LibTorch, OpenMP and OpenBLAS keep process-lifetime
# allocations (thread pools, registries) that the suppressions name.
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:allocator_may_return_null=1:max_allocation_size_mb=2048:strict_string_checks=1:detect_stack_use_after_return=0"
export LSAN_OPTIONS="suppressions=$here/scripts/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
cd "$build"
echo "==> ctest under ASan + UBSan"
ctest --output-on-failure -j "$jobs" -LE stress -E 'dashboard_e2e|^Crash\.|Cuda' "$@"
