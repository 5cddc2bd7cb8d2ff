# Shared by the bench/*.sh scripts: build, start and stop servers, medians, machine facts.
# Source it; BENCH_PROFILE=debug uses debug builds (the quick CI modes), default release.
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$BENCH_DIR")
PROFILE=${BENCH_PROFILE:-release}
BIN=$ROOT/target/$PROFILE
[ "$PROFILE" = dev ] && BIN=$ROOT/target/debug
[ "$PROFILE" = debug ] && BIN=$ROOT/target/debug

# Build the server, the measurement tools and the baseline.
build() {
  local flag=()
  case $PROFILE in
    release) flag=(--release) ;;
    debug | dev) flag=() ;;
    *) flag=(--profile "$PROFILE") ;;
  esac
  (cd "$ROOT" && cargo build --locked -q "${flag[@]}" -p ringside-server -p ringside-bench)
}

# A scratch directory on disk (not tmpfs: fsync must cost what it costs), removed on exit.
WORK=$(mktemp -d "${BENCH_WORK_PARENT:-/var/tmp}/ringside-bench.XXXXXX")
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

API_TOKEN=bench-api-token-0123456789
token() { echo "$1-token-0123456789"; }

# A config with every webhook provider enabled.
write_config() {
  cat >"$1" <<TOML
[api]
token = "$API_TOKEN"

[agent]
region = "US"
identities = ["201", "202"]

[providers.voiceshot]
token = "$(token voiceshot)"

[providers.whippy]
token = "$(token whippy)"

[providers.teltel]
token = "$(token teltel)"

[providers.exotel]
token = "$(token exotel)"

[providers.generic]
token = "$(token generic)"
TOML
}

# wait_url FILE: the URL from the `listening on URL` line a process writes to FILE.
wait_url() {
  local i
  for i in $(seq 1 400); do
    if grep -q '^listening on ' "$1" 2>/dev/null; then
      sed -n 's/^listening on //p' "$1" | head -n 1
      return 0
    fi
    sleep 0.05
  done
  echo "no 'listening on' line in $1" >&2
  return 1
}

# start_server NAME: ringside-server on a free port with data in $WORK/NAME; sets SERVER_PID,
# SERVER_URL, SERVER_DATA.
start_server() {
  local dir=$WORK/$1
  mkdir -p "$dir"
  [ -f "$WORK/config.toml" ] || write_config "$WORK/config.toml"
  RINGSIDE_LOG=warn "$BIN/ringside-server" serve --listen 127.0.0.1:0 --data-dir "$dir/data" \
    --config "$WORK/config.toml" >"$dir/stdout" 2>"$dir/stderr" &
  SERVER_PID=$!
  PIDS+=("$SERVER_PID")
  SERVER_URL=$(wait_url "$dir/stdout")
  SERVER_DATA=$dir/data
}

# start_baseline: the bare axum server; sets BASE_PID, BASE_URL.
start_baseline() {
  "$BIN/bench-baseline" 127.0.0.1:0 >"$WORK/baseline.stdout" &
  BASE_PID=$!
  PIDS+=("$BASE_PID")
  BASE_URL=$(wait_url "$WORK/baseline.stdout")
}

stop() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }

# Median of the numbers on stdin.
median() { sort -g | awk '{v[NR]=$1} END {if (NR==0) print "nan"; else if (NR%2) print v[(NR+1)/2]; else print (v[NR/2]+v[NR/2+1])/2}'; }

# The machine, for BENCHMARKS.md.
machine() {
  echo "- CPU: $(lscpu | sed -n 's/^Model name: *//p' | head -n1), $(nproc) cores ($(lscpu | sed -n 's/^Hypervisor vendor: *//p') VM)"
  echo "- memory: $(free -g | awk '/^Mem:/ {print $2}') GiB; kernel $(uname -r); $(. /etc/os-release && echo "$PRETTY_NAME")"
  echo "- disk: $(df -T "$WORK" | awk 'NR==2 {print $2}') on $(df "$WORK" | awk 'NR==2 {print $1}'); rustc $(rustc --version | cut -d' ' -f2); $(wrk --version 2>&1 | head -n1 | cut -d' ' -f1-2 || true)"
  echo "- load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
}
