#!/usr/bin/env bash
# Ingest throughput: ringside-server (durable: journal + calls + timeline, fsync per group
# commit) against a bare axum server answering 200, with the same wrk load in the same run,
# for every provider wire format. Rounds rotate which server goes first; the table gives the
# median requests/s of each and the ratio of the medians (and the median per-round ratio).
#
#   bench/ingest.sh [--rounds 5] [--seconds 10] [--connections 50] [--threads 2] [--formats "generic teltel"]
#   bench/ingest.sh --compare OLD_BIN   # also an older ringside-server build, same rounds (before/after)
#   BENCH_PROFILE=debug bench/ingest.sh --quick     # CI smoke: 1 round, 1 s, debug build
source "$(dirname "$0")/lib.sh"

rounds=5 seconds=10 conns=50 threads=2 compare=""
formats="voiceshot whippy teltel exotel-form exotel-multipart exotel-get generic"
while [ $# -gt 0 ]; do
  case $1 in
    --rounds) rounds=$2; shift ;;
    --seconds) seconds=$2; shift ;;
    --connections) conns=$2; shift ;;
    --threads) threads=$2; shift ;;
    --formats) formats=$2; shift ;;
    --compare) compare=$2; shift ;;
    --quick) rounds=1 seconds=1 conns=8 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
command -v wrk >/dev/null || { echo "wrk is missing: bash scripts/setup.sh" >&2; exit 1; }

build
start_server ingest
declare -A URL=([ringside]=$SERVER_URL)
DATA=$SERVER_DATA
start_baseline
URL[baseline]=$BASE_URL
kinds=(baseline ringside)
if [ -n "$compare" ]; then
  BIN_SAVED=$BIN
  mkdir -p "$WORK/old-bin" && cp "$compare" "$WORK/old-bin/ringside-server" && BIN=$WORK/old-bin
  start_server before
  BIN=$BIN_SAVED
  URL[before]=$SERVER_URL
  kinds+=(before)
fi

# run_wrk KIND URL FORMAT: requests/s; fails on any non-2xx answer or socket error. Adds the
# number of requests answered to $WORK/answered.KIND.
run_wrk() {
  local kind=$1 out
  shift
  out=$(wrk -t"$threads" -c"$conns" -d"${seconds}s" -s "$BENCH_DIR/wrk/hooks.lua" "$1" -- "$2" "n$RANDOM$RANDOM-$(date +%s%N)")
  if grep -qE 'Non-2xx|Socket errors' <<<"$out"; then
    echo "wrk against $kind ($2):" >&2
    echo "$out" >&2
    return 1
  fi
  awk '/requests in/ {print $1}' <<<"$out" >>"$WORK/answered.$kind"
  awk '/^Requests\/sec:/ {print $2}' <<<"$out"
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a/b}'; }

echo "## Ingest throughput ($(date -u +%Y-%m-%dT%H:%MZ))"
echo
machine
echo "- wrk -t$threads -c$conns -d${seconds}s, $rounds rounds per format, order rotating${compare:+; before = $compare}"
echo
header="| format | baseline req/s | ringside req/s | ratio of medians | median per-round ratio |"
rule="|---|---:|---:|---:|---:|"
[ -n "$compare" ] && header+=" before req/s | before ratio | ringside / before |" && rule+="---:|---:|---:|"
echo "$header rounds (${kinds[*]}) |"
echo "$rule---|"
for fmt in $formats; do
  provider=${fmt%%-*}
  path=/hooks/$provider/$(token "$provider")
  declare -A got=()
  for k in "${kinds[@]}"; do : >"$WORK/rps.$k"; done
  : >"$WORK/ratios"
  detail=""
  for r in $(seq 1 "$rounds"); do
    n=${#kinds[@]}
    for i in $(seq 0 $((n - 1))); do
      k=${kinds[$(((i + r) % n))]}
      got[$k]=$(run_wrk "$k" "${URL[$k]}$path" "$fmt")
      echo "${got[$k]}" >>"$WORK/rps.$k"
    done
    ratio "${got[ringside]}" "${got[baseline]}" >>"$WORK/ratios"; echo >>"$WORK/ratios"
    detail+=$(for k in "${kinds[@]}"; do printf '%.0f/' "${got[$k]}"; done | sed 's|/$| |')
  done
  mb=$(median <"$WORK/rps.baseline")
  ms=$(median <"$WORK/rps.ringside")
  line=$(printf '| %s | %.0f | %.0f | %s | %.2f |' "$fmt" "$mb" "$ms" "$(ratio "$ms" "$mb")" "$(median <"$WORK/ratios")")
  if [ -n "$compare" ]; then
    mo=$(median <"$WORK/rps.before")
    line+=$(printf ' %.0f | %s | %s |' "$mo" "$(ratio "$mo" "$mb")" "$(ratio "$ms" "$mo")")
  fi
  echo "$line $detail|"
done
echo
# Every request was a distinct event: the journal holds at least as many deliveries as the
# server answered (a request in flight when wrk stopped may be stored and not counted).
journal=$("$BIN/ringside-bench" journal --data-dir "$DATA")
answered=$(awk '{n += $1} END {print n}' "$WORK/answered.ringside")
echo "ringside answered $answered webhooks and journaled $journal deliveries (no duplicates: journal >= answered)"
[ "$journal" -ge "$answered" ] || { echo "some events were duplicates: the load is not measuring ingest" >&2; exit 1; }
