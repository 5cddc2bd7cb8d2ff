#!/usr/bin/env bash
# Store size and history-search time at 10k, 100k and 1M calls. Stores are generated through
# the Store API in large batches (bench gen-store: realistic deliveries, repeat callers, 50
# agents, contact names) and kept in $BENCH_STORES (default target/bench-stores) for reruns.
#
#   bench/search.sh [--sizes "10000 100000 1000000"] [--rounds 21]
source "$(dirname "$0")/lib.sh"

sizes="10000 100000 1000000" rounds=21
while [ $# -gt 0 ]; do
  case $1 in
    --sizes) sizes=$2; shift ;;
    --rounds) rounds=$2; shift ;;
    --quick) sizes=2000 rounds=3; BENCH_STORES=$WORK/stores ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
stores=${BENCH_STORES:-$ROOT/target/bench-stores}

build
echo "## Store size and history search ($(date -u +%Y-%m-%dT%H:%MZ))"
echo
machine
echo "- each query timed $rounds times after one warm-up run (page cache warm), through Queries::calls on a reader connection"
echo
for n in $sizes; do
  dir=$stores/calls-$n
  if [ ! -f "$dir/bench-store.json" ]; then
    rm -rf "$dir"
    "$BIN/ringside-bench" gen-store --dir "$dir" --calls "$n"
  fi
  echo "### $n calls: store $(du -m "$dir/ringside.db" | cut -f1) MB ($(du -b "$dir/ringside.db" | awk -v n="$n" '{printf "%.0f", $1/n}') bytes per call)"
  echo
  "$BIN/ringside-bench" search --dir "$dir" --rounds "$rounds"
  echo
done
