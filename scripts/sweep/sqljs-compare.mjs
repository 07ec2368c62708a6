// Runs one SQL workload on sql.js twice, once with its original module and
// once with the instrumented one, and compares the output byte for byte.
//
//   node scripts/sweep/sqljs-compare.mjs PKG_DIR GLUE ORIG.wasm INST.wasm
//
// PKG_DIR is the unpacked npm package (the directory holding package.json),
// GLUE the Emscripten glue inside it (e.g. dist/sql-wasm.js). Each run is a
// child process of its own (sql.js caches its module per process); the glue
// finds the module through `locateFile`. Also checks that the instrumented
// module imports exactly what the original imports and exports everything
// it exports (name and kind), so the same glue can drive it.
// Exit status: 0 when everything matched, 1 otherwise.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { createRequire } from "node:module";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const self = fileURLToPath(import.meta.url);

if (process.argv[2] === "--run") {
  await runWorkload(process.argv[3], process.argv[4], process.argv[5]);
} else {
  process.exit(compare(...process.argv.slice(2)));
}

// ---------------------------------------------------------------------------
// Parent: run both, compare.

function compare(pkgDir, glue, orig, inst) {
  if (!pkgDir || !glue || !orig || !inst) {
    console.error("usage: node sqljs-compare.mjs PKG_DIR GLUE ORIG.wasm INST.wasm");
    return 2;
  }
  let ok = true;
  const gluePath = path.resolve(pkgDir, glue);
  console.log(`glue ${glue}, original ${path.basename(orig)}`);

  // The interface the glue sees.
  const mo = new WebAssembly.Module(fs.readFileSync(orig));
  const mi = new WebAssembly.Module(fs.readFileSync(inst));
  const key = (d) => `${d.module ? d.module + "." : ""}${d.name}:${d.kind}`;
  const io = WebAssembly.Module.imports(mo).map(key);
  const ii = WebAssembly.Module.imports(mi).map(key);
  const eo = WebAssembly.Module.exports(mo).map(key);
  const ei = new Set(WebAssembly.Module.exports(mi).map(key));
  const missing = eo.filter((e) => !ei.has(e));
  const importsSame = JSON.stringify(io) === JSON.stringify(ii);
  const extra = [...ei].filter((e) => !eo.includes(e));
  console.log(
    `  interface: ${io.length} imports ${importsSame ? "identical" : "DIFFER"}; ` +
      `${eo.length} exports, ${missing.length} missing in the instrumented module; ` +
      `${extra.length} added (${extra.join(", ")})`,
  );
  if (!importsSame) {
    console.log(`    original imports:     ${io.join(" ")}`);
    console.log(`    instrumented imports: ${ii.join(" ")}`);
    ok = false;
  }
  if (missing.length) {
    console.log(`    missing exports: ${missing.join(" ")}`);
    ok = false;
  }

  const runs = {};
  for (const [label, wasm] of [["original", orig], ["instrumented", inst]]) {
    const meta = path.join(os.tmpdir(), `sqljs-meta-${process.pid}-${label}.json`);
    const t = process.hrtime.bigint();
    const r = spawnSync(process.execPath, [self, "--run", gluePath, wasm, meta], {
      encoding: "buffer",
      maxBuffer: 1 << 28,
    });
    const ms = Number(process.hrtime.bigint() - t) / 1e6;
    let m = {};
    try {
      m = JSON.parse(fs.readFileSync(meta, "utf8"));
      fs.rmSync(meta);
    } catch {}
    runs[label] = r;
    const sha = createHash("sha256").update(r.stdout).digest("hex").slice(0, 16);
    console.log(
      `  ${label.padEnd(12)} exit ${r.status ?? r.signal}, stdout ${r.stdout.length} bytes ` +
        `(${r.stdout.toString().split("\n").length - 1} lines, sha256 ${sha}…), stderr ${r.stderr.length} bytes, ` +
        `${ms.toFixed(0)} ms; module instantiated: ${m.instantiated ?? "?"} bytes` +
        (m.coredumpExports !== undefined ? `, __coredump_* exports: ${m.coredumpExports ? "yes" : "no"}` : ""),
    );
    if (m.instantiated !== fs.statSync(wasm).size) {
      console.log(`    the glue did not instantiate ${wasm} (locateFile not honoured?)`);
      ok = false;
    }
  }
  const o = runs.original, i = runs.instrumented;
  if (o.status !== 0) {
    console.log(`  the original run failed:\n${o.stderr.toString().slice(0, 2000)}`);
    ok = false;
  }
  for (const stream of ["stdout", "stderr"]) {
    if (Buffer.compare(o[stream], i[stream]) === 0) {
      console.log(`  ${stream}: identical`);
    } else {
      ok = false;
      const a = o[stream].toString().split("\n"), b = i[stream].toString().split("\n");
      let n = 0;
      while (n < a.length && a[n] === b[n]) n++;
      console.log(`  ${stream}: DIFFERENT from line ${n + 1}:`);
      console.log(`    original:     ${JSON.stringify(a[n] ?? "<end>").slice(0, 300)}`);
      console.log(`    instrumented: ${JSON.stringify(b[n] ?? "<end>").slice(0, 300)}`);
    }
  }
  if (o.status !== i.status) {
    console.log(`  exit status DIFFERENT: ${o.status} vs ${i.status}`);
    ok = false;
  }
  console.log(`  ${ok ? "same behaviour" : "BEHAVIOUR DIFFERS"}`);
  return ok ? 0 : 1;
}

