#!/usr/bin/env bash
# Load test of `latentlab serve` on loopback with wrk (Debian package wrk): 100 connections on each
# endpoint the page polls, on a synthetic runs folder (8 runs of 100 epochs and 100 image grids each)
# or on the runs folder given.
#
#   bash bench/load_test.sh [runs folder] [seconds per endpoint (10)] [connections (100)]
#
# Prints requests/s, latency and errors per endpoint.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
exe="${LATENTLAB_EXE:-$here/build/latentlab}"
secs="${2:-10}"
conns="${3:-100}"
command -v wrk >/dev/null || { echo "error: wrk not found; apt-get install wrk (or bash scripts/deps.sh)" >&2; exit 1; }
[ -x "$exe" ] || { echo "error: $exe not built; run bash scripts/build.sh" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'kill $pid 2>/dev/null || true; rm -rf "$tmp"' EXIT
runs="${1:-}"
if [ -z "$runs" ]; then
  runs="$tmp/runs"
  for r in $(seq 1 8); do
    d="$runs/vae-$r"; mkdir -p "$d"
    echo '{"model":"vae","dataset":"mnist","epochs":100}' > "$d/config.json"
    for e in $(seq 1 100); do
      echo "{\"epoch\":$e,\"train_loss\":$((200 - e)).5,\"test_loss\":$((190 - e)).25,\"train_kl\":20.1,\"test_kl\":21.3,\"seconds\":2.4}"
      cp "$here/docs/images/dcgan-mnist-epoch5.png" "$d/samples-$e.png"
    done > "$d/metrics.jsonl"
  done
fi
first=$(ls "$runs" | head -1)
image=$(cd "$runs/$first" && ls *.png | head -1)
"$exe" serve --runs "$runs" --port 0 2> "$tmp/serve.log" &
pid=$!
for _ in $(seq 1 100); do grep -q "dashboard of" "$tmp/serve.log" && break; sleep 0.1; done
url=$(sed -n 's/.*dashboard of .* at \(http:[^ ]*\).*/\1/p' "$tmp/serve.log")
[ -n "$url" ] || { cat "$tmp/serve.log" >&2; exit 1; }
echo "latentlab serve at $url; runs: $runs; wrk -t2 -c$conns -d${secs}s per endpoint; $(nproc) cores"
printf '%-40s %12s %12s %12s %s\n' endpoint "requests/s" "latency avg" "latency max" errors
for path in "" "api/runs" "api/runs/$first" "files/$first/$image"; do
  out=$(wrk -t2 -c"$conns" -d"${secs}s" --latency "$url$path" 2>&1)
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  avg=$(awk '/^    Latency/ {print $2}' <<<"$out")
  max=$(awk '/^    Latency/ {print $4}' <<<"$out")
  non2xx=$(awk '/Non-2xx/ {print $NF}' <<<"$out")
  sock=$(grep -o 'Socket errors:.*' <<<"$out" || true)
  printf '%-40s %12s %12s %12s %s\n' "/$path" "$rps" "$avg" "$max" "non-2xx ${non2xx:-0}; ${sock:-socket errors 0}"
done
kill -0 $pid && echo "server still running after the load: yes"
