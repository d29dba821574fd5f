#!/usr/bin/env bash
# The Ctrl-C stress trial (issue 23): Crash.StressCtrlCUnderLoad with LATENTLAB_STRESS=<trials> [50],
# in the normal build and, unless STRESS_ASAN=0, in the AddressSanitizer build (build-asan/, made by
# scripts/sanitize.sh). Not part of the default suite (ctest label `stress`).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
trials="${1:-50}"
run() {
  local dir=$1
  [ -x "$dir/latentlab_tests" ] || { echo "stress: $dir/latentlab_tests missing; build it first" >&2; exit 1; }
  echo "==> $trials Ctrl-C trials under load ($dir)"
  (cd "$dir" && LATENTLAB_STRESS="$trials" ./latentlab_tests --gtest_filter=Crash.StressCtrlCUnderLoad)
}
run "${LATENTLAB_BUILD_DIR:-$here/build}"
if [ "${STRESS_ASAN:-1}" != 0 ]; then
  export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:allocator_may_return_null=1"
  run "${LATENTLAB_ASAN_BUILD_DIR:-$here/build-asan}"
fi
