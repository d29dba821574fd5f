#!/usr/bin/env bash
# Configures and builds latentlab (Release, ccache when present) into build/.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build="${LATENTLAB_BUILD_DIR:-$here/build}"
jobs="${JOBS:-$(nproc)}"
echo "==> cmake configure ($build)"
cmake -S "$here" -B "$build" -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-Release}" ${CMAKE_ARGS:-} >/dev/null
echo "==> cmake build -j$jobs"
cmake --build "$build" -j "$jobs"
