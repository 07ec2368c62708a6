// The demo program as a Cloudflare Worker: each request runs demo/app.wasm
// (instrumented by coredump-rewrite) with a minimal WASI, and the JS helper's
// withCoredumps sends the dump of its trap to the collector through the
// COLLECTOR service binding, then rethrows (the request answers 500).
import { withCoredumps } from './coredump.js';
import { MiniWasi } from './mini-wasi.js';
import app from './app.wasm';

let instance = null;

const worker = {
  async fetch() {
    const wasi = new MiniWasi({ args: ['app.wasm'] });
    instance = new WebAssembly.Instance(app, wasi.imports());
    const status = wasi.start(instance);
    return new Response(wasi.text(1) + wasi.text(2), { status: status === 0 ? 200 : 500 });
  },
};

export default withCoredumps(worker, {
  instance: () => instance,
  module: app,
  collector: (env) => env.COLLECTOR,
  service: 'demo-worker',
  environment: 'demo',
});
