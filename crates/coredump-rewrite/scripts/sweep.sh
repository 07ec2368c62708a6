#!/usr/bin/env bash
# The real-world sweep now lives in scripts/sweep.sh (it fetches the modules,
# rewrites and splits each with the release binaries, validates every output
# with wasm-tools under its input's features, compares behaviour under node
# and coredump-host, and writes docs/sweep.md). This runs it with the
# --bounds-checks rewrite as well, as this script used to; arguments are
# passed on (see scripts/sweep.sh --help).
# The in-process size table is still `VALIDATE=1 cargo bench -p coredump-rewrite --bench size`.
set -euo pipefail
exec "$(dirname "$0")/../../../scripts/sweep.sh" --bounds-checks "$@"
