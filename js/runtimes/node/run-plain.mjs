// Runs a WASI command module instrumented by coredump-rewrite under node with
// plain WebAssembly.instantiate (no node:wasi: the imports come from the
// test's MiniWasi) and, when it traps, records its dump with the helper's
// recordCoredump.
//
//   node run-plain.mjs COLLECTOR_URL TOKEN module.wasm [args...]
//
// After a trap, prints {"id": DUMP_ID} as one JSON line on stdout and exits
// with 134; otherwise exits with the program's status.
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import process from 'node:process';
import { recordCoredump } from '../../coredump/index.js';
import { MiniWasi } from '../mini-wasi.js';

const [url, token, file, ...args] = process.argv.slice(2);
const wasi = new MiniWasi({ args: [basename(file), ...args] });
const { module, instance } = await WebAssembly.instantiate(await readFile(file), wasi.imports());

let status;
try {
  status = wasi.start(instance);
} catch (error) {
  process.stderr.write(`${error && error.stack ? error.stack : error}\n`);
  const id = await recordCoredump({
    instance,
    module,
    error,
    collector: { url, token },
    service: 'node-plain-e2e',
    environment: 'test',
    moduleName: basename(file),
    onError: (e) => process.stderr.write(`coredump: ${e.message}\n`),
  });
  process.stdout.write(JSON.stringify({ id }) + '\n');
  process.exit(id ? 134 : 1);
}
process.stdout.write(wasi.text(1));
process.stderr.write(wasi.text(2));
process.exit(status);
