#!/usr/bin/env bash
# Fuzzes every parser with libFuzzer: builds the targets of fuzz/ with clang, AddressSanitizer and
# UndefinedBehaviorSanitizer into build-fuzz/, then runs each for FUZZ_SECONDS (default 600) from the
# seed corpus fuzz/corpus/<target>; inputs it finds go to build-fuzz/corpus/<target>, crashes to
# build-fuzz/crash-*. FUZZ_PARALLEL targets run at once (default: the number of cores).
#   bash scripts/fuzz.sh [target...]        (targets: idx image config model metrics safetensors)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build="${LATENTLAB_FUZZ_BUILD_DIR:-$here/build-fuzz}"
secs="${FUZZ_SECONDS:-600}"
parallel="${FUZZ_PARALLEL:-$(nproc)}"
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(idx image config model metrics safetensors)
command -v clang++ >/dev/null && ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a >/dev/null 2>&1 \
  || { echo "error: clang and libFuzzer are missing; run bash scripts/deps.sh (packages clang, libclang-rt-14-dev)" >&2; exit 1; }
echo "==> cmake configure ($build, clang, -DLATENTLAB_FUZZ=ON)"
cmake -S "$here" -B "$build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS=-gline-tables-only -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
  -DLATENTLAB_FUZZ=ON >/dev/null
echo "==> cmake build"
cmake --build "$build" -j "$(nproc)" --target $(printf 'fuzz_%s ' "${targets[@]}")
export OMP_NUM_THREADS=1 ASAN_OPTIONS="detect_leaks=1:allocator_may_return_null=1:max_allocation_size_mb=2048" UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
export LSAN_OPTIONS="suppressions=$here/scripts/lsan.supp:print_suppressions=0"
run_one() {
  local t=$1
  mkdir -p "$build/corpus/$t"
  (cd "$build" && "./fuzz_$t" "corpus/$t" "$here/fuzz/corpus/$t" -max_total_time="$secs" -timeout=30 -rss_limit_mb=6144 \
     -max_len=65536 -print_final_stats=1 -artifact_prefix="$build/crash-$t-" >"$build/fuzz-$t.log" 2>&1) || true
}
echo "==> fuzzing ${targets[*]}, ${secs} s each, $parallel at a time (logs: $build/fuzz-<target>.log)"
running=0
for t in "${targets[@]}"; do
  run_one "$t" &
  running=$((running + 1))
  if [ "$running" -ge "$parallel" ]; then wait -n; running=$((running - 1)); fi
done
wait
status=0
printf '%-8s %12s %10s %8s %s\n' target executions seconds corpus result
for t in "${targets[@]}"; do
  log="$build/fuzz-$t.log"
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  took=$(sed -n 's/.*Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log" | tail -1)
  n=$(ls "$build/corpus/$t" | wc -l)
  slowest=$(sed -n 's/^stat::slowest_unit_time_sec: *//p' "$log" | tail -1)
  # crash-, leak-, timeout- and oom- artifacts are findings; a slow-unit- artifact (over 10 s, under the
  # 30 s timeout) is reported with the slowest unit's time
  if grep -q "ERROR: \|runtime error:\|==ERROR\|deadly signal\|Timeout\|out-of-memory" "$log" ||
     ls "$build"/crash-"$t"-{crash,leak,timeout,oom}-* >/dev/null 2>&1; then
    result="FINDING (see $log)"; status=1
  else
    result="no crash, leak or hang (slowest input ${slowest:-?} s)"
  fi
  printf '%-8s %12s %10s %8s %s\n' "$t" "${execs:-?}" "${took:-?}" "$n" "$result"
done
exit $status
