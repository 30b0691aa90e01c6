#!/usr/bin/env bash
# Owner-lookup benchmark: a synthetic full-size iptoasn table (~500k ranges,
# generated in memory) plus a 24k-rule constituency; lookups/s on one
# goroutine and on all cores, allocations, and the heap the table keeps.
# Results go to bench/notify/owners/results.txt.
#
#   bench/notify/owners/run.sh
#   COUNT=5 bench/notify/owners/run.sh
#   OWNERS_BENCH_ASN=asn-ipv4.csv,asn-ipv6.csv bench/notify/owners/run.sh   # also real data
#
# The machine's other load matters a lot here (lookups are memory-latency
# bound): the load average is recorded with the numbers.
set -euo pipefail
cd "$(dirname "$0")/../../.."
out=bench/notify/owners/results.txt
{
  echo "# $(date -u +%Y-%m-%dT%H:%MZ) $(go version) $(nproc) cores, load average: $(cut -d' ' -f1-3 /proc/loadavg)"
  [ -z "${OWNERS_BENCH_ASN:-}" ] || echo "# OWNERS_BENCH_ASN=$(echo "$OWNERS_BENCH_ASN" | tr ',' '\n' | xargs -n1 basename | paste -sd,)"
  echo "# go test -run '^\$' -bench . -benchmem -count ${COUNT:-3} ./bench/notify/owners/"
  go test -run '^$' -bench . -benchmem -count "${COUNT:-3}" ./bench/notify/owners/
} 2>&1 | tee "$out"
