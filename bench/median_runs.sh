#!/usr/bin/env bash
# Alternating one-epoch runs of latentlab variants, median images/s of each: for levers smaller than
# this VM's run-to-run noise (bench/compare.py compares against PyTorch).
#   bash bench/median_runs.sh ROUNDS VARIANT...
# A variant is a quoted string of NAME=VALUE environment settings and train flags, e.g.
#   bash bench/median_runs.sh 12 "LATENTLAB_X=1" "GOMP_SPINCOUNT=10000000"
#   bash bench/median_runs.sh 8 "--on-nonfinite stop" "--on-nonfinite skip"
# Settings: MODEL (vae), BATCH (32), IMAGES (30000 training images per run), THREADS (2).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
exe="${LATENTLAB_EXE:-$here/build/latentlab}"
rounds=${1:?usage: bench/median_runs.sh ROUNDS VARIANT...}; shift
[ $# -ge 1 ] || { echo "usage: bench/median_runs.sh ROUNDS VARIANT..." >&2; exit 1; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
declare -A res
for r in $(seq "$rounds"); do
  for v in "$@"; do
    envs=(); flags=()
    for w in $v; do if [[ $w == *=* && $w != -* ]]; then envs+=("$w"); else flags+=("$w"); fi; done
    rm -rf "$tmp/run"
    line=$(env "${envs[@]}" "$exe" train --model "${MODEL:-vae}" --batch-size "${BATCH:-32}" --epochs 1 \
      --threads "${THREADS:-2}" --data-dir "$here/data/mnist" --out "$tmp/run" --train-images "${IMAGES:-30000}" \
      "${flags[@]}" 2>&1 | grep train_loss || true)
    ips=$(grep -o '[0-9]* img/s' <<<"$line" | cut -d' ' -f1 || true)
    [ -n "$ips" ] || { echo "error: variant '$v' failed" >&2; exit 1; }
    res[$v]="${res[$v]:-} $ips"
  done
done
for v in "$@"; do
  med=$(tr ' ' '\n' <<<"${res[$v]}" | grep . | sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}')
  printf '%-40s median %6s img/s   runs:%s\n' "[$v]" "$med" "${res[$v]}"
done
