// Type-checks the helper's declarations (js/coredump/index.d.ts) the way a
// Workers project uses them, against Cloudflare's own Workers types: run by
// scripts/test.sh with `tsc -p js/runtimes/types`. Nothing here runs.
import {
  type Collector,
  extractCoredump,
  extractCoredumpFromMemory,
  moduleBuildId,
  recordCoredump,
  withCoredumps,
} from '../../coredump/index.js';

interface Env {
  COLLECTOR: Fetcher;
  COLLECTOR_URL: string;
  COLLECTOR_TOKEN: string;
}

declare const module: WebAssembly.Module;
declare const memory: WebAssembly.Memory;
let instance: WebAssembly.Instance | undefined;

const handler = {
  async fetch(request: Request, env: Env, ctx: ExecutionContext): Promise<Response> {
    return new Response(request.url);
  },
  async scheduled(controller: ScheduledController, env: Env, ctx: ExecutionContext): Promise<void> {},
  async queue(batch: MessageBatch<{ mode: string }>, env: Env, ctx: ExecutionContext): Promise<void> {},
} satisfies ExportedHandler<Env, { mode: string }>;

// The wrapper keeps the handler's type, so it is still an ExportedHandler.
const wrapped: typeof handler = withCoredumps<Env, typeof handler>(handler, {
  instance: () => instance,
  module,
  collector: (env) => ({ service: env.COLLECTOR, token: env.COLLECTOR_TOKEN }),
  service: 'checkout',
  version: '1.4.2',
  environment: 'production',
  onRecorded: (id: string | null) => console.log(id),
});
export default wrapped satisfies ExportedHandler<Env, { mode: string }>;

// Every form of collector.
declare const env: Env;
const forms: Collector[] = [
  { url: env.COLLECTOR_URL, token: env.COLLECTOR_TOKEN },
  env.COLLECTOR,
  { service: env.COLLECTOR },
];

export async function manual(request: Request, error: unknown): Promise<string | null> {
  if (instance) {
    const dump: Uint8Array | null = extractCoredump(instance, module) ?? extractCoredump(instance.exports);
    if (dump) console.log(dump.byteLength);
  }
  const fromTrailer: Uint8Array | null = extractCoredumpFromMemory(memory);
  const id: string | null = moduleBuildId(module);
  console.log(fromTrailer, id, forms.length);
  return recordCoredump({ instance, memory, module, collector: forms[0], request, error, tags: { region: 'eu' }, timeoutMs: 5000, retries: 1 });
}
