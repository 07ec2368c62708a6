#!/usr/bin/env bash
# Runs every test of the workspace. Installs what the tests need first.
# Cargo's target dir defaults to ~/.cache/wasm-postmortem/target so that
# repeated runs (and CI on the same machine) reuse the wasmtime build.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/wasm-postmortem/target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

# node 20 runs the fixtures under V8 (node:wasi), an engine independent of ours.
if ! command -v node >/dev/null 2>&1; then
  echo "test.sh: installing nodejs for the V8 cross-checks" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs >/dev/null
fi

# Two test threads: the machine has two cores and several tests compile
# whole fixture modules with wasmtime.
cargo test --workspace --locked -- --test-threads=2
