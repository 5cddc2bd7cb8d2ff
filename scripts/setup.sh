#!/usr/bin/env bash
# Install what Ringside needs on Debian/Ubuntu (with Rust and Node already there).
# Idempotent: installs only what is missing. Needs root or sudo for apt.
#   scripts/setup.sh run   what building and running it needs (scripts/run.sh)
#   scripts/setup.sh       that, and the test toolchain (scripts/test.sh, CI)
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-all}
case "$mode" in run | all) ;; *) echo "usage: scripts/setup.sh [run|all]" >&2; exit 2 ;; esac

apt_packages=(
  build-essential pkg-config
  # The desktop app (Tauri 2 on WebKitGTK).
  libwebkit2gtk-4.1-dev libxdo-dev libssl-dev libayatana-appindicator3-dev librsvg2-dev
)
if [ "$mode" = all ]; then
  apt_packages+=(
    # Tests of the real window, notifications, global shortcuts and the browser UI.
    xvfb xauth dbus dbus-x11 x11-utils openbox dunst libnotify-bin webkit2gtk-driver chromium imagemagick xdotool
    # Radicale (the CardDAV server the address-book sync is tested against) lives in a venv.
    python3 python3-venv
    # Benchmarks (bench/): the HTTP load generator, API reads.
    wrk curl
  )
fi
missing=()
for pkg in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  echo "setup: installing ${missing[*]}"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# npm packages: the web UI (its build); with the test toolchain, the Tauri CLI and the
# browser-test tools (playwright-core, axe-core) at the root.
npm_ci() {
  local dir=$1
  if [ ! -d "$dir/node_modules" ] || [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
    npm ci --prefix "$dir" --no-audit --no-fund --loglevel=error
  fi
}
npm_ci ui
[ "$mode" = all ] || exit 0

for comp in rustfmt clippy; do
  sub=${comp/rustfmt/fmt}
  cargo "$sub" --version >/dev/null 2>&1 || rustup component add "$comp"
done

# The WebDriver server for the real-window tests.
command -v tauri-driver >/dev/null 2>&1 || cargo install tauri-driver --version '^2' --locked
# The fuzz targets (scripts/fuzz.sh, and the smoke run in .ci/run).
command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked

# Radicale from PyPI, pinned, in a venv under target/ (Debian's python refuses a bare `pip
# install`); tests/it/carddav.rs runs target/tools/radicale/bin/radicale.
radicale_version=3.9.0
radicale_venv=target/tools/radicale
if [ "$("$radicale_venv/bin/radicale" --version 2>/dev/null | head -n1)" != "$radicale_version" ]; then
  echo "setup: installing radicale $radicale_version into $radicale_venv"
  python3 -m venv --clear "$radicale_venv"
  "$radicale_venv/bin/python" -m pip install --quiet --disable-pip-version-check "radicale==$radicale_version"
fi

npm_ci .
