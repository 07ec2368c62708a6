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

# One build for every bench (per-package invocations would each resolve other
# features and rebuild wasmtime); then each bench binary is run directly,
# from its package's directory as `cargo bench` would.
packages=$(printf '%s\n' "${benches[@]}" | cut -d' ' -f1 | sort -u | sed 's/^/-p /')
# shellcheck disable=SC2086
cargo bench --locked --no-run --message-format=json $packages \
  | python3 -c '
import json, os, sys
for line in sys.stdin:
    try:
        m = json.loads(line)
    except ValueError:
        continue
    t = m.get("target", {})
    if m.get("reason") == "compiler-artifact" and "bench" in t.get("kind", []) and m.get("executable"):
        print(t["name"], m["executable"], os.path.dirname(m["manifest_path"]))
' > "$work/executables"
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
  exe='' dir=''
  read -r _ exe dir < <(awk -v b="$bench" -v d="/$crate" '$1 == b && index($3, d) == length($3) - length(d) + 1' "$work/executables") || true
  if [ -z "${exe:-}" ]; then
    echo "bench.sh: no executable for $crate $bench" | tee -a "$work/report.md" >&2
  elif ! (cd "$dir" && "$exe" --bench) 2>&1 | tee -a "$work/report.md" >&2; then
    echo "bench.sh: $crate $bench failed" | tee -a "$work/report.md" >&2
  fi
  {
    echo '```'
    echo
  } >> "$work/report.md"
done

cp "$work/report.md" "$report"
echo "bench.sh: report written to $report" >&2
