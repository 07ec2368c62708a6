#!/usr/bin/env bash
# Builds the cargo-fuzz targets in fuzz/ and runs each for a bounded time.
#
#   scripts/fuzz.sh              60 s per target
#   scripts/fuzz.sh 120          120 s per target
#   scripts/fuzz.sh --smoke      about 20 s in all (4 s per target), for CI
#   scripts/fuzz.sh 30 symbolicate coredump_parse   only these targets
#
# Prints, per target, the executions, coverage and corpus size, and the
# findings. A finding (crash, timeout, OOM) is copied to
# fuzz/regressions/<target>/ and makes the script exit 1.
#
# fuzz/ is its own cargo workspace (fuzz/Cargo.lock); the build directory is
# $FUZZ_TARGET_DIR (default ~/.cache/wasm-postmortem/fuzz-target), apart from
# the main one because sanitizer builds share nothing with it. cargo-fuzz needs
# nightly features: RUSTC_BOOTSTRAP=1 lets the stable toolchain provide them.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
fuzz="$root/fuzz"
all_targets=(coredump_parse symbolicate wasmgdb_commands debuginfo_split rewrite_smith rewrite_differential)

seconds=60
smoke=0
targets=()
for arg in "$@"; do
    case "$arg" in
        --smoke) smoke=1 ;;
        -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
        *[!0-9]*) targets+=("$arg") ;;
        *) seconds="$arg" ;;
    esac
done
[ ${#targets[@]} -gt 0 ] || targets=("${all_targets[@]}")
if [ "$smoke" = 1 ]; then
    seconds=$(( (20 + ${#targets[@]} - 1) / ${#targets[@]} ))
fi

export RUSTC_BOOTSTRAP=1
export CARGO_TARGET_DIR="${FUZZ_TARGET_DIR:-$HOME/.cache/wasm-postmortem/fuzz-target}"

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz: installing cargo-fuzz" >&2
    cargo install cargo-fuzz --locked
fi

cd "$fuzz"
start=$(date +%s)
echo "fuzz: building ${#targets[@]} target(s) in $CARGO_TARGET_DIR" >&2
for t in "${targets[@]}"; do
    cargo fuzz build --release --debug-assertions "$t"
done
build_s=$(( $(date +%s) - start ))
echo "fuzz: built in ${build_s}s" >&2

# Seeds: the committed ones in fuzz/seeds/<target>/, plus fixture modules.
seed() {
    local t="$1" dir="$fuzz/corpus/$1"
    mkdir -p "$dir"
    if [ -d "$fuzz/seeds/$t" ]; then cp -n "$fuzz/seeds/$t"/* "$dir"/ 2>/dev/null || true; fi
    case "$t" in
        symbolicate|debuginfo_split)
            cp -n "$root/fixtures/c/crash-O0.wasm" "$dir/fixture-c-crash-O0.wasm"
            cp -n "$root/fixtures/c/crash-O2.wasm" "$dir/fixture-c-crash-O2.wasm" ;;
    esac
}

logs="$(mktemp -d)"
trap 'rm -rf "$logs"' EXIT
findings_total=0
summary=()
for t in "${targets[@]}"; do
    seed "$t"
    mkdir -p "$fuzz/artifacts/$t"
    before="$logs/$t.before"
    ls "$fuzz/artifacts/$t" > "$before"
    echo "fuzz: running $t for ${seconds}s" >&2
    set +e
    cargo fuzz run --release --debug-assertions "$t" "$fuzz/corpus/$t" -- \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 > "$logs/$t.log" 2>&1
    rc=$?
    set -e
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$logs/$t.log" | tail -1)
    done_line=$(grep -E '^#[0-9]+' "$logs/$t.log" | tail -1 || true)
    cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$done_line")
    ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$done_line")
    corp=$(sed -n 's/.* corp: \([0-9]*\/[0-9a-zA-Z]*\).*/\1/p' <<<"$done_line")
    new=()
    while IFS= read -r f; do
        [ -n "$f" ] && new+=("$f")
    done < <(ls "$fuzz/artifacts/$t" | grep -vxFf "$before" || true)
    if [ ${#new[@]} -gt 0 ]; then
        mkdir -p "$fuzz/regressions/$t"
        for f in "${new[@]}"; do cp "$fuzz/artifacts/$t/$f" "$fuzz/regressions/$t/$f"; done
        findings_total=$(( findings_total + ${#new[@]} ))
        echo "fuzz: $t FOUND ${new[*]} (saved under fuzz/regressions/$t/):" >&2
        { sed -n '/panicked at/,+1p' "$logs/$t.log" | head -2
          grep -E "^SUMMARY|ERROR: libFuzzer|==ERROR" "$logs/$t.log" | head -3; } | cut -c1-300 >&2 || true
    elif [ "$rc" != 0 ]; then
        echo "fuzz: $t exited $rc without an artifact; last lines:" >&2
        tail -20 "$logs/$t.log" >&2
        findings_total=$(( findings_total + 1 ))
        new=("exit-$rc")
    fi
    summary+=("$(printf '%-18s %10s execs  cov %-6s ft %-6s corpus %-12s findings %s' \
        "$t" "${execs:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" "${#new[@]}${new:+ (${new[*]})}")")
done

echo
echo "fuzz: ${seconds}s per target, build ${build_s}s, total $(( $(date +%s) - start ))s"
printf '%s\n' "${summary[@]}"
[ "$findings_total" = 0 ]
