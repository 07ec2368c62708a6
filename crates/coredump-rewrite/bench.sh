#!/usr/bin/env bash
# All coredump-rewrite benchmarks: output size over the real-world modules,
# rewrite speed and peak memory on the largest one, and run-time overhead on
# a CPU-bound program under wasmtime and node. Prints figures and ratios.
#
#   crates/coredump-rewrite/bench.sh [--fetch]
#
# --fetch downloads the real-world modules first (npm registry).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here/../.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/wasm-postmortem/target}"
if [ "${1:-}" = "--fetch" ]; then
  "$here/scripts/fetch-modules.sh"
fi
cargo bench -p coredump-rewrite --bench size
cargo bench -p coredump-rewrite --bench speed
cargo bench -p coredump-rewrite --bench overhead
