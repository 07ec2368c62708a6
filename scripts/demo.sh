#!/usr/bin/env bash
# The main job, end to end on embedded defaults:
#   build the tools; split the demo program's DWARF into a debug file; instrument
#   the stripped module; start a collector (SQLite + a local directory) and give
#   it the debug file; run the program in the bundled host until it crashes; the
#   dump goes to the collector, which symbolicates it; wasmgdb opens the dump by
#   its collector id and shows where and why the program died.
# demo/app.rs is a Rust order total whose u32 multiplication overflows three
# calls below main. Everything the demo writes goes under demo/out/.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/wasm-postmortem/target}"
bin="$CARGO_TARGET_DIR/debug"
out=demo/out
port="${DEMO_PORT:-7070}"
collector="http://127.0.0.1:$port"
rm -rf "$out" && mkdir -p "$out"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
show() { printf '\033[2m$ %s\033[0m\n' "$*"; "$@"; }

step "1. Build the tools"
cargo build --locked --bins \
  -p debuginfo-split -p coredump-rewrite -p coredump-host -p coredump-collector -p wasmgdb

step "2. Split the DWARF out of demo/app.wasm (a Rust debug build)"
printf '\033[2m$ %s\033[0m\n' "debuginfo-split demo/app.wasm -o $out/app.wasm --debug-dir $out/symbols --json"
split_json=$("$bin/debuginfo-split" demo/app.wasm -o "$out/app.wasm" --debug-dir "$out/symbols" --json)
echo "$split_json"
build_id=$(printf '%s' "$split_json" | python3 -c 'import json, sys; print(json.load(sys.stdin)["build_id"])')
debug_file=$(printf '%s' "$split_json" | python3 -c 'import json, sys; print(json.load(sys.stdin)["debug_file"])')
ls -l demo/app.wasm "$out/app.wasm" "$debug_file"

step "3. Instrument the stripped module, so that any engine can dump it"
show "$bin/coredump-rewrite" "$out/app.wasm" "$out/app.instrumented.wasm"
ls -l "$out/app.instrumented.wasm"

step "4. Start the collector on $collector (SQLite and files in $out/collector)"
"$bin/coredump-collector" serve --listen "127.0.0.1:$port" --data "$out/collector" \
  >"$out/collector.log" 2>&1 &
collector_pid=$!
trap 'kill $collector_pid 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  curl -fsS "$collector/healthz" >/dev/null 2>&1 && break
  kill -0 $collector_pid 2>/dev/null || { cat "$out/collector.log"; exit 1; }
  sleep 0.1
done
echo "upload the debug file for build id $build_id:"
show curl -fsS -X PUT --data-binary "@$debug_file" "$collector/api/v1/debug-files/$build_id"
echo

step "5. Run the instrumented program in the bundled host until it crashes"
set +e
show "$bin/coredump-host" run --coredump-dir "$out/coredumps" --collector "$collector" \
  "$out/app.instrumented.wasm"
status=$?
set -e
echo "(exit status $status: 134 means the module trapped)"
[ "$status" = 134 ] || { echo "demo: the program was expected to trap" >&2; exit 1; }

step "6. The collector received and symbolicated the dump"
dump_json=$(curl -fsS "$collector/api/v1/dumps?limit=1")
dump_id=$(printf '%s' "$dump_json" | sed -n 's/.*"id": *"\([0-9a-f-]\{36\}\)".*/\1/p' | head -n 1)
[ -n "$dump_id" ] || { echo "demo: no dump reached the collector: $dump_json" >&2; exit 1; }
curl -fsS "$collector/api/v1/dumps/$dump_id" | python3 -c "$(cat <<'PY'
import json, sys
dump = json.load(sys.stdin)
print("dump {id}: {trap_kind} in {top_frame}, symbolication {symbolication}".format(**dump))
for frame in dump["stack"]["frames"]:
    for location in frame["locations"]:
        if location.get("in_app"):
            file = (location.get("file") or "?").rsplit("/", 1)[-1]
            print("  #{:<3} {} at {}:{}".format(frame["index"], location["function"], file, location.get("line", 0)))
PY
)"

step "7. Debug it: wasmgdb fetches the dump by its id and the debug file by build id"
show "$bin/wasmgdb" --collector "$collector" "$out/app.wasm" "$dump_id" --batch \
  --source-dir demo -ex "bt 14" -ex "frame 9" -ex "info args" -ex "p *item" -ex "p item.quantity * item.unit_price_cents" -ex "p/x item.quantity" \
  -ex "up" -ex "info locals" -ex "p order.items"

printf '\nThe collector web UI: %s/ (this dump: %s/dumps/%s)\n' "$collector" "$collector" "$dump_id"
if [ -t 0 ]; then
  read -r -p "Press Enter to stop the collector. " _
fi
