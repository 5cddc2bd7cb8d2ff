#!/usr/bin/env bash
# Fuzz every provider parser and the webhook front door with cargo-fuzz (libFuzzer + ASan),
# each target for SECONDS (default 60), seeded with the fixtures. A crash stops the run and
# leaves its input in fuzz/artifacts/<target>/; replay it with
#   RUSTC_BOOTSTRAP=1 cargo fuzz run --fuzz-dir fuzz -a <target> fuzz/artifacts/<target>/<file>
#
# Usage: scripts/fuzz.sh [SECONDS] [TARGET...]
# Targets: front_door voiceshot whippy teltel exotel generic xelion (default: all).
#
# cargo-fuzz needs nightly-only compiler flags (-Zsanitizer=address, ...). Only stable Rust is
# installed here: RUSTC_BOOTSTRAP=1 lets the stable compiler take them.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(front_door voiceshot whippy teltel exotel generic xelion)
command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked
export RUSTC_BOOTSTRAP=1

# Seed corpora from the fixtures: request files for the webhook targets (the front door gets
# them all, named by provider), one frame per file for Xelion.
for t in "${targets[@]}"; do
  dir=fuzz/corpus/$t
  mkdir -p "$dir"
  case $t in
    front_door)
      for f in tests/fixtures/*/*.http; do
        p=$(basename "$(dirname "$f")")
        cp "$f" "$dir/$p-$(basename "$f")"
      done
      ;;
    xelion)
      for f in tests/fixtures/xelion/*.jsonl; do
        n=0
        while IFS= read -r line; do
          n=$((n + 1))
          printf '%s' "$line" > "$dir/$(basename "$f" .jsonl)-$n.json"
        done < "$f"
        cp "$f" "$dir/$(basename "$f")"
      done
      ;;
    *) cp tests/fixtures/"$t"/*.http "$dir"/ ;;
  esac
done

# -a: with debug assertions, so arithmetic overflow panics too.
cargo fuzz build --fuzz-dir fuzz -a
for t in "${targets[@]}"; do
  echo "fuzz: $t for ${secs}s"
  cargo fuzz run --fuzz-dir fuzz -a "$t" "fuzz/corpus/$t" -- \
    -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1
done
