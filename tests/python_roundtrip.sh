#!/usr/bin/env bash
# ctest python_roundtrip: for every model family, a short run, `latentlab export`, `latentlab sample
# --codes`, then examples/python/decode.py rebuilds the decoder in PyTorch, loads the export with the
# safetensors package and decodes the same codes: the images must match latentlab's to 1e-5.
# Skipped (exit 77) where python3 lacks torch, numpy or safetensors (Debian 12 has no
# python3-safetensors; scripts/check-libtorch2.sh runs it in a Debian trixie root, which has).
#   tests/python_roundtrip.sh <latentlab> <scratch folder> <mnist folder>
set -euo pipefail
exe=$1 scratch=$2 mnist=$3
here=$(cd "$(dirname "$0")/.." && pwd)
python=${LATENTLAB_PYTHON:-/usr/bin/python3}
if ! "$python" -c "import torch, numpy, safetensors" 2>/dev/null; then
  echo "SKIP: $python lacks torch, numpy or safetensors (Debian: python3-torch python3-safetensors)"
  exit 77
fi
rm -rf "$scratch"
mkdir -p "$scratch"
cases=(
  "vae-mlp --model vae"
  "vae-conv --model vae --arch conv"
  "vae-tanh --model vae --output tanh --loss mse"
  "ae --model ae --activation elu"
  "aae --model aae"
  "gan --model gan"
  "dcgan --model dcgan"
)
for c in "${cases[@]}"; do
  read -r name flags <<<"$c"
  run="$scratch/$name"
  # shellcheck disable=SC2086
  "$exe" train $flags --data-dir "$mnist" --train-images 256 --epochs 1 --threads 1 --out "$run" --preview-every 0 \
    >"$scratch/$name.train.log" 2>&1 || { cat "$scratch/$name.train.log" >&2; exit 1; }
  "$exe" export "$run" -o "$scratch/$name.safetensors" 2>/dev/null
  "$exe" sample "$run" -n 16 --seed 3 -o "$scratch/$name.images.npy" --codes "$scratch/$name.codes.npy" 2>/dev/null
  echo "== $name" | tee -a "$scratch/summary.txt"
  "$python" "$here/examples/python/decode.py" "$scratch/$name.safetensors" "$scratch/$name.codes.npy" \
    --compare "$scratch/$name.images.npy" --tolerance 1e-5 | tee -a "$scratch/summary.txt"
done
