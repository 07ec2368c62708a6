#!/usr/bin/env bash
# The main job, end to end on embedded defaults: build the tools, run the demo
# program (demo/app.rs, a Rust order total that overflows a u32 three calls
# deep) in the bundled host until it crashes, and show the core dump it wrote.
# Everything it writes goes under demo/out/.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/wasm-postmortem/target}"
bin="$CARGO_TARGET_DIR/debug"
out=demo/out
rm -rf "$out" && mkdir -p "$out"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "1. Build the tools"
cargo build --locked -p coredump-host

step "2. Run demo/app.wasm in the bundled host until it crashes"
set +e
"$bin/coredump-host" run --coredump-dir "$out/coredumps" demo/app.wasm
status=$?
set -e
echo "(exit status $status: 134 means the module trapped)"
dump=$(ls "$out"/coredumps/*.core.wasm | head -n 1)

step "3. The core dump: $dump"
ls -l "$dump"
