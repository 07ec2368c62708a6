// Instantiates a module with no imports (or with the test imports below),
// calls one export with integer arguments, and on a trap fetches the dump
// through the ABI (the JS helper, js/coredump) into $COREDUMP_OUT.
//
//   COREDUMP_OUT=x.core node call-export.mjs file.wasm export [args...]
//
// Prints the error line to stderr; exit code 134 after a trap, 0 otherwise.
import { readFile, writeFile } from 'node:fs/promises';
import process from 'node:process';
import { extractCoredump, extractCoredumpFromMemory } from '../../../../js/coredump/index.js';

const [file, name, ...rest] = process.argv.slice(2);
const args = rest.map((a) => (a.endsWith('n') ? BigInt(a.slice(0, -1)) : Number(a)));
const memory = new WebAssembly.Memory({ initial: 1, maximum: 100 });
let instance;
// Test imports: `env.memory`, and `env.host(x)` that calls back `inner(x)`.
const imports = {
  env: {
    memory,
    host: (x) => instance.exports.inner(x),
  },
};
try {
  const module = await WebAssembly.compile(await readFile(file));
  instance = (await WebAssembly.instantiate(module, imports));
  if (name) {
    const result = instance.exports[name](...args);
    console.log(`result ${result}`);
  }
} catch (err) {
  console.error(err && err.stack ? err.stack : String(err));
  const dump = (instance && extractCoredump(instance)) || extractCoredumpFromMemory(memory);
  if (dump && process.env.COREDUMP_OUT) await writeFile(process.env.COREDUMP_OUT, dump);
  console.error(`coredump: ${dump ? dump.length : 0} bytes`);
  process.exitCode = 134;
}
