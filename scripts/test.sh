#!/usr/bin/env bash
# The whole test suite: unit, fixture and integration tests (real listener, real SQLite file,
# real websocket, real processes killed with SIGKILL).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo test --workspace --locked "$@"
