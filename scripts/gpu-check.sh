#!/usr/bin/env bash
# The one-shot GPU check: on a machine with an NVIDIA GPU, PyTorch 2.x with CUDA in its python3, a CUDA
# toolkit, CMake and g++, and no network, it configures latentlab against that PyTorch's LibTorch, builds,
# runs the suite with the CUDA tests (tests/test_cuda.cpp: every model family), runs bench/compare.py
# --device cuda for the MLP VAE, the conv VAE and the DCGAN against PyTorch on the same GPU, and writes
# one summary JSON. Two steps:
#
#   bash scripts/gpu-check.sh --prepare   here (Debian 12 after scripts/deps.sh): packs what such a machine
#                                         lacks into .gpu/ (git-ignored): the headers of nlohmann-json, CLI11,
#                                         OpenCV, Gloo, cpp-httplib, OpenSSL and zlib, GoogleTest's static
#                                         libraries, and the shared libraries OpenCV and cpp-httplib load
#                                         (their GDAL, GDCM, BLAS and LAPACK dependencies, which image files
#                                         never reach, as generated stubs, to stay under the 64 MiB a call
#                                         carries) and MNIST, gzipped
#   bash scripts/gpu-check.sh [OUT]       there, with .gpu carried: everything else, summary in
#                                         OUT/gpu-check.json (default build-gpu/), logs beside it
#
# GPU_CHECK_PAIRS [3] pairs per benchmark workload; GPU_CHECK_FILTER [*] the gtest filter.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
bundle="$here/.gpu"
start=$SECONDS
step() { printf '==> [gpu-check] %s (%ds)\n' "$*" "$((SECONDS - start))"; }

