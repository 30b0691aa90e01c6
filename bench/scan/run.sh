#!/usr/bin/env bash
# Scan benchmark (issue 3): a lab and the scanner in separate processes on this
# machine, realistic mix, N endpoints; endpoints/s with a full fingerprint,
# requests/s and peak RSS of the scanner. Then a 1,000,000-line target file of
# which 10,000 answer, for memory. Everything stays on loopback.
#
#   bench/scan/run.sh [N ...]        default: 1000 10000
#   RUNS=3 bench/scan/run.sh 1000    repeat each size, report the median
#   LABS=2 bench/scan/run.sh 30000   split the lab over 2 processes (127.20/16,
#                                    127.21/16, …): one process cannot hold more
#                                    than ~19,000 listeners under this machine's
#                                    open-file limit of 20,000
set -euo pipefail
cd "$(dirname "$0")/../.."
sizes=("$@"); [ ${#sizes[@]} -gt 0 ] || sizes=(1000 10000)
runs=${RUNS:-3}
out=bench/out; mkdir -p "$out"
bin="$out/exsweep"
CGO_ENABLED=0 go build -o "$bin" ./cmd/exsweep

median() { sort -n | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }

[ "${ONLY_MEM:-0}" = 1 ] && sizes=()
labs=${LABS:-1}
for n in "${sizes[@]+"${sizes[@]}"}"; do
  labpids=()
  : >"$out/lab-$n.txt"; : >"$out/truth-$n.jsonl"
  for l in $(seq 1 "$labs"); do
    # Lab 1 keeps seed 1 and 127.20/16, so LABS=1 measures what it always did.
    "$bin" lab --servers "$((n / labs))" --mix realistic --seed "$l" --network "127.$((19 + l)).0.0/16" \
      --targets "$out/lab-$n-$l.txt" --truth "$out/truth-$n-$l.jsonl" >"$out/lab-$n-$l.log" 2>&1 &
    labpids+=($!)
  done
  for l in $(seq 1 "$labs"); do
    for _ in $(seq 1 600); do grep -q "serving until" "$out/lab-$n-$l.log" 2>/dev/null && break; sleep 0.2; done
    cat "$out/lab-$n-$l.txt" >>"$out/lab-$n.txt"; cat "$out/truth-$n-$l.jsonl" >>"$out/truth-$n.jsonl"
  done
  count=$(grep -c . "$out/lab-$n.txt") # servers in all labs (n rounded down to a multiple of LABS)
  eps=(); rps=(); rss=()
  for r in $(seq 1 "$runs"); do
    /usr/bin/time -v "$bin" scan -i "$out/lab-$n.txt" --no-store --per-net-rate 0 --timeout 5s --format jsonl \
      -o "$out/scan-$n.jsonl" 2>"$out/scan-$n.err" || true
    secs=$(grep -o 'Time: [0-9.]*s' "$out/scan-$n.err" | grep -o '[0-9.]*' | head -1)
    reqs=$(grep -o '[0-9]* requests' "$out/scan-$n.err" | grep -o '[0-9]*' | head -1)
    kb=$(grep 'Maximum resident set size' "$out/scan-$n.err" | grep -o '[0-9]*$')
    eps+=("$(awk -v n="$count" -v s="$secs" 'BEGIN{printf "%.0f", n/s}')")
    rps+=("$(awk -v q="$reqs" -v s="$secs" 'BEGIN{printf "%.0f", q/s}')")
    rss+=("$((kb/1024))")
  done
  acc=$(go run ./bench/scan/accuracy "$out/truth-$n.jsonl" "$out/scan-$n.jsonl")
  # The wall rate includes the tail of tarpits that answer nothing until the
  # timeout; the bulk rate is how fast the other 97% were fingerprinted.
  bulk=$(python3 - "$out/scan-$n.jsonl" <<'PY'
import json, sys, datetime
rs = [json.loads(l) for l in open(sys.argv[1])]
ts = lambda r: datetime.datetime.fromisoformat(r["observed_at"].replace("Z", "+00:00")).timestamp()
t0 = min(ts(r) for r in rs)
ends = sorted(ts(r) + r["duration_ms"] / 1000 - t0 for r in rs)
k = int(0.97 * len(ends))
print("97%% done after %.2fs (%.0f endpoints/s), last after %.2fs" % (ends[k - 1], k / ends[k - 1], ends[-1]))
PY
)
  kill "${labpids[@]}"; wait "${labpids[@]}" 2>/dev/null || true
  printf 'N=%s  endpoints/s median %s (runs: %s)  requests/s median %s  scanner peak RSS median %s MB  %s\n' \
    "$count" "$(printf '%s\n' "${eps[@]}" | median)" "${eps[*]}" "$(printf '%s\n' "${rps[@]}" | median)" \
    "$(printf '%s\n' "${rss[@]}" | median)" "$acc; last run: $bulk"
done

[ "${SKIP_MEM:-0}" = 1 ] && exit 0

# Memory: 1,000,000 target lines, 10,000 of which are lab servers; the rest are
# loopback addresses where nothing listens (connection refused at once).
n=10000
"$bin" lab --servers "$n" --mix realistic --seed 2 --network 127.30.0.0/16 \
  --targets "$out/lab-mem.txt" --truth "$out/truth-mem.jsonl" >"$out/lab-mem.log" 2>&1 &
labpid=$!
for _ in $(seq 1 300); do grep -q "serving until" "$out/lab-mem.log" 2>/dev/null && break; sleep 0.2; done
python3 - "$out/lab-mem.txt" "$out/targets-1m.txt" <<'PY'
import sys, random
lab = [l.strip() for l in open(sys.argv[1]) if l.strip()]
random.seed(1)
lines = lab + ["127.%d.%d.%d:443" % (31 + i // 62500, i // 250 % 250, i % 250 + 1) for i in range(1_000_000 - len(lab))]
random.shuffle(lines)
open(sys.argv[2], "w").write("\n".join(lines) + "\n")
PY
/usr/bin/time -v "$bin" scan -i "$out/targets-1m.txt" --no-store --per-net-rate 0 --retries 0 --timeout 5s \
  -o /dev/null 2>"$out/scan-1m.err" || true
kill "$labpid"; wait "$labpid" 2>/dev/null || true
printf '1,000,000 targets (10,000 answer): %s, peak RSS %s MB\n' \
  "$(grep -o 'Time: .*' "$out/scan-1m.err" | head -1)" \
  "$(( $(grep 'Maximum resident set size' "$out/scan-1m.err" | grep -o '[0-9]*$') / 1024 ))"
