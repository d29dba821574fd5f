#!/usr/bin/env bash
# Builds latentlab and runs the whole test suite (ctest -LE stress) against LibTorch 2.x: Debian trixie's
# libtorch-dev 2.6, inside a Debian trixie root made with debootstrap. Not part of .ci/run (it takes long).
#
#   sudo bash scripts/check-libtorch2.sh            # root: debootstrap, chroot and mounts need it
#
# The root lives outside the repository, in $LATENTLAB_TRIXIE_ROOT [/var/cache/latentlab/trixie], and is
# reused when present (delete it to start over). The mirror is the one this machine's apt sources name
# (never written into the repository). The working tree (tracked and untracked, not ignored files), the
# datasets in data/ and the dashboard test's node_modules are copied into the root; the build goes to
# /src/latentlab/build-trixie there. Prints the LibTorch version, the test summary and the time taken.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
root="${LATENTLAB_TRIXIE_ROOT:-/var/cache/latentlab/trixie}"
jobs="${JOBS:-$(nproc)}"
start=$SECONDS
step() { printf '==> [libtorch2] %s (%ds)\n' "$*" "$((SECONDS - start))"; }

[ "$(id -u)" -eq 0 ] || { echo "check-libtorch2: run as root (debootstrap and chroot need it): sudo bash $0" >&2; exit 1; }

# The Debian mirror this machine's apt uses: deb822 sources first, then the one-line format.
mirror() {
  local m=""
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    m=$(awk '/^URIs:/ {print $2; exit}' "$f")
    [ -n "$m" ] && case "$m" in *security*) m="";; *) break;; esac
  done
  if [ -z "$m" ] && [ -f /etc/apt/sources.list ]; then
    m=$(awk '$1 == "deb" && $0 !~ /security/ {for (i = 2; i <= NF; i++) if ($i ~ /^(https?|file):/) {print $i; exit}}' /etc/apt/sources.list)
  fi
  [ -n "$m" ] || { echo "check-libtorch2: no Debian mirror found in /etc/apt/sources.list(.d); set LATENTLAB_MIRROR" >&2; exit 1; }
  echo "${LATENTLAB_MIRROR:-$m}"
}

packages=(
  g++ cmake make ccache pkg-config ca-certificates
  libtorch-dev libopenblas0-openmp libdnnl-dev libgloo-dev
  libgtest-dev libcli11-dev nlohmann-json3-dev
  libopencv-imgcodecs-dev libopencv-imgproc-dev zlib1g-dev
  libcpp-httplib-dev python3-torch python3-numpy python3-safetensors
  nodejs chromium iproute2 procps
)

for tool in debootstrap rsync; do  # the host's tools: a new machine has neither
  command -v "$tool" >/dev/null || { step "apt-get install $tool"; apt-get install -y -q "$tool" >/dev/null; }
done
if [ ! -f "$root/.latentlab-ready" ]; then
  if [ ! -x "$root/usr/bin/apt-get" ]; then
    m=$(mirror)
    step "debootstrap --variant=minbase trixie $root ($m)"
    mkdir -p "$root"
    debootstrap --variant=minbase trixie "$root" "$m" >"$root.debootstrap.log" 2>&1 ||
      { tail -20 "$root.debootstrap.log" >&2; exit 1; }
  fi
fi

mounted=()
cleanup() { for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do umount -l "${mounted[$i]}" 2>/dev/null || true; done; }
trap cleanup EXIT
for fs in proc sys dev dev/pts; do
  mountpoint -q "$root/$fs" && continue
  mkdir -p "$root/$fs"
  case $fs in
    proc) mount -t proc proc "$root/proc" ;;
    sys) mount -t sysfs sys "$root/sys" ;;
    *) mount --bind "/$fs" "$root/$fs" ;;
  esac
  mounted+=("$root/$fs")
done
cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true
in_root() { chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive bash -c "$*"; }

# .latentlab-ready lists the packages installed; a list that grew installs what it lacks
if [ "$(cat "$root/.latentlab-ready" 2>/dev/null)" != "${packages[*]}" ]; then
  step "apt-get install (${#packages[@]} packages) in the trixie root"
  in_root "apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends ${packages[*]} >/dev/null"
  echo "${packages[*]}" >"$root/.latentlab-ready"
fi
step "LibTorch in the root: $(in_root "dpkg-query -W -f='\${Version}' libtorch-dev")"

step "copy the working tree, data/ and tests/e2e/node_modules"
dest="$root/src/latentlab"
mkdir -p "$dest"
(cd "$here" && git ls-files -co --exclude-standard -z) | rsync -a --delete-missing-args --from0 --files-from=- "$here/" "$dest/"
# files the tree no longer has (moved or deleted sources, which CMake's globs would still pick up)
(cd "$here" && git ls-files -co --exclude-standard) | sort >"$dest/.tree-files"
(cd "$dest" && find . -path ./build-trixie -prune -o -path ./data -prune -o -path ./tests/e2e/node_modules -prune -o \
  -type f ! -name .tree-files -print | sed 's|^\./||' | sort | comm -23 - .tree-files | while IFS= read -r f; do rm -f -- "$f"; done)
[ -d "$here/data" ] && rsync -a "$here/data/" "$dest/data/"
[ -d "$here/tests/e2e/node_modules" ] && rsync -a "$here/tests/e2e/node_modules/" "$dest/tests/e2e/node_modules/"

step "cmake configure + build (-j$jobs) against LibTorch 2.x"
in_root "cd /src/latentlab && cmake -S . -B build-trixie -DCMAKE_BUILD_TYPE=Release >/dev/null && cmake --build build-trixie -j $jobs 2>&1 | grep -E 'error|warning: .*deprecated|Error' | head -50; test \${PIPESTATUS[0]} -eq 0"

step "ctest -LE stress"
set +e
in_root "set -o pipefail; cd /src/latentlab/build-trixie && ctest --output-on-failure -j $jobs -LE stress 2>&1 | tail -40"
code=$?
set -e
summary="$dest/build-trixie/python-roundtrip/summary.txt"
[ -f "$summary" ] && { step "the Python round trip (examples/python/decode.py against latentlab sample)"; cat "$summary"; }
step "done: exit $code, $((SECONDS - start)) s in all"
exit $code
