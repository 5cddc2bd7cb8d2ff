#!/usr/bin/env bash
# Start-up of ringside-server: from exec to its `listening on` line and to the 2xx of a first
# webhook (a new call with a phone number, so the numbering metadata must be loaded), each
# round with a new data directory (the store is created), median of the rounds.
#
#   bench/startup.sh [--rounds 20]
source "$(dirname "$0")/lib.sh"

rounds=20
while [ $# -gt 0 ]; do
  case $1 in
    --rounds) rounds=$2; shift ;;
    --quick) rounds=3 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift
done

build
write_config "$WORK/config.toml"
echo "## Start-up of ringside-server ($(date -u +%Y-%m-%dT%H:%MZ))"
echo
machine
echo
"$BIN/ringside-bench" startup --bin "$BIN/ringside-server" --config "$WORK/config.toml" \
  --hook-token "$(token generic)" --rounds "$rounds" --work "$WORK/startup"
