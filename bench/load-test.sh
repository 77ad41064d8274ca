#!/usr/bin/env bash
# HTTP load test of `tessera serve` with wrk on loopback: finds the server's capacity, then
# measures throughput, p50/p99 latency and errors at 50%, 100% and 150% of the connections it
# admits, showing that beyond them it sheds with 503 instead of stalling.
#
# Usage: bench/load-test.sh DATA_DIR [SERVER FLAGS...]
#   DATA_DIR  a data dir with an ingested catalogue, used by this server alone (copy one first:
#             only one process may open a data dir)
#   SERVER FLAGS are passed after `serve`, e.g. --threads 8 --max-queued-connections 64
# Environment: PORT (18080), BUILD_DIR (build), TESSERA_DATA_DIR (../shared/data),
#   LEVEL_SECONDS (20) per level, PROBE_SECONDS (10) per capacity probe, ADMITTED (72): the
#   server's --threads plus --max-queued-connections (8 + 64 by default).
#
# Every run is a closed loop (bench/load/mixed.lua): each connection sends its next request as
# soon as the last response arrives, so the load is set by the number of connections. Capacity is
# the highest rate of 2xx responses of runs at 1, 2, 4, 8 and 16 connections. The levels then run
# 50%, 100% and 150% of ADMITTED connections: at 150%, a third of the connections find every
# worker busy and the queue full. Total run time is about 5 x PROBE_SECONDS + 3 x LEVEL_SECONDS
# plus the server's start.
set -euo pipefail
cd "$(dirname "$0")/.."

data_dir="${1:?usage: bench/load-test.sh DATA_DIR [SERVER FLAGS...]}"
shift
port="${PORT:-18080}"
build_dir="${BUILD_DIR:-build}"
catalogue="${TESSERA_DATA_DIR:-$PWD/../shared/data}/fashion/styles.csv"
level_seconds="${LEVEL_SECONDS:-20}"
probe_seconds="${PROBE_SECONDS:-10}"
admitted="${ADMITTED:-72}"
command -v wrk > /dev/null || { echo "wrk is missing: run scripts/setup.sh" >&2; exit 1; }

work="$(mktemp -d /tmp/tessera-load-XXXXXX)"
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then kill -TERM "$server_pid" 2> /dev/null || true; wait "$server_pid" || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# Real queries from the catalogue: colour and article type ("navy blue shirts"), with the gender
# for half of them ("men navy blue shirts"); 500 distinct ones. Product ids for the events.
awk -F, 'NR > 1 && NF == 10 { print tolower($6 " " $5); print tolower($2 " " $6 " " $5) }' "$catalogue" |
  sort -u | shuf -n 500 --random-source=<(yes) > "$work/queries.txt"
awk -F, 'NR > 1 { print $1 }' "$catalogue" > "$work/ids.txt"

"$build_dir/src/cli/tessera" --data-dir "$data_dir" --synonyms config/synonyms/fashion.txt serve \
  --host 127.0.0.1 --port "$port" --web-dir "" "$@" 2> "$work/server.log" &
server_pid=$!
for _ in $(seq 1 600); do
  curl -sf "http://127.0.0.1:$port/api/health" > /dev/null && break
  sleep 0.1
done
curl -sf "http://127.0.0.1:$port/api/health" > /dev/null || { cat "$work/server.log" >&2; exit 1; }

# Runs wrk and prints its RESULT json. Arguments: connections, seconds.
run_wrk() {
  local c="$1" seconds="$2" threads=2
  [ "$c" -lt 2 ] && threads=1
  wrk -t"$threads" -c"$c" -d"${seconds}s" --timeout 10s -s bench/load/mixed.lua "http://127.0.0.1:$port" \
    -- "$work/queries.txt" "$work/ids.txt" | sed -n 's/^RESULT //p'
}

# The 2xx responses a second of a RESULT line.
ok_rate() { python3 -c 'import json,sys; r=json.loads(sys.argv[1]); print(round(sum(v for k,v in r["statuses"].items() if k.startswith("2"))/r["seconds"], 1))' "$1"; }

echo "# capacity probes (${probe_seconds} s each)"
capacity=0
for c in 1 2 4 8 16; do
  result="$(run_wrk "$c" "$probe_seconds")"
  ok="$(ok_rate "$result")"
  echo "connections=$c ok_per_s=$ok $result"
  capacity="$(python3 -c "print(max($capacity, $ok))")"
done
echo "# capacity: $capacity requests/s answered 2xx"

echo "# levels: share of the $admitted connections the server admits (${level_seconds} s each)"
for percent in 50 100 150; do
  c=$(( admitted * percent / 100 ))
  result="$(run_wrk "$c" "$level_seconds")"
  echo "level=${percent}% connections=$c ok_per_s=$(ok_rate "$result") $result"
done

curl -s "http://127.0.0.1:$port/metrics" | grep -E '^tessera_http_requests_shed_total|^tessera_http_requests_total\{route="(search.text|events)"' || true
kill -TERM "$server_pid"
wait "$server_pid" && echo "# server exited 0 after SIGTERM" || echo "# server exited with $?"
server_pid=""
grep -c 'msg="request shed"' "$work/server.log" | sed 's/^/# shed log lines (rate-limited): /' || true
