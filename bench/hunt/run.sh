#!/usr/bin/env bash
# Hunt benchmark: generate a triage tree of SIZE (IIS and HttpProxy logs, a web
# root of a few thousand files, planted attacks), then time
#   exsweep hunt --root TREE --format json -o OUT
# and, on the same tree, a plain literal search for the same indicators
#   rg -F -i -f PATTERNS TREE
# RUNS times each, under /usr/bin/time -v: median wall time, MB/s (tree bytes
# over wall time), peak RSS, and the exsweep/ripgrep ratio. Both read the tree
# from the page cache (it was just written); the tree is deleted at the end
# unless KEEP=1.
#
#   bench/hunt/run.sh [SIZE]        default 2G; e.g. 256M for a quick run
#   RUNS=5 bench/hunt/run.sh 1G
set -euo pipefail
cd "$(dirname "$0")/../.."
size=${1:-2G}
runs=${RUNS:-3}
out=bench/out
tree="$out/hunt-tree"
patterns="$out/hunt-patterns.txt"
mkdir -p "$out"
bin="$out/exsweep"
if ! CGO_ENABLED=0 go build -o "$bin" ./cmd/exsweep; then
  # The CLI is being changed and does not build: measure the engine through
  # bench/hunt/huntrun, which runs hunt.Run and writes the same JSON report.
  echo "run.sh: cmd/exsweep does not build; using bench/hunt/huntrun" >&2
  bin="$out/huntrun"
  CGO_ENABLED=0 go build -o "$bin" ./bench/hunt/huntrun
fi

if ! command -v rg >/dev/null; then
  apt-get update && apt-get install -y ripgrep
fi

go run ./bench/hunt/gen -out "$tree" -size "$size" -patterns "$patterns"
bytes=$(find "$tree" -type f -printf '%s\n' | awk '{s+=$1} END {print s}')
files=$(find "$tree" -type f | wc -l)
[ "${KEEP:-0}" = 1 ] || trap 'rm -rf "$tree"' EXIT

median() { sort -n | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
secs() { # /usr/bin/time -v "Elapsed (wall clock) time (h:mm:ss or m:ss): 0:01.23"
  grep 'Elapsed (wall clock)' "$1" | awk '{print $NF}' | awk -F: '{ if (NF==3) print $1*3600+$2*60+$3; else print $1*60+$2 }'
}
rss() { grep 'Maximum resident set size' "$1" | awk '{print int($NF/1024)}'; }

ex_t=(); ex_m=(); rg_t=(); rg_m=()
for r in $(seq 1 "$runs"); do
  /usr/bin/time -v "$bin" hunt --root "$tree" --format json -o "$out/hunt-report.json" 2>"$out/hunt-time.txt" || true
  ex_t+=("$(secs "$out/hunt-time.txt")"); ex_m+=("$(rss "$out/hunt-time.txt")")
  /usr/bin/time -v rg --no-ignore --hidden -F -i -c -f "$patterns" "$tree" >"$out/hunt-rg.txt" 2>"$out/hunt-rg-time.txt" || true
  rg_t+=("$(secs "$out/hunt-rg-time.txt")"); rg_m+=("$(rss "$out/hunt-rg-time.txt")")
done
et=$(printf '%s\n' "${ex_t[@]}" | median); rt=$(printf '%s\n' "${rg_t[@]}" | median)
em=$(printf '%s\n' "${ex_m[@]}" | median); rm_=$(printf '%s\n' "${rg_m[@]}" | median)
verdict=$(grep -o '"summary": *"[^"]*"' "$out/hunt-report.json" | head -1 | cut -c1-160)
printf 'tree: %s in %d files (%s)\n' "$(awk -v b="$bytes" 'BEGIN{printf "%.0f MB", b/1048576}')" "$files" "$size"
printf '%s: ' "$(basename "$bin")"
printf 'hunt median %.2f s (runs: %s)  %.0f MB/s  peak RSS median %s MB (runs: %s)\n' "$et" "${ex_t[*]}" \
  "$(awk -v b="$bytes" -v t="$et" 'BEGIN{print b/1048576/t}')" "$em" "${ex_m[*]}"
printf 'rg -F -i -f:  median %.2f s (runs: %s)  %.0f MB/s  peak RSS median %s MB\n' "$rt" "${rg_t[*]}" \
  "$(awk -v b="$bytes" -v t="$rt" 'BEGIN{print b/1048576/t}')" "$rm_"
printf 'ratio exsweep/rg: %.2f   %s\n' "$(awk -v a="$et" -v b="$rt" 'BEGIN{print a/b}')" "$verdict"
printf 'cores %s, load before: %s\n' "$(nproc)" "$(cut -d' ' -f1-3 /proc/loadavg)"
