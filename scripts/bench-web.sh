#!/usr/bin/env bash
# Load test of the web service on the demo corpus.
# First, what users feel: `cargo bench -p paperboy --bench fresh` (600 distinct queries from
# SciFact dev claims and demo titles, scripts/bench-fresh-queries.txt, each sent once with the
# query cache empty, then again warm, then an overload run; server CPU use beside each row).
# Then wrk (Debian package `wrk`) on `/` and hybrid `/api/v1/search` (191 queries in turn,
# scripts/bench-web-queries.txt): their vectors are cached after the first round, so that
# figure is the steady state of repeated queries; the first round (cold) is `warm-up`.
# Usage: scripts/bench-web.sh [target/release/paperboy] [seconds] [connections]
# (BENCH_FRESH=0 skips the fresh-query run.)
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${BENCH_FRESH:-1}" != 0 ]; then
  echo "== fresh queries (each once), then warm, then overload: cargo bench -p paperboy --bench fresh"
  cargo bench -q -p paperboy --bench fresh
fi
bin=${1:-target/release/paperboy}
secs=${2:-20}
conns=${3:-32}
port=18181
data=$(mktemp -d)
trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -rf "$data"' EXIT
"$bin" --data-dir "$data" serve --listen "127.0.0.1:$port" --search-rate 0 >"$data/serve.log" 2>&1 &
pid=$!
for _ in $(seq 1 120); do
  if curl -sf "http://127.0.0.1:$port/healthz" | grep -q '"ready":true'; then break; fi
  sleep 0.5
done
curl -sf "http://127.0.0.1:$port/healthz"; echo
echo "== warm-up: each query once (cold query vectors), one client"
start=$(date +%s.%N)
while read -r q; do curl -sf -o /dev/null "http://127.0.0.1:$port/api/v1/search?mode=hybrid&limit=10&q=${q// /+}"; done < scripts/bench-web-queries.txt
end=$(date +%s.%N)
echo "$(wc -l < scripts/bench-web-queries.txt) cold hybrid searches in $(echo "$end - $start" | bc) s"
echo "== GET / ($secs s, $conns connections, 2 threads)"
wrk -t2 -c"$conns" -d"${secs}s" --latency "http://127.0.0.1:$port/" | grep -E "Requests/sec|Latency|50%|99%|requests in|Non-2xx"
echo "== GET /api/v1/search hybrid ($secs s, $conns connections, 2 threads)"
wrk -t2 -c"$conns" -d"${secs}s" --latency -s scripts/bench-web.lua "http://127.0.0.1:$port" | grep -E "Requests/sec|Latency|50%|99%|requests in|Non-2xx"
echo "peak RSS of the server: $(grep VmHWM /proc/$pid/status | awk '{print $2/1024 " MiB"}')"
