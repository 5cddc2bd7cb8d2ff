#!/usr/bin/env bash
# Bounded soak: webhooks at a steady rate on loopback (each call rings, is answered, hangs
# up), the server's RSS sampled every second. Fails if RSS grows more than the bound after the
# warm-up, or if any webhook fails.
#
#   bench/soak.sh                     # 60 s at 500 webhooks/s, release build
#   BENCH_PROFILE=debug bench/soak.sh --quick   # ~10 s at 200/s (run by scripts/test.sh)
#   options: --seconds S --rate R --warmup W --bound-mb MB --csv FILE
source "$(dirname "$0")/lib.sh"

seconds=60 rate=500 warmup=10 bound=8 csv=""
while [ $# -gt 0 ]; do
  case $1 in
    --seconds) seconds=$2; shift ;;
    --rate) rate=$2; shift ;;
    --warmup) warmup=$2; shift ;;
    --bound-mb) bound=$2; shift ;;
    --csv) csv=$2; shift ;;
    --quick) seconds=10 rate=200 warmup=4 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift
done

build
start_server soak
echo "## Soak: ${seconds}s at $rate webhooks/s ($(date -u +%Y-%m-%dT%H:%MZ), $PROFILE build)"
echo
machine
echo
"$BIN/ringside-bench" soak --url "$SERVER_URL" --hook-token "$(token generic)" --pid "$SERVER_PID" \
  --rate "$rate" --seconds "$seconds" --warmup "$warmup" --bound-mb "$bound" ${csv:+--csv "$csv"}
