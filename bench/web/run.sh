#!/usr/bin/env bash
# Dashboard benchmark: server time per page and API call with about 100,000
# endpoints in the store (the issue's size).
#
# 1. Fills a store with the March 2021 replay at SCALE (default 0.25 of the
#    published worldwide counts: 103,000 endpoints, 8 runs, 824,000
#    observations, 107,000 cases, 4,000 organisations), once: the file is kept
#    in bench/out and reused (opening it applies any newer migration; delete
#    it to rebuild). Filling takes about a minute here.
# 2. Runs BenchmarkPages (internal/web/pages_bench_test.go) COUNT times: each
#    page's handler called directly (no network), so the time is the server's.
# 3. Prints the median ms per page over the COUNT runs.
#
#   bench/web/run.sh                  # SCALE=0.25 COUNT=5
#   SCALE=0.025 bench/web/run.sh      # ~10,000 endpoints
set -euo pipefail
cd "$(dirname "$0")/../.."
scale=${SCALE:-0.25}
count=${COUNT:-5}
out=bench/out
mkdir -p "$out"
db="$out/web-$scale.db"
bin="$out/exsweep"
CGO_ENABLED=0 go build -o "$bin" ./cmd/exsweep

if [ ! -s "$db" ]; then
  rm -f "$db" "$db-wal" "$db-shm"
  echo "filling $db (replay at scale $scale)..." >&2
  /usr/bin/time -f "replay: %e s wall, %M KB peak RSS" "$bin" lab --replay march-2021 --scale "$scale" --db "$db" >&2
fi
sqlite3 "$db" 'SELECT (SELECT COUNT(DISTINCT ip) FROM observations) || " endpoints, " ||
  (SELECT COUNT(*) FROM observations) || " observations, " || (SELECT COUNT(*) FROM cases) || " cases, " ||
  (SELECT COUNT(*) FROM organisations) || " organisations"' >&2 2>/dev/null || true

raw="$out/web-bench.txt"
EXSWEEP_BENCH_DB="$PWD/$db" go test -run '^$' -bench Pages -benchtime 20x -count "$count" ./internal/web/ | tee "$raw" >&2
echo
echo "median server time per page over $count runs (each the mean of 20 requests), scale $scale:"
grep '^BenchmarkPages/' "$raw" |
  awk '{name=$1; sub(/^BenchmarkPages\//, "", name); sub(/-[0-9]+$/, "", name); print name, $3/1e6}' |
  sort -k1,1 -k2,2n |
  awk '{v[$1]=v[$1] " " $2; n[$1]++} END {for (k in v) {split(substr(v[k],2), a, " "); m=(n[k]%2)?a[(n[k]+1)/2]:(a[n[k]/2]+a[n[k]/2+1])/2; printf "  %-16s %8.2f ms\n", k, m}}' |
  sort
