// Runs a WASI command module instrumented by coredump-rewrite under node,
// like fixtures/run-node.mjs, and on a trap also fetches the core dump through
// the ABI (the JS helper, js/coredump) and writes it to $COREDUMP_OUT.
//
//   COREDUMP_OUT=crash.core node run-dump.mjs file.wasm [args...]
//
// Exit code: the program's own, or 134 after a trap.
import { readFile, writeFile } from 'node:fs/promises';
import { basename } from 'node:path';
import process from 'node:process';
import { WASI } from 'node:wasi';
import { extractCoredump } from '../../../../js/coredump/index.js';

process.removeAllListeners('warning');
process.on('warning', (w) => {
  if (w.name !== 'ExperimentalWarning') console.error(w);
});
Error.stackTraceLimit = 100;

const [file, ...args] = process.argv.slice(2);
const wasi = new WASI({
  version: 'preview1',
  args: [basename(file, '.wasm'), ...args],
  env: {},
  returnOnExit: true,
});

let instance;
try {
  const module = await WebAssembly.compile(await readFile(file));
  instance = await WebAssembly.instantiate(module, wasi.getImportObject());
} catch (err) {
  console.error(`cannot load ${file}: ${err && err.stack ? err.stack : err}`);
  process.exit(1);
}

let code;
try {
  code = wasi.start(instance);
} catch (err) {
  console.error(err && err.stack ? err.stack : String(err));
  const dump = extractCoredump(instance);
  if (dump && process.env.COREDUMP_OUT) {
    await writeFile(process.env.COREDUMP_OUT, dump);
  }
  console.error(`coredump: ${dump ? dump.length : 0} bytes`);
  code = 134;
}
process.exitCode = code;
