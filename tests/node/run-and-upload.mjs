// Runs a WASI command module instrumented by coredump-rewrite under node 20
// (V8, which has no native core dumps) and, when it traps, takes the dump the
// module wrote with the reference snippet js/coredump-abi.mjs and uploads it
// to the collector with that snippet's uploadCoreDump.
//
//   node run-and-upload.mjs COLLECTOR_URL TOKEN module.wasm [args...]
//
// Prints the collector's reply as one JSON line on stdout, after the program's
// own output; exits with the program's code, or 134 after a trap.
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import process from 'node:process';
import { WASI } from 'node:wasi';
import { coreDumpFromInstance, uploadCoreDump } from '../../js/coredump-abi.mjs';

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
  const dump = coreDumpFromInstance(instance);
  if (!dump) {
    console.error('no core dump: the module is not instrumented, or wrote none');
    process.exit(1);
  }
  const reply = await uploadCoreDump(collector, dump, {
    token,
    metadata: { service: 'node-e2e', environment: 'test', runtime: `node ${process.version}` },
  });
  process.stdout.write(JSON.stringify(reply) + '\n');
  process.exitCode = 134;
}
