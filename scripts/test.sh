#!/usr/bin/env bash
# The whole test suite:
#  1. Rust: unit, per-provider fixture and integration tests (real listener, SQLite file,
#     websocket, processes killed with SIGKILL);
#  2. the web UI: type check, then Playwright (Debian's chromium) against a real ringside-server;
#  3. the desktop app: the real window over WebDriver, screen-pops through dunst, headless
#     fallback, all under Xvfb with a private D-Bus session;
#  4. a 10 s soak of the server with its memory sampled every second (fails beyond the bound).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

npm run --prefix ui build
cargo test --workspace --locked
cargo build --locked -p ringside-server -p ringside

npm run --prefix ui check
npm test --prefix ui

xvfb-run -a -s "-screen 0 1400x900x24" dbus-run-session -- node --test --test-concurrency=1 --test-timeout=300000 tests/desktop/

BENCH_PROFILE=debug bash bench/soak.sh --quick
