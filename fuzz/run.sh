#!/usr/bin/env bash
# Runs every fuzz target for a bounded time: fuzz/run.sh [seconds per target] [target...]
# (default: 30 s, every target).
#
# libFuzzer through cargo-fuzz, installed if missing. cargo-fuzz passes -Z flags to rustc; on a
# stable toolchain RUSTC_BOOTSTRAP=1 lets them through. No sanitizer: the crate forbids unsafe
# code, and the C in aws-lc is not instrumented by -Zsanitizer anyway; overflow checks and
# debug assertions stay on (cargo-fuzz's default). Each target starts from its committed
# seeds (fuzz/seeds/<target>) and grows its corpus in fuzz/corpus/<target> (ignored by git);
# a crash leaves its input in fuzz/artifacts/<target> and fails the script.
#
# Target directory: $FUZZ_TARGET_DIR, else "$CARGO_TARGET_DIR-fuzz" when CARGO_TARGET_DIR is
# set (the fuzz build's flags differ from the crate's: sharing would rebuild both), else
# fuzz/target.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-30}"
shift || true

if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked
fi
export RUSTC_BOOTSTRAP=1

args=(--sanitizer none)
target_dir="${FUZZ_TARGET_DIR:-${CARGO_TARGET_DIR:+${CARGO_TARGET_DIR}-fuzz}}"
if [ -n "$target_dir" ]; then
  args+=(--target-dir "$target_dir")
fi

targets=(validate claims bearer jwks)
if [ "$#" -gt 0 ]; then
  targets=("$@")
fi
cargo fuzz build "${args[@]}"
for target in "${targets[@]}"; do
  case "$target" in
    jwks) max_len=65536 ;;
    bearer) max_len=4096 ;;
    *) max_len=9000 ;;
  esac
  mkdir -p "fuzz/corpus/$target"
  echo "== fuzz target $target: ${seconds}s"
  cargo fuzz run "${args[@]}" "$target" "fuzz/corpus/$target" "fuzz/seeds/$target" -- \
    -max_total_time="$seconds" -max_len="$max_len" -timeout=10 -rss_limit_mb=2048 \
    -dict=fuzz/jwt.dict -print_final_stats=1
done
