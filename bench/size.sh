#!/usr/bin/env bash
# Sizes: the stripped ringside-server release binary and the desktop app's .deb.
#
#   bench/size.sh            # builds ringside-server (release); uses the newest .deb if any
#   bench/size.sh --deb      # also builds the .deb first (bash scripts/package.sh, ~7+ min)
source "$(dirname "$0")/lib.sh"

deb=0
[ "${1:-}" = --deb ] && deb=1
build
[ $deb -eq 1 ] && (cd "$ROOT" && bash scripts/package.sh >&2)
echo "## Sizes ($(date -u +%Y-%m-%dT%H:%MZ))"
echo
bin=$BIN/ringside-server
echo "- ringside-server ($PROFILE, as built: strip = \"symbols\"): $(du -b "$bin" | awk '{printf "%.2f MB (%d bytes)", $1/1048576, $1}')"
strip -o "$WORK/ringside-server.stripped" "$bin"
echo "- ringside-server after strip --strip-all: $(du -b "$WORK/ringside-server.stripped" | awk '{printf "%.2f MB", $1/1048576}')"
latest=$(ls -t "$ROOT"/target/release/bundle/deb/*.deb 2>/dev/null | head -n 1 || true)
if [ -n "$latest" ]; then
  echo "- $(basename "$latest"): $(du -b "$latest" | awk '{printf "%.2f MB (%d bytes)", $1/1048576, $1}'), built $(date -u -r "$latest" +%Y-%m-%dT%H:%MZ)"
  echo "  - installed size: $(dpkg-deb -f "$latest" Installed-Size) KiB; ringside binary inside: $(dpkg-deb -c "$latest" | awk '$6 ~ /bin\/ringside$/ {printf "%.2f MB", $3/1048576}')"
else
  echo "- no .deb yet: bench/size.sh --deb builds it"
fi
