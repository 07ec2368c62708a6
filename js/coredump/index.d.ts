// Types for @wasm-postmortem/coredump. Request, Response and RequestInit are
// the Fetch-API globals (lib "dom", @types/node >= 18 or
// @cloudflare/workers-types all declare them).

/** A collector reached over HTTP(S). */
export interface CollectorEndpoint {
  /** The collector's base URL, e.g. `https://crash.example.com`; dumps go to `{url}/api/v1/dumps`. */
  url: string;
  /** An ingest token, sent as `Authorization: Bearer <token>`. */
  token?: string;
}

/** Anything with a Fetch-API fetch(): a Workers service binding (env.COLLECTOR), or a wrapper. */
export interface Fetcher {
  fetch(input: Request | string | URL, init?: RequestInit): Promise<Response>;
}

/** A service binding plus an ingest token. */
export interface CollectorBinding {
  service: Fetcher;
  token?: string;
}

export type Collector = CollectorEndpoint | Fetcher | CollectorBinding;

/**
 * An instance of a module instrumented by `coredump-rewrite`, or its exports
 * object (what wasm-bindgen's generated glue keeps as `wasm`).
 */
export type InstanceLike = WebAssembly.Instance | WebAssembly.Exports;

/**
 * The dump the instance wrote at its last trap (a complete spec core dump:
 * frames, locals, sparse memory, globals, trap, build id), or null.
 *
 * Returns a copy. Null when the instance is not instrumented by
 * coredump-rewrite, wrote no dump, the ABI's pointer and length are out of
 * bounds, the bytes do not start with a Wasm header, or the dump was already
 * sent by {@link recordCoredump} (which marks it consumed). Never throws.
 * `module` changes nothing here; it is accepted for symmetry.
 */
export function extractCoredump(instance: InstanceLike, module?: WebAssembly.Module): Uint8Array | null;

/**
 * For a trap in the start function (no instance): from the trailer in the
 * last 16 bytes of a memory the host imported (`u64` address, `u32` length,
 * `"WCD1"`, little endian). Returns a copy, or null. Never throws.
 */
export function extractCoredumpFromMemory(
  memory: WebAssembly.Memory,
  module?: WebAssembly.Module,
): Uint8Array | null;

/** Lower-case hex of the module's build id (the `build_id` custom section's id bytes, without its length prefix), or null. */
export function moduleBuildId(module: WebAssembly.Module): string | null;

export interface RecordOptions {
  /** Where the dump is read from. */
  instance?: InstanceLike;
  /** Start-function traps: read the trailer from this memory instead (used when `instance` has no dump). */
  memory?: WebAssembly.Memory;
  /** Build id hint (sent as `modules[0].build_id`) and instrumentation check. */
  module?: WebAssembly.Module;
  collector: Collector;
  /** Fetch-API request: method, url, headers — scrubbed before sending. */
  request?: Request;
  /** The trap; its name and message go into the metadata. */
  error?: unknown;
  service?: string;
  version?: string;
  environment?: string;
  /** Default "module.wasm". */
  moduleName?: string;
  tags?: Record<string, string>;
  /** Extra metadata, sent as is (scrubbed). */
  context?: Record<string, unknown>;
  /** Per attempt, default 10000. */
  timeoutMs?: number;
  /** Default 2, on network errors, 5xx and 429; same Idempotency-Key on every attempt. */
  retries?: number;
  /** Default: console.warn with a "coredump:" prefix. */
  onError?: (error: Error) => void;
}

/**
 * Sends the instance's dump to the collector. Resolves to the collector's dump
 * id, or null when there was no dump or the upload failed. Never rejects and
 * never throws.
 *
 * The dump is read and marked consumed (its first 4 bytes zeroed in
 * `__coredump_memory`) before anything is awaited, so it is sent once; the
 * next trap writes a fresh dump.
 */
export function recordCoredump(options: RecordOptions): Promise<string | null>;

export interface WrapOptions<Env> {
  /** The instance, or a function returning the current one (e.g. a lazily created instance). */
  instance: InstanceLike | (() => InstanceLike | null | undefined);
  module?: WebAssembly.Module;
  /** A collector, or a function of the handler's `env` returning one. */
  collector: Collector | ((env: Env) => Collector);
  service?: string;
  version?: string;
  environment?: string;
  moduleName?: string;
  tags?: Record<string, string>;
  /** Default true: upload through ctx.waitUntil when ctx has it, else awaited before rethrowing. */
  waitUntil?: boolean;
  /** Called when a trap's recording finished, with the dump id or null. */
  onRecorded?: (id: string | null, error: unknown) => void;
  onError?: (error: Error) => void;
}

/**
 * Wraps a Workers module handler object ({fetch, scheduled, queue, ...}).
 * Each of fetch, scheduled and queue that is present catches a trap, records
 * its dump (with the request for fetch; the cron/scheduledTime for scheduled;
 * the queue name and message count for queue) and rethrows the same error.
 * Other properties pass through.
 */
export function withCoredumps<Env, H extends object>(handler: H, options: WrapOptions<Env>): H;
