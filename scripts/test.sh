#!/usr/bin/env bash
# The one command that builds and runs the whole test suite (installs what is missing first).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
bash "$here/scripts/deps.sh"
bash "$here/scripts/build.sh"
cd "${LATENTLAB_BUILD_DIR:-$here/build}"
ctest --output-on-failure -j "${JOBS:-$(nproc)}" -LE stress "$@"
