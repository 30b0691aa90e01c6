#!/usr/bin/env bash
# Peers benchmark (issue 3): exsweep and the peer tools on the same lab of
# N simulated servers (realistic mix, seed 1), lab and tool in separate
# processes. For each tool: wall time, hosts/s, and what it reported compared
# with the lab's truth (bench/peers/compare.py). Method, tool versions and where
# the third-party scripts come from: bench/peers/README.md.
#
#   sudo bench/peers/run.sh                    all tools found, N=1000
#   TOOLS="exsweep nmap-vuln" bench/peers/run.sh
#   N=200 RUNS=1 bench/peers/run.sh            a quick try
#
# Everything runs inside a private network namespace (unshare --net) that has
# only a loopback interface: the lab, the tools and, for ms-exchange-version.nse,
# a loopback stand-in for raw.githubusercontent.com (bench/peers/mirror.py,
# reached through a private /etc/hosts). No packet can leave the machine, even
# from a tool that tries to update itself. Needs root for the namespace.
#
# Environment:
#   N          lab size (1000)
#   RUNS       runs of a tool whose first run took under a minute (3); a slower
#              tool runs once. The wall time reported is the median.
#   PASSES     "all" (every lab server) and/or "answering" (the same lab without
#              its tarpits, which accept the connection and never answer: every
#              tool then waits for its own timeout, and that wait is most of the
#              wall time of "all"). Default: "all answering".
#   TOOLS      which of: exsweep zgrab2 nuclei nmap-vuln nmap-version
#   NSE_MIRROR 0: run ms-exchange-version.nse without its dictionaries (as it
#              is, offline: it then fails on every host); default 1
#   PEERS_DIR  third-party files, see README (bench/out/peers):
#                bin/zgrab2, bin/nuclei          (else from PATH)
#                nse/http-vuln-exchange.nse
#                nse/ms-exchange-version.nse
#                nse/dicts/ms-exchange-unique-versions-dict.json
#                nse/dicts/ms-exchange-versions-dict.json
#                nuclei-templates/ms-exchange-server.yaml
#              a tool whose files are missing is skipped, with the reason.
set -euo pipefail
cd "$(dirname "$0")/../.."
n=${N:-1000}
runs_max=${RUNS:-3}
tools=${TOOLS:-"exsweep zgrab2 nuclei nmap-vuln nmap-version"}
passes=${PASSES:-"all answering"}
peers=${PEERS_DIR:-bench/out/peers}
out=bench/out/peers-run
bin=bench/out/exsweep

if [ -z "${EXSWEEP_PEERS_NETNS:-}" ]; then
  [ "$(id -u)" = 0 ] || { echo "run.sh needs root for a private network namespace (unshare --net)" >&2; exit 2; }
  mkdir -p "$out"
  # Build before leaving the network: the namespace has no module proxy.
  CGO_ENABLED=0 go build -o "$bin" ./cmd/exsweep
  go build -o "$out/accuracy" ./bench/scan/accuracy
  exec unshare --net --mount env EXSWEEP_PEERS_NETNS=1 bash "$0" "$@"
fi

# --- inside the namespace -------------------------------------------------------
ip link set lo up
printf '127.0.0.1 localhost\n127.0.0.1 raw.githubusercontent.com\n' >"$out/hosts"
mount --bind "$out/hosts" /etc/hosts # this mount namespace only

