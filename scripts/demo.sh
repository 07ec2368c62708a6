#!/usr/bin/env bash
# The main job, end to end on embedded defaults:
#   build the tools; split the demo program's DWARF into a debug file; instrument
#   the stripped module; start a collector (SQLite + a local directory) and give
#   it the debug file; run the program in the bundled host until it crashes; the
#   dump goes to the collector, which symbolicates it; run the same module as a
#   Cloudflare Worker in workerd, whose dump the JS helper sends; wasmgdb opens
#   a dump by its collector id and shows where and why the program died.
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

step "6. The same module as a Cloudflare Worker, in workerd (npm), with the JS helper"
if [ ! -x js/runtimes/node_modules/.bin/workerd ]; then
  show npm ci --prefix js/runtimes --no-audit --no-fund --loglevel=error
fi
worker_dir="$out/worker"
mkdir -p "$worker_dir"
cp demo/worker.js "$worker_dir/worker.js"
cp js/coredump/index.js "$worker_dir/coredump.js"
cp js/runtimes/mini-wasi.js "$worker_dir/mini-wasi.js"
cp "$out/app.instrumented.wasm" "$worker_dir/app.wasm"
worker_port=$((port + 1))
cat >"$worker_dir/config.capnp" <<CAPNP
using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [
    (name = "demo", worker = .demo),
    (name = "collector", external = (address = "127.0.0.1:$port", http = ())),
  ],
  sockets = [ (name = "http", address = "127.0.0.1:$worker_port", http = (), service = "demo") ],
);
const demo :Workerd.Worker = (
  modules = [
    (name = "worker.js", esModule = embed "worker.js"),
    (name = "coredump.js", esModule = embed "coredump.js"),
    (name = "mini-wasi.js", esModule = embed "mini-wasi.js"),
    (name = "app.wasm", wasm = embed "app.wasm"),
  ],
  bindings = [ (name = "COLLECTOR", service = "collector") ],
  compatibilityDate = "2024-09-23",
);
CAPNP
workerd="$PWD/js/runtimes/node_modules/.bin/workerd"
(cd "$worker_dir" && exec "$workerd" serve config.capnp) >"$out/workerd.log" 2>&1 &
workerd_pid=$!
trap 'kill $collector_pid $workerd_pid 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  python3 -c "import socket; socket.create_connection(('127.0.0.1', $worker_port), 1)" 2>/dev/null && break
  kill -0 $workerd_pid 2>/dev/null || { cat "$out/workerd.log"; exit 1; }
  sleep 0.1
done
echo "a request to the Worker (it traps: 500; the helper sends the dump in the background):"
show curl -sS -o /dev/null -w 'HTTP %{http_code}\n' "http://127.0.0.1:$worker_port/checkout"
for _ in $(seq 100); do
  count=$(curl -fsS "$collector/api/v1/dumps" | python3 -c 'import json, sys; print(len(json.load(sys.stdin)))')
  [ "$count" -ge 2 ] && break
  sleep 0.1
done
[ "$count" -ge 2 ] || { echo "demo: the Worker's dump did not reach the collector" >&2; cat "$out/workerd.log"; exit 1; }
kill $workerd_pid 2>/dev/null || true
curl -fsS "$collector/api/v1/groups" | python3 -c "$(cat <<'PY'
import json, sys
groups = json.load(sys.stdin)
dumps = sum(g["count"] for g in groups)
print(f"{dumps} dumps (coredump-host's and the Worker's) in {len(groups)} group(s):")
for g in groups:
    print(f"  {g['count']} x {g['title']}")
PY
)"

step "7. The collector received and symbolicated the dump"
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

step "8. Debug it: wasmgdb fetches the dump by its id and the debug file by build id"
show "$bin/wasmgdb" --collector "$collector" "$out/app.wasm" "$dump_id" --batch \
  --source-dir demo -ex "bt 14" -ex "frame 9" -ex "info args" -ex "p *item" -ex "p item.quantity * item.unit_price_cents" -ex "p/x item.quantity" \
  -ex "up" -ex "info locals" -ex "p order.items"

printf '\nThe collector web UI: %s/ (this dump: %s/dumps/%s)\n' "$collector" "$collector" "$dump_id"
if [ -t 0 ]; then
  read -r -p "Press Enter to stop the collector. " _
fi
