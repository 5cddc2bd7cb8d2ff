#!/usr/bin/env bash
# Run Ringside: the desktop window where there is a display, else the headless server, which
# prints its URL (with the token to open in a browser), the webhook URLs and a command to try.
# Extra arguments go to the app (e.g. --listen 127.0.0.1:9000 --config FILE).
set -euo pipefail
cd "$(dirname "$0")/.."
# What running needs, nothing more (the test toolchain is scripts/test.sh's).
bash scripts/setup.sh run
npm run --prefix ui build
if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
  exec cargo run --quiet --locked -p ringside -- "$@"
else
  exec cargo run --quiet --locked -p ringside-server -- serve "$@"
fi
