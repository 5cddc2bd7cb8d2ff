#!/usr/bin/env bash
# Memory of ringside-server (RSS and PSS from /proc): idle after start-up (median of fresh
# servers), then after 100,000 calls (300,000 webhooks) were sent to it over HTTP and the API
# was read, once it is idle again.
#
#   bench/memory.sh [--calls 100000] [--rounds 3]
source "$(dirname "$0")/lib.sh"

calls=100000 rounds=3 settle=3
while [ $# -gt 0 ]; do
  case $1 in
    --calls) calls=$2; shift ;;
    --rounds) rounds=$2; shift ;;
    --quick) calls=300 rounds=1 settle=1 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift
done

build
echo "## Memory of ringside-server ($(date -u +%Y-%m-%dT%H:%MZ))"
echo
machine
echo
: >"$WORK/idle"
for r in $(seq 1 "$rounds"); do
  start_server "idle-$r"
  sleep "$settle" # start-up finished, numbering metadata loaded
  "$BIN/ringside-bench" mem --pid "$SERVER_PID" | tail -n 1 | tee -a "$WORK/idle"
  stop "$SERVER_PID"
done
echo "idle: median RSS $(awk '{print $3}' "$WORK/idle" | median) MB, median PSS $(awk '{print $7}' "$WORK/idle" | median) MB"
echo

start_server loaded
"$BIN/ringside-bench" send --url "$SERVER_URL" --hook-token "$(token generic)" --calls "$calls" --concurrency 32
api() { curl -fsS -o /dev/null -H "Authorization: Bearer $API_TOKEN" "$SERVER_URL$1"; }
for q in "/api/calls" "/api/calls?limit=1000" "/api/calls?q=4155" "/api/calls?q=201&state=ended" "/api/missed" "/api/calls.csv?limit=1000"; do
  api "$q"
done
sleep "$settle"
echo "after $calls calls:"
"$BIN/ringside-bench" mem --pid "$SERVER_PID"
echo "peak RSS (VmHWM): $(awk '/^VmHWM/ {printf "%.1f MB", $2/1024}' /proc/"$SERVER_PID"/status)"
echo "store: $(du -sh "$SERVER_DATA" | cut -f1) in $SERVER_DATA"