if [ "${1:-}" = "--prepare" ]; then
  lib=/usr/lib/x86_64-linux-gnu
  for f in /usr/include/nlohmann/json.hpp /usr/include/CLI/CLI.hpp /usr/include/opencv4/opencv2/core.hpp /usr/include/gloo/context.h \
           /usr/include/httplib.h /usr/include/openssl/ssl.h /usr/include/zlib.h $lib/libgtest.a; do
    [ -e "$f" ] || { echo "gpu-check --prepare: $f is missing; run bash scripts/deps.sh first" >&2; exit 1; }
  done
  rm -rf "$bundle"
  [ -f "$here/data/mnist/train-images-idx3-ubyte" ] || { echo "gpu-check --prepare: data/mnist is missing; run bash scripts/fetch_data.sh" >&2; exit 1; }
  mkdir -p "$bundle/include" "$bundle/lib"
  step "headers"
  cp -r /usr/include/nlohmann /usr/include/CLI /usr/include/gloo /usr/include/openssl "$bundle/include/"
  cp /usr/include/httplib.h /usr/include/zlib.h /usr/include/zconf.h "$bundle/include/"
  cp -r /usr/include/x86_64-linux-gnu/openssl "$bundle/include/openssl-arch" 2>/dev/null && cp -n "$bundle"/include/openssl-arch/* "$bundle/include/openssl/" && rm -rf "$bundle/include/openssl-arch"
  mkdir -p "$bundle/include/opencv4/opencv2"
  (cd /usr/include/opencv4/opencv2 && cp -r core core.hpp core.hpp imgcodecs imgcodecs.hpp imgproc imgproc.hpp opencv_modules.hpp cvconfig.h "$bundle/include/opencv4/opencv2/" 2>/dev/null || true)
  cp -r /usr/include/gtest /usr/include/gmock "$bundle/include/"
  cp $lib/libgtest.a $lib/libgtest_main.a $lib/libgmock.a $lib/libgmock_main.a "$bundle/lib/"
  # nlohmann_json's CMake package finds its headers three folders up, as in /usr
  mkdir -p "$bundle/share/cmake"
  cp -r /usr/share/cmake/nlohmann_json "$bundle/share/cmake/"
  step "MNIST, gzipped (the IDX reader reads .gz)"
  mkdir -p "$bundle/mnist"
  for f in "$here"/data/mnist/*-ubyte; do gzip -9c "$f" >"$bundle/mnist/$(basename "$f").gz"; done
  step "shared libraries (OpenCV, cpp-httplib) and stubs of what image files never reach"
  python3 - "$bundle/lib" <<'PY'
import os, shutil, subprocess, sys
dest = sys.argv[1]
def run(*a):
    return subprocess.run(a, capture_output=True, text=True, check=True).stdout
cache = {}
for line in run('ldconfig', '-p').splitlines()[1:]:
    parts = line.split()
    if 'x86-64' in line:
        cache.setdefault(parts[0], parts[-1])
def needed(path):
    return [l.split()[1] for l in run('objdump', '-p', path).splitlines() if l.strip().startswith('NEEDED')]
# the machine's own: the C and C++ runtimes, OpenMP, OpenSSL, zlib
system = ('libc.so', 'libm.so', 'libstdc++', 'libgcc_s', 'libpthread', 'libdl.so', 'librt.so', 'ld-linux', 'libgomp',
          'libssl.so', 'libcrypto.so', 'libz.so')
stubbed = ('libgdal', 'libgdcm', 'libblas', 'liblapack')
todo = ['libopencv_imgcodecs.so.406', 'libopencv_imgproc.so.406', 'libopencv_core.so.406', 'libcpp-httplib.so.0.11']
carried, stubs = {}, {}
while todo:
    n = todo.pop()
    if n in carried or n in stubs or n.startswith(system):
        continue
    if n.startswith(stubbed):
        stubs[n] = cache[n]
        continue
    carried[n] = cache[n]
    todo += needed(cache[n])
for n, p in carried.items():
    shutil.copy(os.path.realpath(p), os.path.join(dest, n))
for dev in ('libopencv_core', 'libopencv_imgproc', 'libopencv_imgcodecs'):
    os.symlink(dev + '.so.406', os.path.join(dest, dev + '.so'))
os.symlink('libcpp-httplib.so.0.11', os.path.join(dest, 'libcpp-httplib.so'))
# a stub defines every symbol a carried library takes from the stubbed one (BIND_NOW needs them all at
# load time); calling one aborts (saying which), which only GDAL/GDCM image formats or OpenCV's LAPACK
# solvers would do
wanted = set()
for n in carried:
    for l in run('nm', '-D', '--undefined-only', os.path.join(dest, n)).splitlines():
        wanted.add(l.split()[-1].split('@')[0])
# OpenCV registers GDAL's drivers when it sets up its decoders (used only with IMREAD_LOAD_GDAL)
noop = {'GDALAllRegister'}
for n, p in stubs.items():
    src = ['#include <stdio.h>', '#include <stdlib.h>']
    for l in run('objdump', '-T', p).splitlines():
        f = l.split()
        if len(f) < 7 or f[-1] not in wanted or f[3] == '*UND*':
            continue
        name, kind, size = f[-1], f[2], int(f[4], 16)
        ident = 'stub_%d' % len(src)
        if name in noop:
            src.append('void %s(void) __asm__("%s"); void %s(void) {}' % (ident, name, ident))
        elif kind == 'DF':
            src.append('void %s(void) __asm__("%s"); void %s(void) { fputs("latentlab gpu-check: %s called %s, a stub\\n", stderr); abort(); }'
                       % (ident, name, ident, n, name))
        else:
            src.append('char %s[%d] __asm__("%s");' % (ident, max(size, 1), name))
    os.makedirs(os.path.join(dest, 'stubs'), exist_ok=True)
    c = os.path.join(dest, 'stubs', n + '.c')
    open(c, 'w').write('\n'.join(src) + '\n')
    subprocess.run(['gcc', '-shared', '-fPIC', '-o', os.path.join(dest, 'stubs', n), c, '-Wl,-soname,' + n], check=True)
    os.remove(c)
print('carried %d libraries, stubbed %s' % (len(carried), ', '.join(sorted(stubs))))
PY
  # latentlab run here with the bundle's libraries and the GDAL/GDCM stubs first on the library path
  # (not the BLAS/LAPACK stubs: Debian's LibTorch here needs the real ones; a PyTorch wheel does not):
  # the stubs must satisfy the loader, and a PNG must still be written and read back
  if [ -x "$here/build/latentlab" ]; then
    check=$(mktemp -d)
    mkdir "$check/stubs"
    ln -s "$bundle"/lib/stubs/libgd* "$check/stubs/"
    LD_LIBRARY_PATH="$bundle/lib:$check/stubs" ldd "$here/build/latentlab" | grep -q "$check/stubs/libgdal" ||
      { echo "gpu-check --prepare: the GDAL stub is not the one loaded" >&2; exit 1; }
    LD_LIBRARY_PATH="$bundle/lib:$check/stubs" "$here/build/latentlab" pca --data-dir "$here/data/mnist" --out "$check/pca.png" >/dev/null 2>&1 &&
      [ -s "$check/pca.png" ] || { echo "gpu-check --prepare: latentlab does not run with the bundle's libraries" >&2; rm -rf "$check"; exit 1; }
    rm -rf "$check"
  fi
  step "done: $(du -sh "$bundle" | cut -f1) in .gpu; carry .gpu to the GPU machine and run bash scripts/gpu-check.sh there"
  exit 0
fi

out="${1:-$here/build-gpu}"
build="$here/build-gpu"
mkdir -p "$out" "$build"
summary="$out/gpu-check.json"
python=${PYTHON:-python3}
jobs=$(nproc)
[ -d "$bundle/include" ] || { echo "gpu-check: $bundle is missing: run bash scripts/gpu-check.sh --prepare on a Debian 12 machine and carry .gpu" >&2; exit 1; }
if [ ! -f "$here/data/mnist/train-images-idx3-ubyte" ]; then
  mkdir -p "$here/data/mnist"
  for f in "$bundle"/mnist/*.gz; do gunzip -c "$f" >"$here/data/mnist/$(basename "$f" .gz)"; done
fi
torch_info=$("$python" -c 'import torch; print(torch.__version__, torch.version.cuda, torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else "-")')
step "python3's torch: $torch_info; nvidia-smi: $(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null || echo none)"
prefix=$("$python" -c 'import torch; print(torch.utils.cmake_prefix_path)')
export LD_LIBRARY_PATH="$bundle/lib:$bundle/lib/stubs:$("$python" -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "lib"))')${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
torch_include=$("$python" -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "include"))')
# the compiler and linker see the bundle (header-only libraries have no CMake package to add them); the
# system's OpenSSL and zlib get the unversioned names a link needs where the machine lacks -dev packages
devlinks="$build/devlinks"
mkdir -p "$devlinks"
for so in libcrypto.so.3 libssl.so.3 libz.so.1; do
  real=$(ldconfig -p | awk -v n="$so" '$1 == n && /x86-64/ {print $NF; exit}')
  [ -n "$real" ] && ln -sf "$real" "$devlinks/${so%.*}"
done
export CPATH="$bundle/include${CPATH:+:$CPATH}" LIBRARY_PATH="$bundle/lib:$devlinks${LIBRARY_PATH:+:$LIBRARY_PATH}"
export CMAKE_PREFIX_PATH="$prefix;$bundle"  # the consumer test's own configure finds the same packages
abi=$("$python" -c 'import torch; print(int(torch.compiled_with_cxx11_abi()))')
[ "$abi" = 1 ] || echo "gpu-check: warning: this torch uses the pre-cxx11 ABI; the bundle's C++ libraries (GoogleTest, OpenCV) use the cxx11 one" >&2

step "configure (LibTorch of python3's torch, the bundle in .gpu)"
# Gloo's headers: the ones in torch's include folder where the wheel has them (they match its Gloo), else the bundle's
cmake -S "$here" -B "$build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$prefix;$bundle" \
  -DCMAKE_INCLUDE_PATH="$torch_include;$bundle/include" -DCMAKE_LIBRARY_PATH="$bundle/lib;$devlinks" ${GPU_CHECK_CMAKE_ARGS:-} >"$out/configure.log" 2>&1 ||
  { tail -40 "$out/configure.log" >&2; exit 1; }
step "build (-j$jobs)"
build_ok=1
cmake --build "$build" -j "$jobs" >"$out/build.log" 2>&1 || build_ok=0
[ $build_ok = 1 ] || { grep -E "error|Error" "$out/build.log" | head -30 >&2; }

ctest_ok=0 cuda_tests="" bench_ok=0
if [ $build_ok = 1 ]; then
  step "ctest -LE 'stress|e2e' (the CUDA tests run here)"
  (cd "$build" && ctest -j "$jobs" -LE 'stress|e2e' --output-on-failure --timeout 600 >"$out/ctest.log" 2>&1) && ctest_ok=1 || true
  tail -15 "$out/ctest.log"
  cuda_tests=$(cd "$build" && ./latentlab_tests --gtest_filter="${GPU_CHECK_FILTER:-*Cuda*:*Gpu*}" 2>&1 | tee "$out/cuda-tests.log" | grep -E "^\[  (PASSED|FAILED|SKIPPED) " | tr '\n' ' ')
  step "CUDA tests: $cuda_tests"
  step "bench/compare.py --device cuda (MLP VAE, conv VAE, DCGAN against PyTorch on the same GPU)"
  "$python" "$here/bench/compare.py" --device cuda --exe "$build/latentlab" --data-dir "$here/data/mnist" --threads 4 \
    --pairs "${GPU_CHECK_PAIRS:-3}" --workloads vae:128,vae-conv:128,dcgan:64 --json "$out/bench.json" 2>&1 | tee "$out/bench.log" && bench_ok=1 || true
fi
"$python" - "$summary" "$out" <<PY
import json, os, sys
out = sys.argv[2]
bench = json.load(open(os.path.join(out, 'bench.json'))) if os.path.exists(os.path.join(out, 'bench.json')) else []
json.dump({'torch': "$torch_info", 'build': bool($build_ok), 'ctest_passed': bool($ctest_ok), 'cuda_tests': "$cuda_tests".strip(),
           'bench': bench, 'seconds': $((SECONDS - start))}, open(sys.argv[1], 'w'), indent=1)
PY
step "summary: $summary"
cat "$summary"
[ $build_ok = 1 ] && [ $ctest_ok = 1 ] && [ $bench_ok = 1 ]
