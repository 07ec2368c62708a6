// Runs a WASI command module instrumented by coredump-rewrite under node 20
// (V8, which has no native core dumps) and, when it traps, sends the dump the
// module wrote to the collector with the JS package js/coredump
// (recordCoredump).
//
//   node run-and-upload.mjs COLLECTOR_URL TOKEN module.wasm [args...]
//
// After a trap, prints {"id": DUMP_ID, "url": "/api/v1/dumps/DUMP_ID"} as one
// JSON line on stdout, after the program's own output, and exits with 134.
// Otherwise exits with the program's code; 1 when a trap left no dump or the
// upload failed.
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import process from 'node:process';
import { WASI } from 'node:wasi';
import { extractCoredump, recordCoredump } from '../../js/coredump/index.js';

process.removeAllListeners('warning');
process.on('warning', (w) => {
  if (w.name !== 'ExperimentalWarning') console.error(w);
});

const [collector, token, file, ...args] = process.argv.slice(2);
const wasi = new WASI({
  version: 'preview1',
  args: [basename(file), ...args],
  env: {},
  returnOnExit: true,
});
const module = await WebAssembly.compile(await readFile(file));
const instance = await WebAssembly.instantiate(module, wasi.getImportObject());

try {
  process.exitCode = wasi.start(instance);
} catch (err) {
  console.error(err && err.stack ? err.stack : String(err));
  if (!extractCoredump(instance)) {
    console.error('no core dump: the module is not instrumented, or wrote none');
    process.exit(1);
  }
  // The package adds `runtime: node <version>`, `error` and `trigger`.
  // `module` is not passed, so no build id hint is sent: the dump names its
  // module's build id itself.
  const id = await recordCoredump({
    instance,
    error: err,
    collector: { url: collector, token },
    service: 'node-e2e',
    environment: 'test',
    onError: (e) => console.error(`coredump: upload failed: ${e.message}`),
  });
  if (!id) process.exit(1);
  process.stdout.write(JSON.stringify({ id, url: `/api/v1/dumps/${id}` }) + '\n');
  process.exitCode = 134;
}
