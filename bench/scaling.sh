#!/usr/bin/env bash
# Scaling with concurrent senders: throughput and latency (p50/p99 of wrk's --latency) at 1,
# 10 and 100 connections, ringside-server against the bare axum baseline in the same run,
# rounds alternating; generic JSON events (each a distinct event of a call's lifecycle).
#
#   bench/scaling.sh [--rounds 3] [--seconds 10] [--senders "1 10 100"] [--format generic]
source "$(dirname "$0")/lib.sh"

rounds=3 seconds=10 senders="1 10 100" fmt=generic
while [ $# -gt 0 ]; do
  case $1 in
    --rounds) rounds=$2; shift ;;
    --seconds) seconds=$2; shift ;;
    --senders) senders=$2; shift ;;
    --format) fmt=$2; shift ;;
    --quick) rounds=1 seconds=1 senders="1 10" ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
command -v wrk >/dev/null || { echo "wrk is missing: bash scripts/setup.sh" >&2; exit 1; }

build
start_server scaling
start_baseline
provider=${fmt%%-*}
path=/hooks/$provider/$(token "$provider")

# to_ms VALUE-WITH-UNIT (wrk prints 812.00us, 1.20ms, 1.01s)
to_ms() { awk -v v="$1" 'BEGIN { if (v ~ /us$/) printf "%.3f", v/1000; else if (v ~ /ms$/) printf "%.3f", v+0; else printf "%.3f", v*1000 }'; }

# run_wrk URL CONNS: "req/s p50_ms p99_ms"
run_wrk() {
  local t=$(( $2 < 2 ? 1 : 2 )) out
  out=$(wrk -t"$t" -c"$2" -d"${seconds}s" --latency -s "$BENCH_DIR/wrk/hooks.lua" "$1" -- "$fmt" "s$RANDOM$RANDOM-$(date +%s%N)")
  if grep -qE 'Non-2xx|Socket errors' <<<"$out"; then echo "$out" >&2; return 1; fi
  echo "$(awk '/^Requests\/sec:/ {print $2}' <<<"$out") $(to_ms "$(awk '$1 == "50%" {print $2}' <<<"$out")") $(to_ms "$(awk '$1 == "99%" {print $2}' <<<"$out")")"
}

echo "## Scaling with concurrent senders ($(date -u +%Y-%m-%dT%H:%MZ))"
echo
machine
echo "- wrk --latency, ${seconds}s per run, $rounds rounds, format $fmt; medians over rounds"
echo
echo "| senders | baseline req/s | ringside req/s | ratio | baseline p50 / p99 ms | ringside p50 / p99 ms |"
echo "|---:|---:|---:|---:|---:|---:|"
for c in $senders; do
  : >"$WORK/b" ; : >"$WORK/s"
  for r in $(seq 1 "$rounds"); do
    if [ $((r % 2)) -eq 1 ]; then
      run_wrk "$BASE_URL$path" "$c" >>"$WORK/b"; run_wrk "$SERVER_URL$path" "$c" >>"$WORK/s"
    else
      run_wrk "$SERVER_URL$path" "$c" >>"$WORK/s"; run_wrk "$BASE_URL$path" "$c" >>"$WORK/b"
    fi
  done
  col() { awk -v c="$2" '{print $c}' "$1" | median; }
  printf '| %s | %.0f | %.0f | %.2f | %.2f / %.2f | %.2f / %.2f |\n' "$c" \
    "$(col "$WORK/b" 1)" "$(col "$WORK/s" 1)" \
    "$(awk -v s="$(col "$WORK/s" 1)" -v b="$(col "$WORK/b" 1)" 'BEGIN {print s/b}')" \
    "$(col "$WORK/b" 2)" "$(col "$WORK/b" 3)" "$(col "$WORK/s" 2)" "$(col "$WORK/s" 3)"
done
