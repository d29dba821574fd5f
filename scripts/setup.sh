#!/usr/bin/env bash
# The one command for a new machine: installs dependencies, fetches data, builds, and runs the main job
# (trains the default model, the seeds' VAE on MNIST, writing its pictures and metrics to runs/default).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
bash "$here/scripts/deps.sh"
bash "$here/scripts/build.sh"
out="${LATENTLAB_RUN:-$here/runs/default}"
if [ -f "$out/model" ]; then
  echo "==> main job: $out already holds a finished run (delete it to train again)"
elif [ -f "$out/checkpoint" ]; then
  echo "==> main job: resuming the interrupted run in $out"
  "$here/build/latentlab" train --resume "$out"
else
  echo "==> main job: latentlab train --out $out"
  "$here/build/latentlab" train --out "$out" --data-dir "$here/data/mnist"
fi
echo "==> pictures and metrics in $out"
