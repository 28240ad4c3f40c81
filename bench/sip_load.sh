#!/usr/bin/env bash
# SIP load benchmark: SIPp callers (one RFC 2833 key to the queue, ~9 s per call) against
# one `amparo sip` process, stepping the number of concurrent calls N up at a fixed call rate,
# then stepping the call rate up at the largest N. Prints figures; never passes or fails on time.
#
#   bench/sip_load.sh                       # N = 100 200 300 400 500 at 50 calls/s
#   STEPS="100 500" RATE=60 RATES="50 75 100" bench/sip_load.sh
#   KEEP=1 bench/sip_load.sh                # keep the work dir (logs of amparo sip and SIPp)
#
# Everything runs on 127.0.0.1 with a throw-away data dir, SQLite and the embedded Redis.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
[ -x "$PY" ] || PY=python3
STEPS=${STEPS:-"100 200 300 400 500"}
RATE=${RATE:-50}
RATES=${RATES:-"50 75 100"}
MAX_CALLS=${MAX_CALLS:-512}
command -v sipp >/dev/null || { echo "sipp missing (Debian package sip-tester)"; exit 2; }

WORK=$(mktemp -d /tmp/amparo-sip-bench.XXXXXX)
SIP_PID=""
cleanup() {
  if [ -n "$SIP_PID" ] && kill -0 "$SIP_PID" 2>/dev/null; then
    kill -TERM "$SIP_PID"; wait "$SIP_PID" 2>/dev/null || true
  fi
  if [ "${KEEP:-0}" = 1 ]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

free_port() { "$PY" -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

export AMPARO_DATA_DIR="$WORK/data" AMPARO_LOG_LEVEL=WARNING AMPARO_SIP_MAX_CALLS="$MAX_CALLS"
export AMPARO_SIP_DRAIN_SECONDS=1
"$PY" -m cli seed-demo >/dev/null
LINE="+34900000001"  # the demo line (store/demo.py)
"$PY" tests/e2e/sip/dtmf_pcap.py "$WORK/pcap" 0 >/dev/null
cp tests/e2e/sip/scenarios/load_caller.xml "$WORK/"
PORT=$(free_port)
AMPARO_SIP_LISTEN="127.0.0.1:$PORT" "$PY" -m cli sip >"$WORK/sip.log" 2>&1 &
SIP_PID=$!
for _ in $(seq 1 120); do
  grep -q "listening on" "$WORK/sip.log" && break
  kill -0 "$SIP_PID" 2>/dev/null || { cat "$WORK/sip.log"; exit 1; }
  sleep 0.5
done

cpu_s() { awk '{print ($14+$15)/100}' "/proc/$SIP_PID/stat"; }
rss_mb() { awk '/VmRSS/ {printf "%.0f", $2/1024}' "/proc/$SIP_PID/status"; }

echo "amparo sip benchmark on $(nproc) cores: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
printf "%-6s %-6s %9s %9s %7s %9s %7s %8s\n" N rate attempted succeeded failed "calls/s" "cpu%" "rss MB"
BEST_N=0
BEST_RATE=0
step() {  # $1 concurrent, $2 rate
  local n=$1 rate=$2 calls=$(( $1 * 2 )) out start end c0 c1 peak=0 rss
  c0=$(cpu_s); start=$(date +%s.%N)
  (cd "$WORK" && sipp "127.0.0.1:$PORT" -sf load_caller.xml -s "$LINE" -i 127.0.0.1 \
     -p "$(free_port)" -mi 127.0.0.1 -mp $(( ( $(free_port) & ~1 ) )) -m "$calls" -l "$n" -r "$rate" \
     -nostdin -timeout 300s -timeout_error -max_socket 8192 \
     -trace_stat -stf "$WORK/stat.csv" -fd 1 >"$WORK/sipp.out" 2>&1) &
  local sipp_pid=$!
  while kill -0 "$sipp_pid" 2>/dev/null; do
    rss=$(rss_mb); [ "$rss" -gt "$peak" ] && peak=$rss
    sleep 1
  done
  wait "$sipp_pid" || true
  end=$(date +%s.%N); c1=$(cpu_s)
  out=$(cat "$WORK/sipp.out")
  local created ok failed elapsed cps cpu
  created=$(grep "Outgoing calls created" <<<"$out" | tail -1 | awk -F'|' '{print $3+0}')
  ok=$(grep "Successful call" <<<"$out" | tail -1 | awk -F'|' '{print $3+0}')
  failed=$(grep "Failed call" <<<"$out" | tail -1 | awk -F'|' '{print $3+0}')
  elapsed=$(echo "$end - $start" | bc -l)
  # calls/s held: calls placed over the time SIPp took to place them all
  cps=$("$PY" - "$WORK/stat.csv" "$calls" <<'PYEOF'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter=";"))
def seconds(text):
    h, m, s, us = (text.split(":") + ["0"])[:4]
    return int(h) * 3600 + int(m) * 60 + int(s) + int(us or 0) / 1e6
for row in rows:
    if int(row["OutgoingCall(C)"]) >= int(sys.argv[2]):
        print(round(int(row["OutgoingCall(C)"]) / max(seconds(row["ElapsedTime(C)"]), 1e-3), 1))
        break
else:
    print(0)
PYEOF
)
  rm -f "$WORK/stat.csv"
  cpu=$(echo "100 * ($c1 - $c0) / $elapsed" | bc -l)
  printf "%-6s %-6s %9s %9s %7s %9.1f %7.0f %8s\n" "$n" "$rate" "$created" "$ok" "$failed" "$cps" "$cpu" "$peak"
  if ! kill -0 "$SIP_PID" 2>/dev/null; then
    wait "$SIP_PID"; echo "amparo sip died (exit $?):"; tail -40 "$WORK/sip.log"; exit 1
  fi
  if [ "${failed:-1}" = 0 ] && [ "${ok:-0}" = "$calls" ]; then
    [ "$n" -gt "$BEST_N" ] && BEST_N=$n
    if (( $(echo "$cps > $BEST_RATE" | bc -l) )); then BEST_RATE=$cps; fi
  fi
  sleep 3
}
for n in $STEPS; do step "$n" "$RATE"; done
TOP=${BEST_N}
[ "$TOP" -gt 0 ] || TOP=$(echo "$STEPS" | awk '{print $1}')
for rate in $RATES; do step "$TOP" "$rate"; done
echo
echo "largest N with zero failures: $BEST_N concurrent calls"
echo "highest call rate held with zero failures: $BEST_RATE calls/s"
