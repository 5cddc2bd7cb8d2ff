#!/usr/bin/env bash
# Latency from a webhook's 2xx to its frame on /api/live, at a steady 1,000 events/s on
# loopback (each event a new ringing call: the screen-pop path). Several rounds, each against
# the same server; durability included (the 2xx and the frame both follow the fsync'd commit).
#
#   bench/latency.sh [--rounds 3] [--seconds 20] [--rate 1000]
source "$(dirname "$0")/lib.sh"

rounds=3 seconds=20 rate=1000
while [ $# -gt 0 ]; do
  case $1 in
    --rounds) rounds=$2; shift ;;
    --seconds) seconds=$2; shift ;;
    --rate) rate=$2; shift ;;
    --quick) rounds=1 seconds=2 rate=200 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift
done

build
start_server latency
echo "## Latency, webhook 2xx -> /api/live frame ($(date -u +%Y-%m-%dT%H:%MZ))"
echo
machine
echo "- $rate webhooks/s for ${seconds}s per round (first second left out), $rounds rounds; ms"
echo
for r in $(seq 1 "$rounds"); do
  echo "round $r:"
  "$BIN/ringside-bench" latency --url "$SERVER_URL" --api-token "$API_TOKEN" \
    --hook-token "$(token generic)" --rate "$rate" --seconds "$seconds" | sed 's/^/    /'
done
