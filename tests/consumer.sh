#!/usr/bin/env bash
# ctest install_consumer: installs this build into a scratch prefix, builds examples/consumer against it
# with find_package(latentlab) alone (no path into this source tree or build), runs it (one epoch of the
# VAE on MNIST, then 64 samples) and checks its outputs.
#   tests/consumer.sh <build folder> <scratch folder> <mnist folder>
set -euo pipefail
build=$1 scratch=$2 mnist=$3
here=$(cd "$(dirname "$0")/.." && pwd)
rm -rf "$scratch"
mkdir -p "$scratch"
cmake --install "$build" --prefix "$scratch/prefix" >/dev/null
# the source tree is not needed: the example is copied out of it
cp -r "$here/examples/consumer" "$scratch/src"
[ ! -e "$scratch/prefix/include/latentlab/build_config.h" ] || { echo "an internal header was installed" >&2; exit 1; }
cmake -S "$scratch/src" -B "$scratch/build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$scratch/prefix" \
  -DCMAKE_CXX_FLAGS=-Werror=unused-variable >"$scratch/configure.log" 2>&1 || { cat "$scratch/configure.log" >&2; exit 1; }
if grep -q -- "-Wextra" "$scratch/build/CMakeFiles/consumer.dir/flags.make"; then
  echo "latentlab's warning flags leaked into the consumer's compile flags" >&2; exit 1
fi
if grep -rq -- "$here/include" "$scratch/build/CMakeFiles/consumer.dir/flags.make"; then
  echo "the consumer's include path points into latentlab's source tree" >&2; exit 1
fi
cmake --build "$scratch/build" -j "${JOBS:-2}" >"$scratch/build.log" 2>&1 || { cat "$scratch/build.log" >&2; exit 1; }
"$scratch/build/consumer" "$mnist" "$scratch/run" 2>"$scratch/train.log" || { cat "$scratch/train.log" >&2; exit 1; }
for f in model config.json metrics.jsonl consumer-samples.png; do
  [ -s "$scratch/run/$f" ] || { echo "the consumer's run folder lacks $f" >&2; exit 1; }
done
# the installed command-line tool works from the prefix too (its report inlines the built-in Chart.js)
(cd "$scratch" && "$scratch/prefix/bin/latentlab" report "$scratch/run" -o "$scratch/report.html" >/dev/null)
grep -q "Chart.js v4" "$scratch/report.html" || { echo "the installed latentlab's report has no Chart.js" >&2; exit 1; }
echo "consumer: built against $scratch/prefix, trained and sampled"
