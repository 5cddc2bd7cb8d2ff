#!/usr/bin/env bash
# Build the desktop app's .deb (release). Prints its path and size.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
npm run --prefix ui build
npx tauri build --bundles deb --ci
deb=$(ls -t target/release/bundle/deb/*.deb | head -n 1)
echo "built $deb ($(du -k "$deb" | cut -f1) KiB)"
