#!/usr/bin/env bash
# Runs every test of the workspace. Installs what the tests need first.
# Cargo's target dir defaults to ~/.cache/wasm-postmortem/target so that
# repeated runs (and CI on the same machine) reuse the wasmtime build.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/wasm-postmortem/target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

# What the tests run besides our own code, all from Debian and all on
# loopback only:
#   node        the fixtures and instrumented modules under V8 (node:wasi)
#   postgresql  the collector's scale-out index (a throwaway cluster per test)
#   chromium    the collector's web UI, driven headless through chromedriver
missing=()
command -v node >/dev/null 2>&1 || missing+=(nodejs)
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || missing+=(postgresql)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)
if [ ${#missing[@]} -gt 0 ]; then
  echo "test.sh: installing ${missing[*]}" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# Real-world modules for the rewriter's smoke test, from the npm registry
# (pinned; kept in ~/.cache/wasm-postmortem/modules once fetched).
crates/coredump-rewrite/scripts/fetch-modules.sh \
  tree-sitter-wasms@0.1.13 @sqlite.org/sqlite-wasm@3.41.2 sql.js@1.17.0 @resvg/resvg-wasm@2.6.2 >/dev/null

# The real wasm-tools (pinned; validate and dump only) checks that the
# rewriter's dumps are spec core dumps another reader accepts.
tools="$HOME/.cache/wasm-postmortem/tools"
wasm_tools_version=1.263.0
if ! "$tools/bin/wasm-tools" --version 2>/dev/null | grep -qx "wasm-tools $wasm_tools_version"; then
  echo "test.sh: installing wasm-tools $wasm_tools_version" >&2
  cargo install wasm-tools --version "$wasm_tools_version" --locked --no-default-features \
    --features validate,dump --root "$tools" --target-dir "$tools/build" --quiet
fi
export WASM_TOOLS="$tools/bin/wasm-tools"

# workerd, the Cloudflare Workers runtime, for the JS helper's runtime tests,
# and TypeScript with the Workers types for its declarations (pinned in
# js/runtimes/package-lock.json).
lock_stamp="$(sha256sum js/runtimes/package-lock.json | cut -d' ' -f1)"
if [ "$(cat js/runtimes/node_modules/.lock-stamp 2>/dev/null)" != "$lock_stamp" ] \
  || ! js/runtimes/node_modules/.bin/workerd --version >/dev/null 2>&1; then
  echo "test.sh: installing workerd and TypeScript (npm ci in js/runtimes)" >&2
  (cd js/runtimes && npm ci --no-audit --no-fund --loglevel=error)
  echo "$lock_stamp" > js/runtimes/node_modules/.lock-stamp
fi

# Sentry's own event normaliser (PyPI sentry-relay, pinned) checks the events
# the collector forwards to Sentry.
relay_venv="$HOME/.cache/wasm-postmortem/relay-venv"
sentry_relay_version=0.10.1
if ! "$relay_venv/bin/python" -c "import sentry_relay, importlib.metadata as m; assert m.version('sentry-relay') == '$sentry_relay_version'" 2>/dev/null; then
  echo "test.sh: installing sentry-relay $sentry_relay_version" >&2
  python3 -m venv "$relay_venv"
  "$relay_venv/bin/pip" install --quiet --disable-pip-version-check "sentry-relay==$sentry_relay_version"
fi
export SENTRY_RELAY_PYTHON="$relay_venv/bin/python"

# A short smoke of every fuzz target (cargo-fuzz on stable with
# RUSTC_BOOTSTRAP; its own target dir under ~/.cache). A finding fails the run
# and is saved under fuzz/regressions/.
scripts/fuzz.sh --smoke

# Two test threads: the machine has two cores and several tests compile
# whole fixture modules with wasmtime.
cargo test --workspace --locked -- --test-threads=2

# The JS helper's unit tests, on node's built-in test runner, and its type
# declarations checked as a Worker uses them.
(cd js/coredump && node --test test/)
js/runtimes/node_modules/.bin/tsc -p js/runtimes/types
