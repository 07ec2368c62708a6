#!/usr/bin/env bash
# The full real-world sweep: rewrites every cached module (default checks and
# --bounds-checks), validates each output with exactly the features its input
# uses, and prints the size table with median and worst growth.
# Fetch the modules first with scripts/fetch-modules.sh.
set -euo pipefail
cd "$(dirname "$0")/../../.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/wasm-postmortem/target}"
VALIDATE=1 cargo bench -p coredump-rewrite --bench size
