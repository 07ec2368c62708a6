// Runs an instrumented crash fixture (a WASI command) in the page with plain
// WebAssembly.instantiate and, when it traps, sends its dump to a collector
// on another origin with the helper's recordCoredump. Query parameters:
//
//   mode       the fixture's crash mode (its first argument)
//   wasm       the instrumented module, relative to the page (app.wasm)
//   collector  the collector's base URL, e.g. http://127.0.0.1:7070
//   token      an ingest token
//   hold       optional: a name for the run (see below)
//
// The outcome goes into #result as JSON: {state: "done", mode, status} for a
// run that exits, {state: "done", mode, trap, id, errors, userAgent} for a
// trap (`id` null when nothing was recorded, `errors` the helper's onError
// messages), or {state: "failed", error} when the page itself failed.
//
// --dump-dom prints the page at its load event, which does not wait for a
// module's top-level await. With `hold`, the page delays its load event with
// an image from `hold.gif?run=NAME` that the test's server answers only
// after this page has fetched `release?run=NAME`, once #result is written.
import { recordCoredump } from './coredump.js';
import { MiniWasi } from './mini-wasi.js';

const params = new URL(window.location.href).searchParams;
const result = document.getElementById('result');
const hold = params.get('hold');
if (hold) {
  // Inserted before the first await, so before the load event.
  const img = document.createElement('img');
  img.alt = '';
  img.src = `./hold.gif?run=${encodeURIComponent(hold)}`;
  document.body.append(img);
}

function show(outcome) {
  result.textContent = JSON.stringify(outcome);
  result.dataset.state = outcome.state;
}

async function run() {
  const mode = params.get('mode') ?? '';
  const wasm = params.get('wasm') ?? 'app.wasm';
  const collector = { url: params.get('collector'), token: params.get('token') };
  const response = await fetch(wasm);
  if (!response.ok) throw new Error(`GET ${wasm}: ${response.status}`);
  const wasi = new MiniWasi({ args: ['crash.wasm', mode] });
  const { module, instance } = await WebAssembly.instantiate(await response.arrayBuffer(), wasi.imports());
  let status;
  try {
    status = wasi.start(instance);
  } catch (error) {
    const errors = [];
    const id = await recordCoredump({
      instance,
      module,
      error,
      collector,
      service: 'browser-e2e',
      environment: 'test',
      moduleName: 'crash.wasm',
      onError: (e) => errors.push(String(e && e.message ? e.message : e)),
    });
    return {
      state: 'done',
      mode,
      trap: { name: String(error && error.name), message: String(error && error.message) },
      id,
      errors,
      userAgent: navigator.userAgent,
    };
  }
  return { state: 'done', mode, status, stdout: wasi.text(1), stderr: wasi.text(2) };
}

try {
  show(await run());
} catch (error) {
  show({ state: 'failed', error: String(error && error.stack ? error.stack : error) });
} finally {
  if (hold) await fetch(`./release?run=${encodeURIComponent(hold)}`).catch(() => {});
}