pids=()
cleanup() { for p in "${pids[@]+"${pids[@]}"}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

median() { sort -n | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
now() { date +%s.%N; }
load() { cut -d' ' -f1 /proc/loadavg; }

"$bin" lab --servers "$n" --mix realistic --seed 1 --network 127.20.0.0/16 \
  --targets "$out/lab.txt" --truth "$out/truth.jsonl" >"$out/lab.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 600); do grep -q "serving until" "$out/lab.log" 2>/dev/null && break; sleep 0.2; done
grep -q "serving until" "$out/lab.log" || { echo "lab did not start:" >&2; cat "$out/lab.log" >&2; exit 1; }
cp "$out/lab.txt" "$out/all.txt"
python3 - "$out/truth.jsonl" >"$out/answering.txt" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    t = json.loads(line)
    if t["kind"] != "tarpit":
        print(t["target"])
PY

find_bin() { # name: PEERS_DIR/bin/name, else PATH
  if [ -x "$peers/bin/$1" ]; then echo "$peers/bin/$1"; else command -v "$1" || true; fi
}
zgrab2=$(find_bin zgrab2)
nuclei=$(find_bin nuclei)
nmap=$(command -v nmap || true)
nse="$peers/nse"

# run_tool NAME OUTFILE CMD...: runs CMD (RUNS times if the first run took
# under a minute), then compares OUTFILE with the truth.
run_tool() {
  local name=$1 file=$2; shift 2
  local walls=() accs=() l0 l1 t0 t1 r rc
  l0=$(load)
  for r in $(seq 1 "$runs_max"); do
    rm -f "$file"
    t0=$(now)
    # exsweep exits 1 when it found something to act on (README, exit codes).
    "$@" >"$out/$name.stdout" 2>"$out/$name.stderr" || { rc=$?; [ "$name:$rc" = exsweep:1 ] || echo "  ($name exited $rc; see $out/$name.stderr)"; }
    t1=$(now)
    walls+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.2f", b-a}')")
    accs+=("$(python3 bench/peers/compare.py "$name" "$out/truth.jsonl" "$file" "$targets")")
    cp "$file" "$file.$pass.run$r" 2>/dev/null || true
    awk -v w="${walls[0]}" 'BEGIN{exit !(w >= 60)}' && break
  done
  l1=$(load)
  local wall
  wall=$(printf '%s\n' "${walls[@]}" | median)
  python3 - "$name" "$pass" "$wall" "${walls[*]}" "$l0" "$l1" "${accs[@]}" <<'PY' | tee -a "$out/summary.jsonl"
import json, sys
name, pss, wall, walls, l0, l1, *accs = sys.argv[1:]
acc = [json.loads(a) for a in accs]
n = acc[0]["hosts"]
rec = {"tool": name, "pass": pss, "wall_s": float(wall), "runs_s": walls.split(),
       "hosts_per_s": round(n / float(wall)), "load_before": l0, "load_after": l1}
rec.update(acc[0])
if any(a != acc[0] for a in acc[1:]):
    rec["other_runs"] = acc[1:]
print(json.dumps(rec))
PY
}

skip() { echo "{\"tool\": \"$1\", \"pass\": \"$pass\", \"skipped\": \"$2\"}" | tee -a "$out/summary.jsonl"; }

mirror_started=
start_mirror() { # the stand-in for raw.githubusercontent.com (see mirror.py)
  [ -z "$mirror_started" ] || return 0
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=raw.githubusercontent.com \
    -keyout "$out/mirror.key" -out "$out/mirror.crt" >/dev/null 2>&1
  : >"$out/mirror.log"
  python3 bench/peers/mirror.py "$nse/dicts" "$out/mirror.crt" "$out/mirror.key" "$out/mirror.log" &
  pids+=($!)
  mirror_started=1
  sleep 1
}

: >"$out/summary.jsonl"
{
  echo "# $(date -u +%FT%TZ) $(uname -n), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), N=$n"
  echo "# exsweep: $("$bin" version 2>&1 | head -1)"
  [ -z "$zgrab2" ] || echo "# zgrab2: $zgrab2 ($(go version -m "$zgrab2" 2>/dev/null | awk '$2=="github.com/zmap/zgrab2"{print $2, $3; exit}'))"
  [ -z "$nuclei" ] || echo "# nuclei: $nuclei ($("$nuclei" -version 2>&1 | grep -io 'version.*' | head -1))"
  [ -z "$nmap" ] || echo "# nmap: $("$nmap" --version | head -1)"
} | tee "$out/versions.txt"

for pass in $passes; do
  targets="$out/$pass.txt"
  cut -d: -f1 "$targets" >"$out/ips.txt"
  sed 's|^|https://|' "$targets" >"$out/urls.txt"
  echo "## pass $pass: $(wc -l <"$targets") targets"
  for tool in $tools; do
    case $tool in
    exsweep)
      # As bench/scan/run.sh.
      run_tool exsweep "$out/exsweep.jsonl" \
        "$bin" scan -i "$targets" --no-store --per-net-rate 0 --timeout 5s --format jsonl -o "$out/exsweep.jsonl"
      echo "  $("$out/accuracy" "$out/truth.jsonl" "$out/exsweep.jsonl")   $(grep -o '[0-9]* requests' "$out/exsweep.stderr" | head -1)"
      ;;
    zgrab2)
      [ -n "$zgrab2" ] || { skip zgrab2 "no zgrab2 in $peers/bin or PATH"; continue; }
      # One request per host: GET /owa/auth/logon.aspx, no redirects, a browser
      # User-Agent (the lab's WAF mode refuses others), 5 s timeout like exsweep's.
      run_tool zgrab2 "$out/zgrab2.json" \
        "$zgrab2" http --port 443 --use-https --endpoint /owa/auth/logon.aspx --timeout 5s \
        --user-agent "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36" \
        --senders 1000 --input-file "$out/ips.txt" --output-file "$out/zgrab2.json" --log-file "$out/zgrab2.log" \
        --metadata-file "$out/zgrab2.meta"
      ;;
    nuclei)
      [ -n "$nuclei" ] || { skip nuclei "no nuclei in $peers/bin or PATH (v3.8.0 does not build here, see README)"; continue; }
      [ -f "$peers/nuclei-templates/ms-exchange-server.yaml" ] ||
        { skip nuclei "missing $peers/nuclei-templates/ms-exchange-server.yaml"; continue; }
      # Detection template only; no update check, no interactsh. Not run here.
      run_tool nuclei "$out/nuclei.jsonl" \
        "$nuclei" -l "$out/urls.txt" -t "$peers/nuclei-templates/ms-exchange-server.yaml" -jsonl -o "$out/nuclei.jsonl" \
        -silent -duc -ni -nc -c 50 -bs 100 -rl 2000 -timeout 5 -retries 0
      ;;
    nmap-vuln)
      [ -n "$nmap" ] || { skip nmap-vuln "no nmap in PATH"; continue; }
      [ -f "$nse/http-vuln-exchange.nse" ] || { skip nmap-vuln "missing $nse/http-vuln-exchange.nse"; continue; }
      run_tool nmap-vuln "$out/nmap-vuln.xml" \
        "$nmap" -n -Pn -sT -p 443 -T4 --script "$nse/http-vuln-exchange.nse" -iL "$out/ips.txt" -oX "$out/nmap-vuln.xml"
      ;;
    nmap-version)
      [ -n "$nmap" ] || { skip nmap-version "no nmap in PATH"; continue; }
      [ -f "$nse/ms-exchange-version.nse" ] || { skip nmap-version "missing $nse/ms-exchange-version.nse"; continue; }
      [ -f "$nse/dicts/ms-exchange-unique-versions-dict.json" ] && [ -f "$nse/dicts/ms-exchange-versions-dict.json" ] ||
        { skip nmap-version "missing the dictionaries in $nse/dicts"; continue; }
      [ "${NSE_MIRROR:-1}" = 0 ] || start_mirror
      : >"$out/mirror.log"
      # http.max-cache-size as the script's README asks for many targets; no
      # showcves/showcpe (those send ProxyNotShell SSRF probes).
      run_tool nmap-version "$out/nmap-version.xml" \
        "$nmap" -n -Pn -sT -p 443 -T4 --script "$nse/ms-exchange-version.nse" \
        --script-args http.max-cache-size=10000000 -iL "$out/ips.txt" -oX "$out/nmap-version.xml"
      echo "  dictionary requests (all runs of this pass): $(sort "$out/mirror.log" | uniq -c | awk '{n=split($3, p, "/"); printf "%s%s %s x%s", s, $2, p[n], $1; s="; "}')"
      ;;
    *) echo "unknown tool $tool" >&2 ;;
    esac
  done
done

echo "# done, load $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$out/versions.txt"
# A Markdown table of the medians.
python3 - "$out/summary.jsonl" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
print("\n| tool | targets | wall (runs) | hosts/s | Exchange identified | any version | 4-part build (right / wrong) | CU right | as the truth says | load |")
print("|---|---|---|---|---|---|---|---|---|---|")
for r in rows:
    if "skipped" in r:
        print("| %s | %s | skipped: %s | | | | | | | |" % (r["tool"], r["pass"], r["skipped"]))
        continue
    print("| %s | %s (%d) | %.1f s (%s) | %d | %d/%d (+%d false) | %d | %d (%d / %d) | %d | %d | %s→%s |" % (
        r["tool"], r["pass"], r["hosts"], r["wall_s"], ", ".join(r["runs_s"]), r["hosts_per_s"], r["identified"],
        r["exchange_truth"], r["false_positives"], r["build_given"], r["four_part"], r["four_part_right"],
        r["four_part_wrong"], r["cu_right"], r["as_truth"], r["load_before"], r["load_after"]))
PY