// ---------------------------------------------------------------------------
// Child: one run of the workload. Results go to stdout, one JSON line per
// statement; facts about the run (which module was instantiated) to META.

async function runWorkload(gluePath, wasmPath, metaPath) {
  const meta = {};
  // Record the module the glue actually instantiates.
  const inst = WebAssembly.instantiate;
  WebAssembly.instantiate = async function (src, imports) {
    const r = await inst.call(this, src, imports);
    const module = r.module ?? src;
    if (ArrayBuffer.isView(src) || src instanceof ArrayBuffer) meta.instantiated = src.byteLength;
    if (module instanceof WebAssembly.Module) {
      meta.coredumpExports = WebAssembly.Module.exports(module).some((e) => e.name.startsWith("__coredump_"));
    }
    return r;
  };
  const require = createRequire(gluePath);
  const initSqlJs = require(gluePath);
  const SQL = await initSqlJs({ locateFile: () => wasmPath });
  fs.writeFileSync(metaPath, JSON.stringify(meta));

  const db = new SQL.Database();
  const out = (o) => process.stdout.write(JSON.stringify(o) + "\n");
  const cell = (v) => (v instanceof Uint8Array ? "x'" + Buffer.from(v).toString("hex") + "'" : v);
  const q = (sql, params) => {
    try {
      const res = db.exec(sql, params);
      out({ sql, result: res.map((r) => ({ columns: r.columns, values: r.values.map((row) => row.map(cell)) })) });
    } catch (e) {
      out({ sql, error: String(e.message) });
    }
  };

  q(`CREATE TABLE dept(id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL, budget REAL);
     CREATE TABLE emp(id INTEGER PRIMARY KEY, name TEXT NOT NULL, dept INTEGER REFERENCES dept(id),
                      salary REAL, hired TEXT, boss INTEGER, photo BLOB);
     CREATE INDEX emp_dept ON emp(dept, salary);`);
  const depts = ["Engineering", "Sales", "Support", "Research", "Finance", "Legal", "Ops"];
  depts.forEach((d, i) => q("INSERT INTO dept VALUES (?, ?, ?)", [i + 1, d, 1e5 * (i + 1.5)]));
  // Deterministic pseudo-random rows through a prepared statement.
  let seed = 12345;
  const rnd = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
  const first = ["Ada", "Brian", "Chen", "Dana", "Émile", "Fatima", "Gus", "Hiro", "Ines", "Jürgen", "Kofi", "Lena"];
  const ins = db.prepare("INSERT INTO emp(name, dept, salary, hired, boss, photo) VALUES (?, ?, ?, ?, ?, ?)");
  db.exec("BEGIN");
  for (let i = 0; i < 5000; i++) {
    ins.run([
      `${first[Math.floor(rnd() * first.length)]} ${String.fromCharCode(65 + Math.floor(rnd() * 26))}. #${i}`,
      1 + Math.floor(rnd() * depts.length),
      Math.round(30000 + rnd() * 150000) / 100 * 100,
      `20${String(10 + Math.floor(rnd() * 15))}-${String(1 + Math.floor(rnd() * 12)).padStart(2, "0")}-${String(1 + Math.floor(rnd() * 28)).padStart(2, "0")}`,
      i > 10 ? 1 + Math.floor(rnd() * i) : null,
      i % 97 === 0 ? new Uint8Array([i & 255, 0, 255, (i >> 8) & 255]) : null,
    ]);
  }
  db.exec("COMMIT");
  ins.free();

  q("SELECT count(*), sum(salary), min(hired), max(hired), count(photo) FROM emp");
  q(`SELECT d.name, count(e.id) AS n, round(avg(e.salary), 2), min(e.salary), max(e.salary),
            round(sum(e.salary) / d.budget, 4) AS ratio
       FROM dept d LEFT JOIN emp e ON e.dept = d.id GROUP BY d.id ORDER BY n DESC, d.name`);
  q(`SELECT * FROM (SELECT d.name AS dept, e.name, e.salary,
            rank() OVER (PARTITION BY e.dept ORDER BY e.salary DESC, e.id) AS r,
            round(percent_rank() OVER (PARTITION BY e.dept ORDER BY e.salary), 6) AS pr
       FROM emp e JOIN dept d ON d.id = e.dept) WHERE r <= 3 ORDER BY dept, r`);
  q(`SELECT strftime('%Y', hired) AS y, count(*), group_concat(DISTINCT dept)
       FROM emp GROUP BY y HAVING count(*) > 100 ORDER BY y`);
  q(`WITH RECURSIVE chain(id, name, depth, path) AS (
       SELECT id, name, 0, CAST(id AS TEXT) FROM emp WHERE id = 4321
       UNION ALL SELECT e.id, e.name, c.depth + 1, c.path || '>' || e.id
       FROM emp e JOIN chain c ON e.id = (SELECT boss FROM emp WHERE id = c.id))
     SELECT * FROM chain ORDER BY depth`);
  q(`SELECT e.name, b.name AS boss, bb.name AS grand_boss FROM emp e
       JOIN emp b ON b.id = e.boss JOIN emp bb ON bb.id = b.boss
       WHERE e.salary > 1400 * 100 AND e.dept IN (SELECT id FROM dept WHERE name LIKE 'R%')
       ORDER BY e.salary DESC, e.id LIMIT 10`);
  // Recursive CTEs doing real work.
  q(`WITH RECURSIVE fib(n, a, b) AS (SELECT 1, 0, 1 UNION ALL SELECT n + 1, b, a + b FROM fib WHERE n < 90)
     SELECT n, a FROM fib WHERE n % 10 = 0`);
  q(`WITH RECURSIVE
       xaxis(x) AS (VALUES(-2.0) UNION ALL SELECT x + 0.05 FROM xaxis WHERE x < 1.2),
       yaxis(y) AS (VALUES(-1.0) UNION ALL SELECT y + 0.1 FROM yaxis WHERE y < 1.0),
       m(iter, cx, cy, x, y) AS (
         SELECT 0, x, y, 0.0, 0.0 FROM xaxis, yaxis
         UNION ALL
         SELECT iter + 1, cx, cy, x * x - y * y + cx, 2.0 * x * y + cy FROM m
          WHERE (x * x + y * y) < 4.0 AND iter < 28),
       m2(iter, cx, cy) AS (SELECT max(iter), cx, cy FROM m GROUP BY cx, cy),
       a(t) AS (SELECT group_concat(substr(' .+*#', 1 + min(iter / 7, 4), 1), '')
                FROM m2 GROUP BY cy)
     SELECT group_concat(rtrim(t), x'0a') FROM a`);
  q(`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000)
     SELECT count(*), sum(i * i), sum(i % 7 = 3), total(1.0 / i) FROM n`);
  q(`WITH RECURSIVE sieve(i) AS (SELECT 2 UNION ALL SELECT i + 1 FROM sieve WHERE i < 2000)
     SELECT count(*), max(i) FROM sieve s
      WHERE NOT EXISTS (SELECT 1 FROM sieve d WHERE d.i * d.i <= s.i AND s.i % d.i = 0)`);
  // Strings and formatting.
  q(`SELECT printf('%08.3f|%-10s|%5d|%x|%X|%o|%e|%q|%Q|%c|%%|%,d', 3.14159, 'left', 42, 255, 48879, 8,
                   12345.678, 'it''s', NULL, 'xyz', 1234567)`);
  q(`SELECT upper('straße émile'), lower('ÀÉÎ ABC'), length('naïve'), length(CAST('naïve' AS BLOB)),
            substr('hello world', -5, 3), replace('a-b-c-d', '-', '::'), instr('haystack', 'st'),
            hex('Wasm'), unicode('€'), char(72, 105, 8364), trim('  x  '), ltrim('xxyxy', 'x'),
            quote(x'00ff'), 'abc' LIKE 'A_C', 'abc' GLOB 'A*', soundex('Robert'), zeroblob(3)`);
  q(`SELECT name FROM emp WHERE name LIKE '%ü%' ORDER BY name COLLATE NOCASE LIMIT 5`);
  q(`SELECT group_concat(name, ';') FROM (SELECT name FROM dept ORDER BY name DESC)`);
  q(`SELECT json_object('dept', d.name, 'n', count(*), 'top', json_group_array(e.salary)),
            json_extract('{"a":{"b":[1,2,{"c":"deep"}]}}', '$.a.b[2].c'),
            json_array_length('[1,2,3,[4]]'), json_valid('{bad json}')
       FROM dept d JOIN emp e ON e.dept = d.id AND e.salary > 1490 * 100 GROUP BY d.id ORDER BY d.id`);
  q(`SELECT typeof(1), typeof(1.5), typeof('x'), typeof(x'01'), typeof(NULL), 7 / 2, 7 / 2.0, 7 % 3,
            1 / 0, 5 % 0, 9223372036854775807 + 1, -9223372036854775808 - 1, round(2.5), round(-2.5),
            cast('12abc' AS INTEGER), cast(1e20 AS INTEGER), abs(-3), max(1, 'a', x'00'), coalesce(NULL, NULL, 3),
            nullif(4, 4), iif(1 > 2, 'y', 'n'), 0.1 + 0.2, 1e308 * 10, -0.0`);
  q(`SELECT date('2024-02-28', '+1 day'), datetime('2024-12-31 23:59:59', '+1 second'),
            julianday('2000-01-01'), strftime('%W %j %w', '2023-06-15'), date('2024-01-31', '+1 month')`);
  // A user function implemented in JS, called from SQL inside Wasm.
  db.create_function("js_reverse", (s) => (s == null ? null : [...String(s)].reverse().join("")));
  db.create_function("js_hash", (s) => createHash("md5").update(String(s)).digest("hex").slice(0, 8));
  q(`SELECT js_reverse(name), js_hash(name) FROM emp WHERE id IN (1, 77, 4999) ORDER BY id`);
  // Transactions, updates, deletes, constraints.
  q(`BEGIN; UPDATE emp SET salary = salary * 1.1 WHERE dept = 2; DELETE FROM emp WHERE id % 10 = 0;
     SELECT count(*), round(sum(salary), 2) FROM emp; ROLLBACK; SELECT count(*), round(sum(salary), 2) FROM emp`);
  q(`UPDATE emp SET salary = salary + 1 WHERE hired < '2012-01-01' RETURNING count(*)`);
  q(`UPDATE emp SET salary = salary + 1 WHERE hired < '2012-01-01'; SELECT changes(), total_changes()`);
  // Errors sqlite reports.
  q("SELEC name FROM emp");
  q("SELECT name FROM nowhere");
  q("INSERT INTO dept(id, name) VALUES (1, 'Duplicate')");
  q("INSERT INTO dept(id, name) VALUES (99, NULL)");
  q("SELECT abs(-9223372036854775808)");
  q("SELECT json_extract('{', '$')");
  q("SELECT nosuchfunction(1)");
  q("CREATE TABLE emp(x)");
  q("SELECT * FROM emp WHERE id = ? AND name = ?", [1]);
  q("SELECT 'unterminated");
  // Virtual tables and full-text search, if this build has them.
  for (const fts of ["fts5", "fts4", "fts3"]) {
    q(`CREATE VIRTUAL TABLE docs_${fts} USING ${fts}(body);
       INSERT INTO docs_${fts} VALUES ('the quick brown fox'), ('lazy dogs sleep'), ('quick quick'), ('quicksand');
       SELECT rowid, body FROM docs_${fts} WHERE docs_${fts} MATCH 'quick*' ORDER BY rowid`);
  }
  q(`CREATE VIRTUAL TABLE pts USING rtree(id, x0, x1, y0, y1);
     INSERT INTO pts VALUES (1, 0, 1, 0, 1), (2, 5, 6, 5, 6), (3, 0.5, 2, 0.5, 2);
     SELECT id FROM pts WHERE x1 >= 0.8 AND x0 <= 1.5 ORDER BY id`);
  q(`SELECT count(*) FROM pragma_table_info('emp')`);
  q("PRAGMA integrity_check");
  q("VACUUM");
  // The database image, and reading it back.
  const image = db.export();
  out({ export: image.length, sha256: createHash("sha256").update(image).digest("hex") });
  const db2 = new SQL.Database(image);
  out({ reopened: db2.exec("SELECT count(*), sum(salary) FROM emp")[0].values });
  db2.close();
  db.close();
}
