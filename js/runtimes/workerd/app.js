// The Worker under test: runs an instrumented crash fixture (a WASI command)
// with the mode a request, a cron event or a queue message names, wrapped in
// the helper's withCoredumps. Its bindings (see the config the test writes):
//   COLLECTOR        service binding to the collector (binding variant)
//   COLLECTOR_URL    the collector's URL (endpoint variant, over globalOutbound)
//   COLLECTOR_TOKEN  ingest token
//   SCHEDULED_MODE   the crash mode a scheduled event runs
import { withCoredumps } from './coredump.js';
import { MiniWasi } from './mini-wasi.js';
import fixture from './app.wasm';

let instance = null;

function run(mode) {
  const wasi = new MiniWasi({ args: ['crash.wasm', mode] });
  instance = new WebAssembly.Instance(fixture, wasi.imports());
  const status = wasi.start(instance);
  return { status, stdout: wasi.text(1), stderr: wasi.text(2) };
}

const handler = {
  async fetch(request) {
    const mode = new URL(request.url).searchParams.get('mode') ?? '';
    const { status, stdout, stderr } = run(mode);
    return new Response(stdout + stderr, { status: status === 0 ? 200 : 400 });
  },
  async scheduled(controller, env) {
    run(env.SCHEDULED_MODE);
  },
  async queue(batch) {
    for (const message of batch.messages) {
      run(message.body.mode);
      message.ack();
    }
  },
};

export default withCoredumps(handler, {
  instance: () => instance,
  module: fixture,
  collector: (env) =>
    env.COLLECTOR_URL
      ? { url: env.COLLECTOR_URL, token: env.COLLECTOR_TOKEN }
      : { service: env.COLLECTOR, token: env.COLLECTOR_TOKEN },
  service: 'workerd-e2e',
  version: '1.0.0',
  environment: 'test',
});
