#!/usr/bin/env bash
# Every benchmark script in its quick mode on the debug build, so none of them rots (CI runs
# this; about a minute). The figures it prints mean nothing; the soak's memory bound and the
# scripts' own checks (every webhook 2xx, no duplicates, every frame arrives) must hold.
set -euo pipefail
cd "$(dirname "$0")"
export BENCH_PROFILE=${BENCH_PROFILE:-debug}
start=$(date +%s)
for script in ingest scaling latency startup memory search soak; do
  echo "== bench/$script.sh --quick"
  bash "$script.sh" --quick >"${TMPDIR:-/tmp}/ringside-bench-smoke-$script.log" 2>&1 || {
    cat "${TMPDIR:-/tmp}/ringside-bench-smoke-$script.log" >&2
    echo "bench/$script.sh --quick failed" >&2
    exit 1
  }
  tail -n 3 "${TMPDIR:-/tmp}/ringside-bench-smoke-$script.log"
done
echo "bench smoke: $(($(date +%s) - start)) s"
