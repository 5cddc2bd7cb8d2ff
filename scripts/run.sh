#!/usr/bin/env bash
# Run Ringside. Today that is the headless server (the desktop window arrives with the desktop
# app); it prints the URL it listens on, the webhook URLs and a simulate command to try.
# Extra arguments go to `ringside-server serve` (e.g. --listen 127.0.0.1:9000 --config FILE).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec cargo run --quiet --locked -p ringside-server -- serve "$@"
