#!/usr/bin/env bash
# Every performance figure the project promises, each printed by its own
# benchmark next to its target and a baseline measured in the same run:
#   rewrite speed, peak memory and size growth; run-time overhead (wasmtime, node);
#   split throughput next to a plain copy; host requests per second, start-up
#   next to plain wasmtime, capture time; collector ingest rate and p99;
#   wasmgdb `bt` and `info functions` latency and memory.
# Real-world modules come from npm (`npm pack`) into ~/.cache/wasm-postmortem/modules.
# The report is written to docs/benchmarks.md (and printed).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/wasm-postmortem/target}"
export CARGO_TERM_COLOR=never
report=docs/benchmarks.md
mkdir -p docs
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

crates/coredump-rewrite/scripts/fetch-modules.sh >/dev/null

benches=(
  "coredump-rewrite speed"
  "coredump-rewrite size"
  "coredump-rewrite overhead"
  "debuginfo-split split"
  "coredump-host capture"
  "coredump-host serve"
  "coredump-collector ingest_load"
)
if [ -f crates/wasmgdb/benches/bt.rs ]; then
  benches+=("wasmgdb bt")
fi

cargo bench --locked --no-run $(printf -- '-p %s ' $(printf '%s\n' "${benches[@]}" | cut -d' ' -f1 | sort -u)) >&2

{
  echo "# Benchmarks"
  echo
  echo "Output of \`scripts/bench.sh\` (release builds), $(date -u '+%Y-%m-%d %H:%M UTC')."
  echo
  echo "Machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')),"
  echo "$(free -g | awk '/Mem:/ {print $2}') GiB, $(uname -sr), $(rustc --version), node $(node --version 2>/dev/null || echo none)."
  echo
} > "$work/report.md"

for entry in "${benches[@]}"; do
  read -r crate bench <<<"$entry"
  echo "== $crate: $bench" >&2
  {
    echo "## $crate: \`$bench\`"
    echo
    echo '```'
  } >> "$work/report.md"
  if ! cargo bench --locked -q -p "$crate" --bench "$bench" 2>&1 | grep -v '^\s*Finished\|^\s*Running\|^\s*Compiling' | tee -a "$work/report.md" >&2; then
    echo "bench.sh: $crate $bench failed" | tee -a "$work/report.md" >&2
  fi
  {
    echo '```'
    echo
  } >> "$work/report.md"
done

cp "$work/report.md" "$report"
echo "bench.sh: report written to $report" >&2
