#!/usr/bin/env bash
# Build the desktop app's .deb (release). Prints its path and size.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
npm run --prefix ui build
# The app as shipped is optimized for size (a screen-pop app spends its time waiting): the
# release profile with these overrides, for this build only; `cargo build --release` (the
# server, the benchmarks) stays optimized for speed.
CARGO_PROFILE_RELEASE_OPT_LEVEL=s CARGO_PROFILE_RELEASE_LTO=fat CARGO_PROFILE_RELEASE_CODEGEN_UNITS=1 \
  npx tauri build --bundles deb --ci
deb=$(ls -t target/release/bundle/deb/*.deb | head -n 1)
echo "built $deb ($(du -k "$deb" | cut -f1) KiB)"
