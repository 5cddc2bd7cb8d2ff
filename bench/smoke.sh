#!/usr/bin/env bash
# Every benchmark script in its quick mode on the debug build, so none of them rots (CI runs
# this; about a minute). The figures it prints mean nothing; the scripts' own checks must
# hold (every webhook 2xx, no duplicates, every frame arrives). The soak's quick mode runs in
# scripts/test.sh; the desktop and size scripts need the release build (see BENCHMARKS.md).
set -euo pipefail
cd "$(dirname "$0")"
export BENCH_PROFILE=${BENCH_PROFILE:-debug}
start=$(date +%s)
for script in ingest scaling latency startup memory search; do
  echo "== bench/$script.sh --quick"
  bash "$script.sh" --quick >"${TMPDIR:-/tmp}/ringside-bench-smoke-$script.log" 2>&1 || {
    cat "${TMPDIR:-/tmp}/ringside-bench-smoke-$script.log" >&2
    echo "bench/$script.sh --quick failed" >&2
    exit 1
  }
  tail -n 3 "${TMPDIR:-/tmp}/ringside-bench-smoke-$script.log"
done
echo "== criterion benches: compile and lint (clippy --features bench)"
(cd .. && cargo clippy --locked -q -p ringside-core --features bench --benches -- -D warnings)
echo "bench smoke: $(($(date +%s) - start)) s"
