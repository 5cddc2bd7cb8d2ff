#!/usr/bin/env bash
# The desktop app: time from exec to the first painted window, and idle memory (PSS summed
# over the app and every process it started: WebKit's web and network processes).
#
# "Painted" = the window's pixels on the X server show the UI: a screenshot of the Xvfb root
# (ImageMagick `import`) has more than 64 distinct colours in the window's area (text and
# icons are anti-aliased). Before the window maps the root is one colour; a mapped but not
# yet rendered webview is one or two. The poll takes ~30 ms per screenshot, so the figure is
# an upper bound, at most one poll late.
#
#   bench/desktop.sh [--rounds 5] [--idle 20]
# Needs the release app (target/release/ringside: `bash scripts/package.sh` builds it, or set
# BENCH_DESKTOP_BIN). Runs in its own Xvfb and D-Bus session.
set -euo pipefail
if [ -z "${RINGSIDE_BENCH_X:-}" ]; then
  exec xvfb-run -a -s "-screen 0 1400x900x24" dbus-run-session -- env RINGSIDE_BENCH_X=1 bash "$0" "$@"
fi
source "$(dirname "$0")/lib.sh"

rounds=5 idle=20
while [ $# -gt 0 ]; do
  case $1 in
    --rounds) rounds=$2; shift ;;
    --idle) idle=$2; shift ;;
    --quick) rounds=1 idle=3 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
app=${BENCH_DESKTOP_BIN:-$ROOT/target/release/ringside}
[ -x "$app" ] || { echo "no $app: build it with bash scripts/package.sh" >&2; exit 1; }
# The measurement tools only (the app is built separately).
(cd "$ROOT" && cargo build --locked -q $([ "$PROFILE" = release ] && echo --release) -p ringside-bench)
write_config "$WORK/config.toml"

colours() { import -window root -crop 1120x740+0+0 -format '%k' info: 2>/dev/null || echo 0; }

echo "## Desktop app ($(date -u +%Y-%m-%dT%H:%MZ))"
echo
machine
echo "- $app ($(du -m "$app" | cut -f1) MB), Xvfb 1400x900x24, rounds: $rounds, idle ${idle}s before measuring memory"
echo
: >"$WORK/painted" ; : >"$WORK/pss"
for r in $(seq 1 "$rounds"); do
  dir=$WORK/desktop-$r
  mkdir -p "$dir"
  t0=$(date +%s%N)
  RINGSIDE_LOG=warn "$app" --listen 127.0.0.1:0 --data-dir "$dir/data" --config "$WORK/config.toml" \
    >"$dir/stdout" 2>"$dir/stderr" &
  pid=$!
  PIDS+=("$pid")
  painted=""
  for _ in $(seq 1 600); do
    if [ "$(colours)" -gt 64 ]; then painted=$(date +%s%N); break; fi
    kill -0 "$pid" 2>/dev/null || break
  done
  [ -n "$painted" ] || { cat "$dir/stderr" >&2; echo "the window was never painted" >&2; exit 1; }
  ms=$(( (painted - t0) / 1000000 ))
  echo "$ms" >>"$WORK/painted"
  sleep "$idle"
  mem=$("$BIN/ringside-bench" mem --pid "$pid")
  echo "round $r: painted after $ms ms; $(tail -n 1 <<<"$mem")"
  awk '/^total/ {print $7}' <<<"$mem" >>"$WORK/pss"
  [ "$r" -eq 1 ] && sed 's/^/    /' <<<"$mem"
  [ "$r" -eq 1 ] && import -window root "$WORK/first-window.png" && cp "$WORK/first-window.png" "${BENCH_SCREENSHOT:-/dev/null}" 2>/dev/null || true
  stop "$pid"
done
echo
echo "first painted window: median $(median <"$WORK/painted") ms (rounds: $(tr '\n' ' ' <"$WORK/painted"))"
echo "idle PSS, app + WebKit processes: median $(median <"$WORK/pss") MB (rounds: $(tr '\n' ' ' <"$WORK/pss"))"
