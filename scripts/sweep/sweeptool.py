#!/usr/bin/env python3
"""Small helpers for scripts/sweep.sh (standard library only).

  sweeptool.py nodebug FILE.wasm
      Prints "SIZE DWARF": the module's size without its `.debug_*`,
      `sourceMappingURL` and `external_debug_info` custom sections (what
      coredump-rewrite drops, computed from the section layout exactly as
      crates/coredump-rewrite/benches/modules.rs does), and the size of its
      `.debug_*` sections alone.
  sweeptool.py summary ROWS.tsv
      Prints the summary of the sweep table from the rows sweep.sh wrote.
  sweeptool.py frames BT.txt [--no-numbers]
      Prints one line per frame of a wasmgdb `bt` ("#N PC FUNCTION LOCATION"),
      without argument values and with a module path ("from DIR/X.wasm") cut
      to its file name, so that backtraces of two dumps can be compared
      (--no-numbers: without the frame numbers, for dumps of different depth).
  sweeptool.py host-stderr FILE
      Prints FILE without coredump-host's own trap report (the lines starting
      with "coredump-host: " and the indented "  #N ..." frames it lists), i.e.
      what the module itself wrote to stderr.
"""
import re
import statistics
import sys


def leb(data, pos):
    result = shift = 0
    while True:
        b = data[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        shift += 7
        if b < 0x80:
            return result, pos


def nodebug(path):
    data = open(path, "rb").read()
    if data[:4] != b"\0asm":
        raise SystemExit(f"{path}: not a Wasm binary")
    pos, removed, dwarf = 8, 0, 0
    while pos < len(data):
        start = pos
        sid = data[pos]
        size, body = leb(data, pos + 1)
        end = body + size
        if sid == 0:
            nlen, npos = leb(data, body)
            name = data[npos:npos + nlen].decode("utf-8", "replace")
            if name.startswith(".debug_") or name in ("sourceMappingURL", "external_debug_info"):
                removed += end - start
            if name.startswith(".debug_"):
                dwarf += end - start
        pos = end
    print(len(data) - removed, dwarf)


def human(n):
    n = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024


def summary(path):
    rows = [dict(zip(HEADER, line.rstrip("\n").split("\t"))) for line in open(path) if line.strip()]
    if not rows:
        print("no modules")
        return
    ok = [r for r in rows if r["all_ok"] == "yes"]
    rewritten = [r for r in rows if r["growth"] not in ("", "-")]
    growth = sorted((float(r["growth"]), r["module"]) for r in rewritten)
    print(f"{len(rows)} modules; {len(ok)} with every output valid and every tool run clean; "
          f"{len(rows) - len(ok)} with a failure.")
    outputs = sum(int(r["outputs"]) for r in rows)
    valid = sum(int(r["valid"]) for r in rows)
    print(f"{valid} of {outputs} outputs valid under their input's features "
          f"({100.0 * valid / outputs if outputs else 0:.1f}%; target 100%).")
    if growth:
        med = statistics.median(g for g, _ in growth)
        worst, worst_mod = growth[-1]
        print("rewrite growth (default checks), relative to the input without DWARF, sourceMappingURL and "
              "external_debug_info:")
        print(f"  median {med:+.1f}% (target 25%: {'met' if med <= 25 else 'MISSED'}), "
              f"worst {worst:+.1f}% on {worst_mod} (target 60%: {'met' if worst <= 60 else 'MISSED'});")
        print(f"  smallest {growth[0][0]:+.1f}% on {growth[0][1]}.")
        by_pkg = {}
        for g, m in growth:
            by_pkg.setdefault(m.split("/")[0] if "/" in m else m, []).append(g)
        print("  median per package: " + "; ".join(
            f"{p} {statistics.median(v):+.1f}%" + (f" ({len(v)} modules)" if len(v) > 1 else "")
            for p, v in sorted(by_pkg.items())))
        bg = sorted((float(r["bounds_growth"]), r["module"]) for r in rows if r.get("bounds_growth") not in (None, "", "-"))
        if bg:
            print(f"with --bounds-checks: median {statistics.median(g for g, _ in bg):+.1f}%, "
                  f"worst {bg[-1][0]:+.1f}% on {bg[-1][1]}.")
        t = sum(float(r["rw_s"]) for r in rewritten)
        slow = max(rewritten, key=lambda r: float(r["rw_s"]))
        big = max(rewritten, key=lambda r: int(r["rw_kb"]))
        print(f"rewrite time: {t:.1f} s in all; slowest {float(slow['rw_s']):.2f} s on {slow['module']} "
              f"({human(slow['input'])}); peak RSS at most {human(int(big['rw_kb']) * 1024)} on {big['module']} "
              f"({int(big['rw_kb']) * 1024 / int(big['input']):.1f}x its input).")
    split = [r for r in rows if r["stripped"] not in ("", "-")]
    nodwarf = sum(1 for r in rows if r["split_note"] == "no DWARF")
    if split:
        dwarf = sum(int(r["dwarf"]) for r in split)
        t = sum(float(r["split_s"]) for r in split)
        big = max(split, key=lambda r: int(r["split_kb"]))
        print(f"split: {len(split)} modules with DWARF ({human(dwarf)} of DWARF moved to debug files) in {t:.2f} s; "
              f"peak RSS at most {human(int(big['split_kb']) * 1024)} on {big['module']} "
              f"({int(big['split_kb']) * 1024 / int(big['input']):.2f}x its input); "
              f"{nodwarf} without DWARF (debuginfo-split exits 3, nothing to split).")
    elif nodwarf:
        print(f"split: no module with DWARF; {nodwarf} without (debuginfo-split exits 3).")


HEADER = ["module", "input", "base", "dwarf", "features", "rewritten", "growth", "rw_s", "rw_kb", "warnings",
          "stripped", "split_s", "split_kb", "split_note", "outputs", "valid", "bounds_growth", "all_ok"]

# "#N  0xPC in FUNC (args) at FILE:LINE" or, for an inlined frame, "#N  FUNC (...)".
# The space after N is optional: wasmgdb prints none after a frame number of
# four or more digits ("#50290x001463de in ...").
FRAME_PC = re.compile(r"^#(\d+?)\s*(0x[0-9a-fA-F]+) in (\S+)")
FRAME_INLINED = re.compile(r"^#(\d+)\s*()(\S+)")


def frames(path, *opts):
    seen = set()
    for line in open(path, encoding="utf-8", errors="replace"):
        m = FRAME_PC.match(line) or FRAME_INLINED.match(line)
        if not m:
            continue
        n = int(m[1])
        if n in seen:  # the startup summary repeats frame #0
            continue
        seen.add(n)
        loc = ""
        at = re.search(r"\) (at|from) (\S+)\s*$", line)
        if at:  # a module path ("from X") only by its file name: the same module may sit elsewhere
            loc = f"{at[1]} {at[2] if at[1] == 'at' else at[2].rsplit('/', 1)[-1]}"
        num = "" if "--no-numbers" in opts else f"#{n} "
        print(f"{num}{m[2] or '-'} {m[3]} {loc}".rstrip())


def host_stderr(path):
    for line in open(path, encoding="utf-8", errors="replace"):
        if line.startswith("coredump-host: ") or re.match(r"^  #\d+ ", line):
            continue
        sys.stdout.write(line)


if __name__ == "__main__":
    cmd, *args = sys.argv[1:] or ["help"]
    if cmd == "nodebug":
        nodebug(*args)
    elif cmd == "summary":
        summary(*args)
    elif cmd == "frames":
        frames(*args)
    elif cmd == "host-stderr":
        host_stderr(*args)
    elif cmd == "header":
        print("\t".join(HEADER))
    else:
        print(__doc__)
        sys.exit(0 if cmd in ("help", "-h", "--help") else 2)
